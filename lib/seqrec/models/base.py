"""What evaluation and the next-item objectives ask of every encoder, for encoders whose scores are tied to the
item embedding: ``encode(seq) -> (B, L, d)`` is the encoder's own; ``predict``, ``score`` and ``item_vectors``
are shared here.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TiedItemScores(nn.Module):
    """Scores are dot products of hidden states with ``item_emb`` (no bias); the next item is read at the last slot.

    Subclasses define ``item_emb`` (row 0 = padding) and ``encode``.
    """

    item_emb: nn.Embedding
    needs_users = False  # evaluation calls predict(seq); a model with user embeddings (Caser) takes predict(seq, users)

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, seq: torch.Tensor) -> torch.Tensor:
        """Item ids (B, L) -> fp32 scores (B, n_items + 1) of every item as the next one: what evaluation ranks."""
        hidden = self.last_hidden(seq)
        with torch.autocast(seq.device.type, enabled=False):  # bf16 scores tie; the ranking needs fp32
            return self.score(hidden.float())

    def last_hidden(self, seq: torch.Tensor) -> torch.Tensor:
        """Item ids (B, L) -> (B, d), the hidden state at the last slot (rows are left-padded: it holds each row's
        latest item). Encoders that can compute that slot alone override this."""
        return self.encode(seq)[:, -1]

    def score(self, hidden: torch.Tensor, first_item: int = 0) -> torch.Tensor:
        """Hidden states (..., d) -> scores of item ids first_item..n_items (column 0 = padding by default).

        ``first_item=1`` skips padding without copying a sliced score matrix (25% faster CE on CPU).
        """
        return F.linear(hidden, self.item_emb.weight[first_item:])

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        return self.item_emb(items)
