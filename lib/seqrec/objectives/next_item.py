"""Next-item prediction at every non-padding position of the training sequence."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data import length_passes
from .base import Objective, TrainBatch, TrainingRows

# Passes per random batch (bucket=False): 4 equal parts made a Beauty step 3.1x faster than one padded pass (8 and
# 16 were no faster); the parts are now cut where they leave the fewest padding slots (data.length_passes).
RANDOM_BATCH_CHUNKS = 4


def batch_passes(samples: np.ndarray, lengths: np.ndarray, bucket: bool) -> list[np.ndarray]:
    """The passes of one batch: the batch itself when length-bucketed, else its samples sorted by ``lengths`` and
    cut into at most RANDOM_BATCH_CHUNKS runs (``data.length_passes``; each pass is trimmed to its longest sample)."""
    if bucket:
        return [samples]
    return length_passes(samples, lengths, RANDOM_BATCH_CHUNKS)


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


LOSSES = {"bce": next_item_bce, "ce": next_item_ce}


class NextItem(Objective):
    """``loss`` ("bce" or "ce") summed over positions / (batch size x mean target positions per user).

    A length-bucketed batch is one trimmed pass. A random batch (``bucket=False``, the original code's batches)
    is computed in RANDOM_BATCH_CHUNKS passes over its users sorted by length, each trimmed to its longest
    row: padding keys are masked, so every real position gets the output it gets in the batch padded to
    max_len, and the summed loss (hence the gradient and the Adam step) is that batch's, about 3x faster.
    """

    def __init__(self, loss: str = "bce", bucket: bool = True):
        super().__init__()
        self.loss, self.bucket = LOSSES[loss], bucket
        self.needs_negatives = loss == "bce"

    def make_batch(self, rows: TrainingRows, users: np.ndarray) -> list[TrainBatch]:
        normalizer = len(users) * rows.positions_per_user
        return [rows.next_item_batch(p, normalizer, self.needs_negatives)
                for p in batch_passes(users, rows.lengths, self.bucket)]

    def next_item_loss(self, model, passes: list[TrainBatch]) -> torch.Tensor:
        return sum(self.loss(model, batch) for batch in passes)

    def forward(self, model, batch: list[TrainBatch]) -> dict[str, torch.Tensor]:
        return {"next_item": self.next_item_loss(model, batch)}
