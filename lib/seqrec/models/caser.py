"""Caser (Tang & Wang, "Personalized Top-N Sequential Recommendation via Convolutional Sequence Embedding", WSDM 2018;
code: github.com/graytowne/caser_pytorch) on the shared Trainer.

A user's last L items form an "image" E (L x d). Horizontal filters of every height h in 1..L (n_h each, full width
d, ReLU) are max-pooled over their positions: L * n_h union-level and point-level patterns. Vertical filters (n_v,
size L x 1, no activation) are weighted sums of the L rows: n_v * d features. Both are concatenated, dropped out
and mapped to z (d, ReLU); the output is y = W' [z; P_u] + b' over all items, with P_u the user's embedding (the
general preference), W' an item matrix of width 2d of its own (not tied to the input embedding) and b' an item
bias. Unlike the SASRec family, Caser has one output per sequence: ``encode(seq, users) -> (B, 2d)``. It is
trained by seqrec.objectives.caser (windows of L items and their next T items) and declares ``needs_users``, so
that evaluation passes the user ids to ``predict(seq, users)``.

Settings (seqrec.config.original_settings): d 50, L 5, T 3, n_h 16, n_v 4, dropout 0.5, Adam lr 1e-3, L2 1e-6,
batch 512, 3 negatives per target (the paper and train_caser.py). Initialisation as the authors' code: item and
user embeddings from N(0, (1/d)^2), W' from N(0, (1/2d)^2), b' = 0; convolutions and the fully connected layer
keep torch's default (uniform within 1/sqrt(fan_in), the same bounds as the original's).

Deviations from the original (for the book's deviations page):
- Inputs narrower than L (evaluation trims a batch to its longest user) are left-padded with the padding id, as a
  short user's training window is; inputs wider than L are cut to their last L items. The original stores each
  user's last L items once.
- Dropout draws its masks with seqrec.models.sasrec.Dropout (the same distribution as nn.Dropout).
- Training data, negatives and loss: see seqrec.objectives.caser.
As in the original, the padding id 0 has a trained input embedding (no padding_idx): a short window's padding rows
enter the convolutions like items.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .sasrec import Dropout


def last_items(seq: torch.Tensor, L: int) -> torch.Tensor:
    """Item ids (B, W), left-padded -> (B, L): the last L columns, left-padded with 0 when W < L."""
    if seq.dim() != 2:
        raise ValueError(f"Caser takes item ids of shape (B, W), got shape {tuple(seq.shape)}")
    return seq[:, -L:] if seq.shape[1] >= L else F.pad(seq, (L - seq.shape[1], 0))


class Caser(nn.Module):
    """Horizontal and vertical convolutions over the last L item embeddings, plus a user embedding."""

    needs_users = True  # evaluation passes user ids to predict

    def __init__(self, *, n_items: int, n_users: int, d_model: int = 50, L: int = 5, n_h: int = 16, n_v: int = 4,
                 dropout: float = 0.5):
        super().__init__()
        if min(n_items, n_users, d_model, L) < 1 or min(n_h, n_v) < 0 or n_h + n_v == 0:
            raise ValueError(f"Caser needs n_items, n_users, d_model, L >= 1 and n_h + n_v >= 1 filters, got "
                             f"{n_items}, {n_users}, {d_model}, {L}, n_h={n_h}, n_v={n_v}")
        self.n_items, self.L, self.n_h, self.n_v = n_items, L, n_h, n_v
        self.item_emb = nn.Embedding(n_items + 1, d_model)  # row 0 = padding, trained as in the original
        self.user_emb = nn.Embedding(n_users, d_model)
        self.horizontal = nn.ModuleList(nn.Conv2d(1, n_h, (h, d_model)) for h in range(1, L + 1)) if n_h else None
        self.vertical = nn.Conv2d(1, n_v, (L, 1)) if n_v else None
        self.drop = Dropout(dropout)
        self.fc = nn.Linear(n_v * d_model + n_h * L, d_model)
        self.output = nn.Embedding(n_items + 1, 2 * d_model)  # W' (column 0, padding, is never ranked)
        self.output_bias = nn.Parameter(torch.zeros(n_items + 1))  # b'
        nn.init.normal_(self.item_emb.weight, std=1.0 / d_model)
        nn.init.normal_(self.user_emb.weight, std=1.0 / d_model)
        nn.init.normal_(self.output.weight, std=1.0 / (2 * d_model))

    def conv_features(self, seq: torch.Tensor) -> torch.Tensor:
        """Item ids (B, W) -> the concatenated vertical and horizontal features (B, n_v * d + L * n_h)."""
        image = self.item_emb(last_items(seq, self.L)).unsqueeze(1)  # (B, 1, L, d)
        features = []
        if self.vertical is not None:
            features.append(self.vertical(image).flatten(1))  # (B, n_v, 1, d) -> (B, n_v * d)
        if self.horizontal is not None:
            for conv in self.horizontal:  # (B, n_h, L - h + 1, 1): ReLU, then max over the positions
                features.append(F.relu(conv(image)).squeeze(3).amax(2))  # (B, n_h)
        return torch.cat(features, 1)

    def encode(self, seq: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        """Item ids (B, W) and user ids (B,) -> one output per sequence, [z; P_u] (B, 2d)."""
        z = F.relu(self.fc(self.drop(self.conv_features(seq))))  # (B, d)
        return torch.cat([z, self.user_emb(users).to(z.dtype)], 1)

    def score(self, hidden: torch.Tensor, first_item: int = 0) -> torch.Tensor:
        """Outputs (..., 2d) -> scores W' x + b' of item ids first_item..n_items."""
        return F.linear(hidden, self.output.weight[first_item:], self.output_bias[first_item:])

    def item_scores(self, hidden: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Outputs (B, 2d) and item ids (B, K) -> their scores (B, K), without scoring every item."""
        return torch.einsum("bd,bkd->bk", hidden, self.output(items)) + self.output_bias[items]

    def predict(self, seq: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        """Item ids (B, W) and user ids (B,) -> fp32 scores (B, n_items + 1) of every item from the last L items."""
        hidden = self.encode(seq, users)
        with torch.autocast(seq.device.type, enabled=False):  # bf16 scores tie; the ranking needs fp32
            return self.score(hidden.float())
