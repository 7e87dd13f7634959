"""SASRec (Kang & McAuley, ICDM 2018) as implemented in the S3Rec code family that SRMA, SAMRec and
CoSeRec build on (github.com/aHuiWang/CIKM2020-S3Rec; REFERENCE.md section 0).

Differences from Kang & McAuley's original that this family has, and we keep: post-LN blocks
LN(x + Dropout(Sublayer(x))), LayerNorm on the embedding sum, GELU (erf form), N(0, 0.02) init,
scores tied to the item embedding without a bias, an additive -10000 attention mask.

Positions are right-aligned: the last input slot always gets position max_len - 1. A batch trimmed
to width w < max_len therefore computes exactly what the full left-padded width would compute.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import TiedItemScores

MASK_VALUE = -10000.0  # the family's additive mask; finite so fully masked (padding) rows stay finite
LN_EPS = 1e-12
_BIT_SHIFTS: dict[torch.device, torch.Tensor] = {}


def keep_mask(shape: torch.Size, p: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Inverted-dropout multipliers: 1 / (1 - p) with probability 1 - p, else 0, drawn from torch's generator.

    The same distribution as torch's dropout, drawn faster on the CPU: for p = 0.5 every random byte gives eight
    fair bits (18x faster than F.dropout's bernoulli_ on 1.6M elements, one thread); otherwise uniform floats are
    compared with p (4.7x faster).
    """
    n = shape.numel()
    if p == 0.5:
        shifts = _BIT_SHIFTS.setdefault(device, torch.arange(8, dtype=torch.uint8, device=device))
        random_bytes = torch.randint(0, 256, ((n + 7) // 8, 1), dtype=torch.uint8, device=device)
        keep = ((random_bytes >> shifts) & 1).view(-1)[:n].view(shape)
    else:
        keep = torch.rand(shape, device=device) >= p
    return keep.to(dtype) * (1.0 / (1.0 - p))


class Dropout(nn.Module):
    """Dropout with ``keep_mask``'s faster draws; identity in eval mode or when p = 0."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * keep_mask(x.shape, self.p, x.device, x.dtype)


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float, attn_dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.attn_drop = Dropout(attn_dropout)
        self.drop = Dropout(dropout)
        self.norm = nn.LayerNorm(d_model, eps=LN_EPS)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """(B, L, d) -> (B, L, d); with ``last_only``, (B, 1, d): the last slot's output alone (the keys and values
        of every slot, the query, output projection and residual of the last slot only)."""
        B, L, D = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)  # 3x (B, H, L, Dh)
        if last_only:
            q, mask, x = q[:, :, -1:], mask[:, :, -1:], x[:, -1:]
        # the written-out softmax where dropout acts on the probabilities, and in training under CPU bf16 autocast,
        # where the fused kernel's backward runs about 5x slower than these matrix products (measured on SRMA)
        if self.training and (self.attn_drop.p > 0 or (x.device.type == "cpu" and torch.is_autocast_enabled("cpu"))):
            context = self.attend_with_dropout(q, k, v, mask)
        else:  # fused kernel; same result (tested)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, L, Dh)
        context = context.transpose(1, 2).reshape(B, q.shape[2], D)
        return self.norm(x + self.drop(self.out(context)))

    def attend_with_dropout(self, q, k, v, mask) -> torch.Tensor:
        """softmax(q k^T / sqrt(d) + mask) v with dropout on the probabilities (what SDPA's math path computes).

        Under bf16 autocast q k^T is a bf16 product like any other, but the mask is added and the softmax taken in
        fp32: near -10000 bf16 steps by 64, so a padding slot's row (every key masked alike) would lose its q k^T and
        attend uniformly, changing the family's flat representation. Without autocast: one fused baddbmm, as ever."""
        context_shape = (*q.shape[:3], v.shape[-1])  # (B, H, queries, Dh)
        mask = mask.expand(-1, q.shape[1], q.shape[2], -1).reshape(-1, q.shape[2], k.shape[2])
        q, k = q.flatten(0, 1), k.flatten(0, 1).transpose(1, 2)
        if torch.is_autocast_enabled(q.device.type):
            scores = torch.bmm(q, k)  # the autocast dtype
            with torch.autocast(q.device.type, enabled=False):
                probs = torch.softmax(scores.float() * q.shape[-1] ** -0.5 + mask.float(), dim=-1)
        else:
            probs = torch.softmax(torch.baddbmm(mask, q, k, alpha=q.shape[-1] ** -0.5), dim=-1)
        return torch.bmm(self.attn_drop(probs).to(v.dtype), v.flatten(0, 1)).view(context_shape)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, dropout: float):
        super().__init__()
        self.inner = nn.Linear(d_model, 4 * d_model)
        self.outer = nn.Linear(4 * d_model, d_model)
        self.drop = Dropout(dropout)
        self.norm = nn.LayerNorm(d_model, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.drop(self.outer(F.gelu(self.inner(x)))))


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float, attn_dropout: float):
        super().__init__()
        self.attention = SelfAttention(d_model, n_heads, dropout, attn_dropout)
        self.feed_forward = FeedForward(d_model, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        return self.feed_forward(self.attention(x, mask, last_only))


class SASRec(TiedItemScores):
    """Causal Transformer encoder over left-padded item ids; scores tied to the item embedding."""

    def __init__(self, *, n_items: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 2,
                 dropout: float = 0.5, attn_dropout: float = 0.5, max_len: int = 50, mask_token: bool = False):
        super().__init__()
        self.max_len, self.n_items = max_len, n_items
        # ``mask_token`` adds row n_items + 1 for masked-item pre-training (S3Rec); like the family, we rank it too
        self.mask_id = n_items + 1 if mask_token else None
        self.item_emb = nn.Embedding(n_items + 1 + int(mask_token), d_model, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.emb_norm = nn.LayerNorm(d_model, eps=LN_EPS)
        self.emb_drop = Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, dropout, attn_dropout) for _ in range(n_layers))
        self.apply(_init_weights)

    def attention_mask(self, seq: torch.Tensor, causal: bool = True) -> torch.Tensor:
        """(B, 1, L, L) additive mask: a query sees non-padding keys, only earlier-or-same ones when ``causal``."""
        L = seq.shape[1]
        allowed = (seq > 0)[:, None, None, :]
        if causal:
            allowed = allowed & torch.ones(L, L, dtype=torch.bool, device=seq.device).tril()
        return torch.zeros(allowed.shape, device=seq.device).masked_fill(~allowed, MASK_VALUE)

    def encode(self, seq: torch.Tensor, causal: bool = True, last_only: bool = False) -> torch.Tensor:
        """Item ids (B, L), L <= max_len, left-padded with 0 -> hidden states (B, L, d).

        ``causal=False`` lets every slot see the whole row (S3Rec's bidirectional pre-training). ``last_only``
        returns (B, 1, d), the last slot alone, computing the last block for that slot only: what evaluation and
        S3Rec's segment prediction read, at about half the cost of a 2-layer encoder's full output.
        """
        L = seq.shape[1]
        if L > self.max_len:
            raise ValueError(f"sequence width {L} exceeds max_len={self.max_len}")
        positions = torch.arange(self.max_len - L, self.max_len, device=seq.device)
        x = self.emb_drop(self.emb_norm(self.item_emb(seq) + self.pos_emb(positions)))
        mask = self.attention_mask(seq, causal)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, last_only and i == len(self.blocks) - 1)
        return x

    def last_hidden(self, seq: torch.Tensor) -> torch.Tensor:
        return self.encode(seq, last_only=True)[:, -1]


def _init_weights(module: nn.Module) -> None:
    # The family draws every Linear and Embedding weight from N(0, 0.02), the padding row included.
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
