"""Caser's training samples and loss (Tang & Wang, WSDM 2018, section 3.4; github.com/graytowne/caser_pytorch,
interactions.py and train_caser.py).

Samples: every window of L consecutive items of a user's training items s[0..n-3] followed by its next T items is
one sample (user, L inputs, T targets): the validation and test items are never inside a window. A user with fewer
than L + T training items gives one window, left-padded to L + T with the padding id (as the original's sliding
window): its input may then be shorter than L, or, with at most T training items, all padding (the user embedding
still predicts). Users without a training row (fewer than 2 training items, or past ``train_fraction``) give none.

Loss: each sample has one output vector (Caser's [z; P_u]); each real target is scored against ``negatives``
items drawn uniformly outside the user's training items (seqrec.data.NegativeSampler, as the original's candidate
set "all items minus the user's"), fresh every epoch. Binary cross-entropy
-log sigmoid(y_target) - mean over its negatives of log(1 - sigmoid(y_negative)), averaged over the batch's real
targets: when every target is real this is exactly the original's -mean log sigmoid(y_pos) - mean log(1 -
sigmoid(y_neg)) over the batch's T targets and T x negatives draws.

Deviations from the authors' code (for the book's deviations page):
- A padding target (a user with fewer than T + 1 training items) is not trained on, and neither are the negatives
  drawn for it; the original trains the padding id as a positive there.
- The original draws the T x negatives negatives of a sample independently of its targets; we draw ``negatives``
  per target (the same uniform draws, grouped). Its candidates exclude every training item of the user, as ours do
  (s[0..n-3]); validation and test items are candidates in both.
- The windows are fixed, their batches drawn at random every epoch (the original shuffles the windows once per
  epoch and slices batches): the same distribution of batches.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import CaserConfig
from ..data import Dataset, left_padded, split
from .base import Objective, TrainingRows, check_same_dataset


@dataclass
class CaserBatch:
    users: torch.Tensor  # (B,) user ids (rows of the split)
    inputs: torch.Tensor  # (B, L) item ids, left-padded
    targets: torch.Tensor  # (B, T) the next T items; 0 where the window is padding (no target)
    negatives: torch.Tensor  # (B, T, negatives) sampled items per target; 0 where the target is padding


class CaserWindows(Objective):
    """Windows of L items and their next T items with sampled negatives; ``forward`` needs a Caser of the same L."""

    def __init__(self, settings: CaserConfig, dataset: Dataset):
        super().__init__()
        settings.check()
        self.settings, self.width = settings, settings.L + settings.T
        self.dataset_checksum, self.n_users = dataset.checksum, dataset.n_users
        self.items = dataset.items
        self.starts, ends = split(dataset, settings.L).training_items_range()
        self._build_sample_table(ends)

    def _build_sample_table(self, ends: np.ndarray) -> None:
        """Every window as (user, end): its L + T items are items[end - L - T:end], clipped at the user's start."""
        n = ends - self.starts
        counts = np.where(n >= 2, np.maximum(n - self.width + 1, 1), 0)  # 2 items: one input and one target
        first = np.cumsum(counts) - counts
        self.sample_user = np.repeat(np.arange(len(n)), counts)
        # a user's windows end at ends, ends - 1, ... (latest first), each one item earlier than the previous
        self.sample_end = np.repeat(ends, counts) - (np.arange(counts.sum()) - np.repeat(first, counts))

    def _check_rows(self, rows: TrainingRows) -> None:
        check_same_dataset(rows, self.dataset_checksum, self.n_users)

    def sample_lengths(self, rows: TrainingRows) -> np.ndarray:
        """L + T for every window (all are that wide, so every batch is a random one); 0 for the windows of users
        without a training row (``train_fraction``)."""
        self._check_rows(rows)
        return np.where(rows.lengths[self.sample_user] > 0, self.width, 0)

    def windows(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users (B,), inputs (B, L), targets (B, T)) of the sample indices, left-padded with 0."""
        samples = np.asarray(samples, dtype=np.int64)
        if samples.ndim != 1 or len(samples) == 0:
            raise ValueError(f"samples must be a non-empty 1-d array of window indices, got shape {samples.shape}")
        users = self.sample_user[samples]
        items = left_padded(self.items, self.starts[users], self.sample_end[samples], self.width)  # (B, L + T)
        return users, items[:, :self.settings.L], items[:, self.settings.L:]

    def make_batch(self, rows: TrainingRows, samples: np.ndarray) -> CaserBatch:
        self._check_rows(rows)
        users, inputs, targets = self.windows(samples)
        owners = np.broadcast_to(users[:, None, None], (*targets.shape, self.settings.negatives))
        negatives = rows.sampler.sample(owners, rows.rng) * (targets > 0)[:, :, None]
        return CaserBatch(*(rows.tensor(a) for a in (users, inputs, targets, negatives)))

    def forward(self, model: nn.Module, batch: CaserBatch) -> dict[str, torch.Tensor]:
        if getattr(model, "L", None) != self.settings.L:
            raise ValueError(f"the Caser objective feeds windows of L={self.settings.L} items: it needs a Caser "
                             f"built with the same L, not {type(model).__name__} (L={getattr(model, 'L', None)})")
        return {"caser": window_bce(model, batch)}


def window_bce(model: nn.Module, batch: CaserBatch) -> torch.Tensor:
    """Mean over the real targets of -log sigmoid(y_target) - mean over its negatives of log(1 - sigmoid(y_neg))."""
    hidden = model.encode(batch.inputs, batch.users)  # (B, 2d): one output per sample
    B, T, n = batch.negatives.shape
    items = torch.cat([batch.targets[:, :, None], batch.negatives], 2)  # (B, T, 1 + negatives)
    scores = model.item_scores(hidden, items.view(B, -1)).float().view(B, T, 1 + n)
    per_target = -(F.logsigmoid(scores[..., 0]) + F.logsigmoid(-scores[..., 1:]).mean(-1))  # (B, T)
    real = batch.targets > 0
    return per_target[real].sum() / real.sum().clamp(min=1)
