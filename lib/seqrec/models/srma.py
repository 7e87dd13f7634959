"""SRMA's encoder (Liu et al., "Improving Contrastive Learning with Model Augmentation", arXiv 2203.15508; code:
github.com/salesforce/SRMA at 879fc79; REFERENCE.md sections 2 and 6): SASRec followed by K extra layers.

Model augmentation lives here; the views, losses and complement encoder are seqrec.objectives.srma.

- Layer dropping: K extra layers after the Transformer blocks, each the code's default 'single' layer,
  Linear(d, d) -> GELU -> dropout -> LN(out + input). ``encode(seq, keep)`` applies the layers ``keep`` selects;
  without ``keep`` (validation and test) it applies all K, unscaled (the code's inference), or none with
  ``inference_layers="none"`` (the extra layers then only make the contrastive views). Which layers a training
  forward skips is drawn by the objective (``draw_kept``), so that one draw can serve several passes.
- Neuron masking: dropout with p = ``dropout``. ``neuron_masking="ffn"`` (the paper, section 4.1: p on the FFN
  layers) keeps it in the FFN sub-layers and the extra layers (the paper's "K FFN layers") and switches the
  embedding, attention-output and attention-probability dropout off; ``"all"`` (the code) uses p for every hidden
  dropout and ``attn_dropout`` for the attention probabilities.

Deviation: the code's other extra-layer types ('inter', 'sasrec') are not implemented.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .sasrec import LN_EPS, SASRec, Dropout, _init_weights


class ExtraLayer(nn.Module):
    """The code's 'single' layer: LN(x + Dropout(GELU(Linear(x)))), position-wise."""

    def __init__(self, d_model: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(d_model, d_model)
        self.drop = Dropout(dropout)
        self.norm = nn.LayerNorm(d_model, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.drop(F.gelu(self.dense(x))))


class SRMAEncoder(SASRec):
    """SASRec plus ``extra_layers`` extra layers; ``neuron_masking`` "ffn" (paper) or "all" (code), see the module."""

    def __init__(self, *, extra_layers: int = 2, neuron_masking: str = "ffn", inference_layers: str = "all", **sasrec):
        super().__init__(**sasrec)
        if inference_layers not in ("all", "none"):
            raise ValueError(f"inference_layers={inference_layers!r}: 'all' or 'none'")
        self.inference_layers = inference_layers
        d_model, dropout = self.item_emb.embedding_dim, sasrec.get("dropout", 0.5)
        self.extra = nn.ModuleList(ExtraLayer(d_model, dropout) for _ in range(extra_layers))
        self.extra.apply(_init_weights)
        if neuron_masking == "ffn":
            self.emb_drop.p = 0.0
            for block in self.blocks:
                block.attention.drop.p = block.attention.attn_drop.p = 0.0
        elif neuron_masking != "all":
            raise ValueError(f"neuron_masking={neuron_masking!r}: 'ffn' or 'all'")

    def draw_kept(self, drop: int) -> torch.Tensor:
        """(K,) bool: the extra layers a training forward applies, all but ``drop`` drawn uniformly (torch's RNG)."""
        kept = torch.ones(len(self.extra), dtype=torch.bool)
        kept[torch.randperm(len(self.extra))[:drop]] = False
        return kept

    def encode(self, seq: torch.Tensor, causal: bool = True, keep: torch.Tensor | None = None,
               last_only: bool = False) -> torch.Tensor:
        """Item ids (B, L) -> (B, L, d) through the blocks and the extra layers ``keep`` selects (all by default).

        ``keep``: (K,) bool for the whole batch, or (B, K) bool per row; None: all of them, or none with
        ``inference_layers="none"``. ``last_only`` as SASRec's (the extra layers act slot by slot).
        """
        if keep is None and self.inference_layers == "none":
            return super().encode(seq, causal, last_only)
        return self.extra_layers(super().encode(seq, causal, last_only), keep)

    def extra_layers(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states (B, L, d) through the extra layers ``keep`` selects (as ``encode``)."""
        for i, layer in enumerate(self.extra):
            kept = None if keep is None else keep[..., i]
            if kept is None or kept.all():
                x = layer(x)
            elif kept.any():  # rows that skip this layer keep their input (views with independent draws)
                x = torch.where(kept.to(x.device).view(-1, 1, 1), layer(x), x)
        return x
