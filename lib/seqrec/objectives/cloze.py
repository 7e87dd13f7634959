"""BERT4Rec's cloze (masked-item) training (Sun et al., CIKM 2019, section 3.6; github.com/FeiSun/BERT4Rec,
gen_data_fin.py).

A sample is a user's training items s[0..n-3] (their last max_len), left-padded: the training input plus its last
target, so the validation and test items stay unseen. Each item becomes the mask token with probability mask_p;
a sample in which no item was drawn gets one, chosen uniformly. A share last_item_share of the samples has only
its last item masked instead: the paper's samples that "only mask the last item in the input sequences during
training", which match how the model is asked at inference (a mask token after the items). The loss is the
cross-entropy over all items (padding and the mask token are no classes) at every masked position, summed and
divided by B x (expected masked positions per sample): as in NextItem, a masked position then weighs the same
in every batch, length-bucketed or random (in random batches this is close to the original's mean over the
batch's masked positions).

Deviations from the authors' code (for the book's deviations page):
- It masks exactly max(1, round(mask_p * n)) items of a sample (at most max_predictions_per_seq, 30 on Beauty);
  we draw each item independently, at least one per sample: the same proportion on average.
- It builds the training set once: for every sequence 10 randomly masked copies (dupe_factor) and one with its
  last item masked, sequences longer than max_len cut into windows every 0.1 max_len items. We draw fresh masks
  every epoch, one sample per user, from the user's last max_len training items (older items are not trained on).
- Its training sequences end with the validation item ("put validate into train"): it selects no epoch on
  validation. Ours end before it, since the shared Trainer selects the epoch on validation.
- It trains 400,000 steps of 256 samples with BERT's optimisation code (lr 1e-4, 100 warm-up steps; about 4,600 of
  our one-sample-per-user epochs on Beauty); we train with the shared Trainer's Adam and early stopping.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..config import ClozeConfig
from ..data import left_padded
from .base import Objective, TrainingRows
from .full_softmax import full_softmax_cross_entropy
from .next_item import batch_passes


@dataclass
class ClozeBatch:
    inputs: torch.Tensor  # (B, W) the samples, left-padded, their masked items replaced by the mask token
    labels: torch.Tensor  # (B, W) the masked items' ids; 0 where nothing is masked
    normalizer: float  # B x expected masked positions per sample: divides the summed cross-entropy


class Cloze(Objective):
    """Cross-entropy of the masked items over all items; ``forward`` needs a BERT4Rec of the same item count."""

    def __init__(self, settings: ClozeConfig, n_items: int, bucket: bool = True):
        super().__init__()
        settings.check()
        self.settings, self.mask_id, self.bucket = settings, n_items + 1, bucket

    def sample_lengths(self, rows: TrainingRows) -> np.ndarray:
        """Length of each user's sample (training items, at most max_len); 0 for users without a training row."""
        starts, ends = rows.split.training_items_range()
        return np.where(rows.lengths > 0, np.clip(ends - starts, 0, rows.split.max_len), 0)

    def expected_masked(self, lengths: np.ndarray) -> np.ndarray:
        """Expected number of masked items of samples of these lengths (>= 1)."""
        p, last_only = self.settings.mask_p, self.settings.last_item_share
        drawn = lengths * p + (1 - p) ** lengths  # the draws, plus the one item forced when none was drawn
        return last_only + (1 - last_only) * drawn

    def make_batch(self, rows: TrainingRows, users: np.ndarray) -> list[ClozeBatch]:
        """One trimmed pass of a length-bucketed batch, or a random batch's length-sorted trimmed passes."""
        lengths = self.sample_lengths(rows)
        normalizer = len(users) * float(self.expected_masked(lengths[lengths > 0]).mean())
        starts, ends = rows.split.training_items_range()
        passes = []
        for part in batch_passes(users, lengths, self.bucket):
            items = left_padded(rows.split.dataset.items, starts[part], ends[part], int(lengths[part].max()))
            masked = self.draw_masks(items, rows.rng)
            passes.append(ClozeBatch(rows.tensor(np.where(masked, self.mask_id, items)),
                                     rows.tensor(np.where(masked, items, 0)), normalizer))
        return passes

    def draw_masks(self, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B, W) bool: which items of each left-padded sample to mask (module docstring)."""
        if items.ndim != 2 or not (items > 0).any(1).all():
            raise ValueError(f"samples must be a (B, W) array with at least one item per row, got shape {items.shape}")
        real = items > 0
        masked = (rng.random(items.shape) < self.settings.mask_p) & real
        n_real, width = real.sum(1), items.shape[1]
        # one uniformly chosen item where none was drawn; a row's items fill its last n_real columns
        forced = width - 1 - (rng.random(len(items)) * n_real).astype(np.int64)
        none = ~masked.any(1)
        masked[none, forced[none]] = True
        last_only = rng.random(len(items)) < self.settings.last_item_share
        masked[last_only] = False
        masked[last_only, -1] = True  # right-aligned: the last column holds every sample's last item
        return masked

    def forward(self, model: nn.Module, passes: list[ClozeBatch]) -> dict[str, torch.Tensor]:
        return {"cloze": sum(self.pass_loss(model, batch) for batch in passes)}

    def pass_loss(self, model: nn.Module, batch: ClozeBatch) -> torch.Tensor:
        """Summed cross-entropy of the masked items over items 1..n_items, over the batch's normalizer."""
        if getattr(model, "mask_id", None) != self.mask_id:
            raise ValueError(f"the cloze objective feeds mask token {self.mask_id} (n_items + 1): it needs a "
                             f"BERT4Rec built for the same item count, not a model with mask_id="
                             f"{getattr(model, 'mask_id', None)}")
        masked = batch.labels > 0
        hidden = model.encode(batch.inputs, causal=False)[masked]  # (N, d)
        # classes: items 1..n_items (padding and the mask token are none)
        output_layer = model.output_layer(hidden, first_item=1)
        return full_softmax_cross_entropy(*output_layer, batch.labels[masked] - 1) / batch.normalizer
