"""CL4SRec (Xie et al., ICDE 2022) as the CoSeRec/ICLRec/SRMA code runs it (REFERENCE.md section 1):
next-item loss + weight x NT-Xent between two augmented views of each user's training input, with the other
2B - 2 views of the batch as negatives, dot-product similarity at temperature tau, no projection head.

The representation of a view is, by default, the family's: all max_len encoder outputs flattened (50 x 64 = 3200
numbers), padding slots included. Under the family's additive -10000 mask a leading padding slot masks every key
alike, so it attends to the whole row, later items included: those slots need the full-width pass. With
``representation="real_slots"`` only slots holding an item count, and a pass trimmed to the longest view suffices.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import augment
from ..config import ContrastConfig
from .base import TrainBatch, TrainingRows
from .next_item import NextItem


@dataclass
class ContrastBatch:
    next_item: list[TrainBatch]  # the plain training rows, as NextItem takes them
    views: torch.Tensor  # (2B, width) item ids: first views of the B users, then their second views


def nt_xent(first: torch.Tensor, second: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean cross-entropy over the 2B rows of picking each view's partner among the other 2B - 1 views."""
    z = torch.cat([first, second]).float()
    logits = z @ z.T / tau
    logits.fill_diagonal_(float("-inf"))
    n = len(first)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, partner)


class CL4SRec(NextItem):
    def __init__(self, loss: str, bucket: bool, settings: ContrastConfig, max_len: int):
        super().__init__(loss, bucket)
        self.settings, self.max_len = settings, max_len

    def make_batch(self, rows: TrainingRows, users: np.ndarray) -> ContrastBatch:
        starts, ends = rows.split.input_range("train")
        s = self.settings
        views = [augment(rows.split.dataset.items, starts[users], ends[users], rows.rng, crop=s.crop, mask=s.mask,
                         reorder=s.reorder, width=self.max_len) for _ in range(2)]
        stacked = np.concatenate(views)
        if s.representation == "real_slots":  # trim the columns that are padding in every view
            stacked = stacked[:, int(np.argmax((stacked > 0).any(0))):]
        return ContrastBatch(super().make_batch(rows, users), rows.tensor(stacked))

    def representation(self, model, views: torch.Tensor) -> torch.Tensor:
        hidden = model.encode(views)  # (2B, width, d)
        if self.settings.representation == "real_slots":
            hidden = hidden * (views > 0).unsqueeze(-1)
        return hidden.flatten(1)

    def forward(self, model, batch: ContrastBatch) -> dict[str, torch.Tensor]:
        first, second = self.representation(model, batch.views).chunk(2)
        return {"next_item": self.next_item_loss(model, batch.next_item),
                "contrast": self.settings.weight * nt_xent(first, second, self.settings.tau)}
