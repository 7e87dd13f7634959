"""What every objective builds on: the training rows it draws batches from, and the Objective interface.

An objective decides what its batch holds (``make_batch``), computes its loss components from a batch
(``forward``: a dict of already weighted terms, summed by the Trainer and kept per epoch in the record), may own
parameters (heads: they join the optimizer and the checkpoint) and may act at epoch boundaries (``start_epoch``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..data import NegativeSampler, Split, trim


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


@dataclass
class TrainingRows:
    """The split's training rows (one per user, every position a target) and the run's RNG and device.

    ``train_fraction`` < 1 keeps the training rows of the first fraction of users (the code family's
    ``training_data_ratio``); the other users get no training row, while their validation and test inputs,
    which hold their whole history, stay as they are.
    """

    split: Split
    rng: np.random.Generator
    device: torch.device
    train_fraction: float = 1.0
    _sampler: NegativeSampler | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.inputs, self.targets = self.split.inputs("train"), self.split.train_targets()
        self.lengths = self.split.input_lengths("train").copy()
        self.lengths[int(round(self.train_fraction * len(self.lengths))):] = 0
        kept = self.lengths > 0
        self.positions_per_user = float((self.targets[kept] > 0).sum()) / max(int(kept.sum()), 1)

    @property
    def sampler(self) -> NegativeSampler:
        if self._sampler is None:
            self._sampler = NegativeSampler(self.split)
        return self._sampler

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def next_item_batch(self, users: np.ndarray, normalizer: float, negatives: bool) -> TrainBatch:
        """The users' training rows trimmed to the longest of them, with one sampled negative per target."""
        lengths = self.lengths[users]
        inputs, targets = trim(self.inputs[users], lengths), trim(self.targets[users], lengths)
        sampled = None
        if negatives:
            owners = np.broadcast_to(users[:, None], targets.shape)
            sampled = self.tensor(self.sampler.sample(owners, self.rng) * (targets > 0))
        return TrainBatch(self.tensor(inputs), self.tensor(targets), sampled, normalizer=normalizer)


def check_same_dataset(rows: TrainingRows, checksum: str, n_users: int) -> None:
    """An objective built from one dataset's tables (samples, attributes) refuses training rows of another."""
    dataset = rows.split.dataset
    if dataset.checksum != checksum or dataset.n_users != n_users:
        raise ValueError(f"these training rows are from dataset {dataset.name!r} ({dataset.checksum}, "
                         f"{dataset.n_users} users), not the one this objective was built for "
                         f"({checksum}, {n_users} users)")


class Objective(nn.Module):
    """A training signal. Subclasses implement ``make_batch`` and ``forward``; parameters they own are trained.

    An epoch visits every training sample once, in batches of samples of similar length (or random batches when
    the run sets ``bucket=False``). A sample is a user's training row unless the objective defines its own
    samples (S3Rec pre-trains on every prefix): ``sample_lengths`` gives their lengths, and ``make_batch``
    receives their indices.
    """

    def sample_lengths(self, rows: TrainingRows) -> np.ndarray:
        """Length of each training sample (0 = not trained on); by default one sample per user."""
        return rows.lengths

    def make_batch(self, rows: TrainingRows, samples: np.ndarray):
        raise NotImplementedError

    def forward(self, model: nn.Module, batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def start_epoch(self, epoch: int, model: nn.Module, rows: TrainingRows) -> None:
        """Called before each epoch (e.g. to refresh item similarities); nothing by default."""
