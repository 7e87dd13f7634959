"""BERT4Rec (Sun, Liu, Wu, Pei, Lin, Ou & Jiang, "BERT4Rec: Sequential Recommendation with Bidirectional Encoder
Representations from Transformer", CIKM 2019; code: github.com/FeiSun/BERT4Rec).

The SASRec family's Transformer (seqrec.models.sasrec: the same blocks, which are BERT's post-LN blocks) run
bidirectionally, with a mask token, trained by the cloze objective (seqrec.objectives.cloze). The output layer is
the paper's Eq. 7: P(v) = softmax(GELU(h W^P + b^P) E^T + b^O), E the item embedding (tied) and b^O a bias per
item. At inference the mask token is appended after the user's items and all items are scored at its slot.

REFERENCE.md section 1 recovers no BERT4Rec settings from the SRMA family; the paper's (and run_beauty.sh's) are in
seqrec.config.original_settings: d 64, 2 layers, 2 heads, dropout 0.1, mask proportion 0.6 on sparse Amazon
data (0.2 on ML-1M), Adam lr 1e-4, batch 256, max_len 50 (200 on ML-1M).

Deviations from the original (for the book's deviations page):
- The output transform of the authors' code (BERT's) also layer-normalises GELU(h W^P + b^P); Eq. 7 has no
  LayerNorm, and we follow the paper.
- GELU in its exact (erf) form, weights from N(0, 0.02) and the family's embedding LayerNorm eps (1e-12); the
  original's BERT code uses the tanh approximation and a truncated normal.
- Training data and optimiser: see seqrec.objectives.cloze.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .sasrec import SASRec, _init_weights


def append_mask(seq: torch.Tensor, mask_id: int, max_len: int) -> torch.Tensor:
    """Item ids (B, L) -> (B, min(L + 1, max_len)): a mask token after each row; at max_len the oldest slot goes."""
    kept = seq[:, 1:] if seq.shape[1] >= max_len else seq
    return torch.cat([kept, torch.full_like(seq[:, :1], mask_id)], dim=1)


class BERT4Rec(SASRec):
    """Bidirectional Transformer over left-padded item ids with a mask token (id n_items + 1) and Eq. 7's output."""

    def __init__(self, *, n_items: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 2,
                 dropout: float = 0.1, attn_dropout: float = 0.1, max_len: int = 50):
        super().__init__(n_items=n_items, d_model=d_model, n_layers=n_layers, n_heads=n_heads, dropout=dropout,
                         attn_dropout=attn_dropout, max_len=max_len, mask_token=True)
        self.projection = nn.Linear(d_model, d_model)  # W^P, b^P
        self.output_bias = nn.Parameter(torch.zeros(n_items + 1))  # b^O (column 0, padding, is never ranked)
        _init_weights(self.projection)

    def encode(self, seq: torch.Tensor, causal: bool = False, last_only: bool = False) -> torch.Tensor:
        """Item ids (B, L), left-padded, mask tokens allowed -> hidden states (B, L, d); every slot sees the row."""
        return super().encode(seq, causal, last_only)

    def score(self, hidden: torch.Tensor, first_item: int = 0) -> torch.Tensor:
        """Hidden states (..., d) -> scores of item ids first_item..n_items (Eq. 7 before the softmax).

        The mask token is an input, never a candidate: its embedding row is left out of the scores.
        """
        return F.linear(*self.output_layer(hidden, first_item))

    def output_layer(self, hidden: torch.Tensor, first_item: int = 0) -> tuple[torch.Tensor, ...]:
        """``score``'s last linear layer as (features GELU(h W^P + b^P), item embeddings E, biases b^O) of item ids
        first_item..n_items, for a loss that fuses it (seqrec.objectives.full_softmax)."""
        items = slice(first_item, self.n_items + 1)
        return F.gelu(self.projection(hidden)), self.item_emb.weight[items], self.output_bias[items]

    def predict(self, seq: torch.Tensor) -> torch.Tensor:
        """Item ids (B, L) -> fp32 scores (B, n_items + 1) of every item at a mask token appended after the row."""
        return super().predict(append_mask(seq, self.mask_id, self.max_len))
