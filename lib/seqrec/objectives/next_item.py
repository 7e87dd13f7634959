"""Next-item prediction at every non-padding position of the training sequence."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class TrainBatch:
    inputs: torch.Tensor  # (B, L) item ids, left-padded
    targets: torch.Tensor  # (B, L) next item at each position, 0 where the input is padding
    negatives: torch.Tensor | None = None  # (B, L) one sampled negative per position (BCE only)
    # Divides the summed per-position losses. The original code averages over the batch's target positions;
    # with random batches that count is nearly the same for every batch. Length-bucketed batches differ
    # wildly in it, so the trainer passes B x (mean target positions per user) instead: every position then
    # weighs what it weighs in the original code, whichever users share its batch.
    normalizer: float | None = None

    def reduce(self, losses: torch.Tensor) -> torch.Tensor:
        """Sum of per-position losses over ``normalizer`` (the plain mean when it is None)."""
        return losses.mean() if self.normalizer is None else losses.sum() / self.normalizer


def _target_states(model, batch: TrainBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states at target positions (N, d) and their target ids (N,)."""
    is_target = batch.targets > 0
    return model.encode(batch.inputs)[is_target], is_target


def next_item_bce(model, batch: TrainBatch) -> torch.Tensor:
    """Binary cross-entropy with one sampled negative per position (the SASRec family's loss)."""
    hidden, is_target = _target_states(model, batch)
    pos = (hidden * model.item_vectors(batch.targets[is_target])).sum(-1)
    neg = (hidden * model.item_vectors(batch.negatives[is_target])).sum(-1)
    return batch.reduce(-(F.logsigmoid(pos) + F.logsigmoid(-neg)))


def next_item_ce(model, batch: TrainBatch) -> torch.Tensor:
    """Cross-entropy over all items (padding column excluded)."""
    hidden, is_target = _target_states(model, batch)
    logits = model.score(hidden, first_item=1)  # (N, n_items): padding is not a class
    return batch.reduce(F.cross_entropy(logits.float(), batch.targets[is_target] - 1, reduction="none"))


next_item_bce.needs_negatives = True
next_item_ce.needs_negatives = False

OBJECTIVES = {"bce": next_item_bce, "ce": next_item_ce}
