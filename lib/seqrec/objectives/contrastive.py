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
from ..data import length_passes, trim
from .base import TrainBatch, TrainingRows
from .next_item import NextItem


# Views of a batch computed per pass with representation="real_slots": the views sorted by length and cut where the
# passes, each trimmed to its longest view, hold the fewest padding slots (as the next-item loss's random batches).
VIEW_CHUNKS = 4


@dataclass
class ContrastBatch:
    next_item: list[TrainBatch]  # the plain training rows, as NextItem takes them
    views: list[torch.Tensor]  # item ids of the 2B views (first views of the B users, then their second views),
    # in one full-width tensor ("flat"), or in length-sorted trimmed passes ("real_slots")
    order: torch.Tensor | None = None  # real_slots: the views' positions in the passes' concatenation


class _Gram(torch.autograd.Function):
    """z z^T with a one-product backward: d/dz = (G + G^T) z (autograd would compute G z and G^T z separately).

    Both products run in fp32 even under bf16 autocast (which reaches inside custom functions)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z)
        with torch.autocast(z.device.type, enabled=False):
            return z.float() @ z.float().T

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (z,) = ctx.saved_tensors
        with torch.autocast(z.device.type, enabled=False):
            return ((grad.float() + grad.float().T) @ z.float()).to(z.dtype)


def nt_xent(first: torch.Tensor, second: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean cross-entropy over the 2B rows of picking each view's partner among the other 2B - 1 views."""
    return nt_xent_of_gram(_Gram.apply(torch.cat([first, second]).float()), tau)


def nt_xent_of_gram(gram: torch.Tensor, tau: float) -> torch.Tensor:
    """``nt_xent`` from the views' (2B, 2B) dot products, rows and columns in order: first views, then second."""
    logits = gram / tau
    logits = logits.masked_fill(torch.eye(len(gram), dtype=torch.bool, device=gram.device), float("-inf"))
    n = len(gram) // 2
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(gram.device)
    return F.cross_entropy(logits, partner)


def real_slot_gram(outputs: list[torch.Tensor]) -> torch.Tensor:
    """The dot products of every pair of views from their passes' masked outputs [(n_a, w_a, d)], in the passes'
    order, in fp32: what the Gram matrix of the zero-padded, flattened views gives, computed per pair of passes over
    only the slots both have. Rows are right-aligned, so the other slots of the wider pass meet zeros: views of
    Beauty are mostly short, and a batch's Gram matrix costs several times less than at the longest view's width
    (it took a quarter of a real_slots step at full width)."""
    with torch.autocast(outputs[0].device.type, enabled=False):
        flat = [o.float().flatten(1) for o in outputs]
        d, n = outputs[0].shape[-1], len(flat)
        blocks = {}
        for a in range(n):
            for b in range(a, n):
                shared = min(outputs[a].shape[1], outputs[b].shape[1]) * d
                blocks[a, b] = flat[a][:, -shared:] @ flat[b][:, -shared:].T
        return torch.cat([torch.cat([blocks[a, b] if a <= b else blocks[b, a].T for b in range(n)], dim=1)
                          for a in range(n)])


class CL4SRec(NextItem):
    def __init__(self, loss: str, bucket: bool, settings: ContrastConfig, max_len: int):
        super().__init__(loss, bucket)
        self.settings, self.max_len = settings, max_len

    def draw_views(self, rows: TrainingRows, users: np.ndarray) -> np.ndarray:
        """(2B, max_len) item ids: a first augmented view of each user's training input, then a second one."""
        starts, ends = rows.split.input_range("train")
        s = self.settings
        return np.concatenate([augment(rows.split.dataset.items, starts[users], ends[users], rows.rng, crop=s.crop,
                                       mask=s.mask, reorder=s.reorder, width=self.max_len) for _ in range(2)])

    def make_batch(self, rows: TrainingRows, users: np.ndarray) -> ContrastBatch:
        s = self.settings
        views = self.draw_views(rows, users)
        if s.representation == "flat":
            return ContrastBatch(super().make_batch(rows, users), [rows.tensor(views)])
        lengths = self.max_len - np.argmax(views > 0, axis=1)  # from the first item on (a view is never empty)
        parts = length_passes(np.arange(len(views)), lengths, VIEW_CHUNKS)
        passes = [rows.tensor(trim(views[part], lengths[part])) for part in parts]
        order = torch.from_numpy(np.argsort(np.concatenate(parts), kind="stable")).to(rows.device)
        return ContrastBatch(super().make_batch(rows, users), passes, order)

    def pass_outputs(self, model, batch: ContrastBatch) -> list[torch.Tensor]:
        """real_slots: each pass's encoder outputs (n_a, w_a, d), zero at padding slots."""
        return [model.encode(v) * (v > 0).unsqueeze(-1) for v in batch.views]

    def representation(self, model, batch: ContrastBatch) -> torch.Tensor:
        """(2B, width x d): the views' encoder outputs, flattened; padding slots zero with "real_slots"."""
        if self.settings.representation == "flat":
            return model.encode(batch.views[0]).flatten(1)
        outputs = self.pass_outputs(model, batch)
        width = max(o.shape[1] for o in outputs)
        return torch.cat([F.pad(o, (0, 0, width - o.shape[1], 0)) for o in outputs])[batch.order].flatten(1)

    def contrast(self, model, batch: ContrastBatch) -> torch.Tensor:
        """NT-Xent between the views (real_slots: from ``real_slot_gram``, the same numbers, cheaper)."""
        if self.settings.representation == "flat":
            return nt_xent(*self.representation(model, batch).chunk(2), self.settings.tau)
        gram = real_slot_gram(self.pass_outputs(model, batch))
        return nt_xent_of_gram(gram[batch.order][:, batch.order], self.settings.tau)

    def forward(self, model, batch: ContrastBatch) -> dict[str, torch.Tensor]:
        contrast = self.contrast(model, batch)  # the views first: dropout draws in the order SRMA's forward makes them
        return {"next_item": self.next_item_loss(model, batch.next_item), "contrast": self.settings.weight * contrast}
