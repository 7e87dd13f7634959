"""S3Rec's self-supervised pre-training (Zhou et al., CIKM 2020), as github.com/aHuiWang/CIKM2020-S3Rec computes it
(``PretrainDataset`` and ``S3RecModel.pretrain``; REFERENCE.md section 1).

Samples: for each user sequence s, input = s[-(max_len+2):-2] (the last max_len items before the valid and test
items); every prefix input[:i+1] is one sample. Per sample, four losses, each summed over the batch:

- AAP (associated attribute prediction): BCE of sigmoid(aap(h_t) . A) against the attributes of the item at every
  unmasked position t, A the attribute embedding.
- MIP (masked item prediction): each item but the last is masked with probability mask_p, the last always; at a
  masked position -log sigmoid(sigmoid(mip(h_t) . e_pos) - sigmoid(mip(h_t) . e_neg)), one random negative.
- MAP (masked attribute prediction): AAP with its own head, at masked positions.
- SP (segment prediction): a random segment of the sample is masked; the context (last hidden state of the masked
  sample) must prefer the segment itself to a random window of the same length from all users' sequences, each
  shown alone among mask tokens: -log sigmoid(sigmoid(sp(c) . r_pos) - sigmoid(sp(c) . r_neg)).

The encoder attends bidirectionally with a key-padding mask. Deviations from the original code:
- the negative segments are drawn from the concatenation of every user's training items s[:-2]; the original
  concatenates whole sequences, so a user's valid and test items could appear in someone's negative segment;
- -log(p) is computed from logits (logsigmoid, softplus) instead of clamping log(p) at -100 as nn.BCELoss does;
  the values agree wherever the clamp is not hit;
- the three segment sequences of a batch go through the encoder in one pass instead of three, and its last block
  runs for the last slot only, the one SP reads (the same function; the dropout masks are drawn differently).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import S3RecConfig
from ..data import Dataset, left_padded, ragged_index
from .base import Objective, TrainingRows, check_same_dataset
from .next_item import batch_passes

HELD_OUT_ITEMS = 2  # the valid and test items at the end of every sequence; pre-training never sees them
HEADS = ("aap", "mip", "map", "sp")


@dataclass
class S3RecBatch:
    """One batch of prefix samples, every (B, W) array left-padded with 0 and trimmed to the longest sample."""

    masked_items: torch.Tensor  # (B, W) the sample with its MIP positions replaced by mask_id
    pos_items: torch.Tensor  # (B, W) the sample itself
    neg_items: torch.Tensor  # (B, W) a negative item at masked positions, the item itself elsewhere
    masked_segment: torch.Tensor  # (B, W) the sample with one segment replaced by mask_id
    pos_segment: torch.Tensor  # (B, W) that segment alone, mask_id elsewhere in the sample
    neg_segment: torch.Tensor  # (B, W) a random window of the long sequence in its place
    # The multi-hot attribute targets of pos_items, sparse: item pos_items[attr_rows[k], attr_cols[k]]
    # has attribute attr_ids[k] (each attribute of an item listed once).
    attr_rows: torch.Tensor
    attr_cols: torch.Tensor
    attr_ids: torch.Tensor


class S3RecPretraining(Objective):
    """AAP, MIP, MAP and SP, weighted by ``settings`` and summed over the batch (the Trainer adds the four).

    Owns the attribute embedding and the four task heads (Linear d -> d), which are trained and checkpointed
    with the objective. ``forward`` needs a SASRec built with ``mask_token=True``.
    """

    def __init__(self, settings: S3RecConfig, dataset: Dataset, d_model: int, max_len: int, bucket: bool = True):
        super().__init__()
        self.bucket = bucket  # False: the original's random batches, computed in length-sorted trimmed passes
        settings.check()
        if d_model < 1 or max_len < 1:
            raise ValueError(f"d_model={d_model} and max_len={max_len} must be >= 1")
        self.settings, self.max_len = settings, max_len
        self.dataset_checksum, self.n_users = dataset.checksum, dataset.n_users
        self.n_items, self.mask_id = dataset.n_items, dataset.n_items + 1
        self.items = dataset.items
        self._build_sample_table(dataset)
        self._build_attribute_table(dataset)
        # Row 0 (no attribute) is an always-negative class that is trained, as in the original: its padding_idx=0
        # has no effect there, since the weight matrix is only ever used whole, as the output layer.
        self.attribute_emb = nn.Embedding(dataset.n_attributes + 1, d_model)
        self.heads = nn.ModuleDict({name: nn.Linear(d_model, d_model) for name in HEADS})
        self.apply(_init_weights)

    # ------------------------------------------------------------ samples

    def _build_sample_table(self, dataset: Dataset) -> None:
        """Every user's prefix samples as (user, first item's flat index, length), and the long sequence."""
        starts, ends = dataset.offsets[:-1], dataset.offsets[1:] - HELD_OUT_ITEMS
        window_starts = np.maximum(starts, ends - self.max_len)
        counts = np.maximum(ends - window_starts, 0)  # min(n - 2, max_len) samples per user
        first_sample = np.cumsum(counts) - counts
        self.sample_user = np.repeat(np.arange(dataset.n_users), counts)
        self.sample_start = np.repeat(window_starts, counts)
        self.sample_length = np.arange(counts.sum()) - np.repeat(first_sample, counts) + 1
        # SP's negative segments come from every user's training items, concatenated in user order.
        self.long_sequence = dataset.items[ragged_index(starts, ends)[1]]

    def _build_attribute_table(self, dataset: Dataset) -> None:
        """The item -> attributes CSR arrays with each item's attributes deduplicated (a multi-hot sets a bit once)."""
        links_per_item = np.diff(dataset.attr_offsets)
        owners = np.repeat(np.arange(len(links_per_item)), links_per_item)
        keys = np.unique(owners * (dataset.n_attributes + 1) + dataset.attr_items)
        owners, self.attr_items = np.divmod(keys, dataset.n_attributes + 1)
        self.attr_offsets = np.zeros(len(links_per_item) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owners, minlength=len(links_per_item)), out=self.attr_offsets[1:])

    def _check_rows(self, rows: TrainingRows) -> None:
        check_same_dataset(rows, self.dataset_checksum, self.n_users)

    def sample_lengths(self, rows: TrainingRows) -> np.ndarray:
        """Length of every prefix sample; 0 for the samples of users without a training row (train_fraction).

        (A 3-item user has one sample in the original but no training row here; every dataset has >= 5 items.)
        """
        self._check_rows(rows)
        return np.where(rows.lengths[self.sample_user] > 0, self.sample_length, 0)

    # ------------------------------------------------------------ batches

    def make_batch(self, rows: TrainingRows, samples: np.ndarray) -> list[S3RecBatch]:
        """The batch's passes: one trimmed pass of a length-bucketed batch, or a random batch (``bucket=False``)
        sorted by length into at most RANDOM_BATCH_CHUNKS trimmed passes (next_item.batch_passes). The losses are
        sums over samples, so the passes' losses add up to the batch's (the same computation, several times
        cheaper than one pass padded to 50)."""
        samples = np.asarray(samples, dtype=np.int64)
        if self.bucket or samples.ndim != 1 or len(samples) == 0:
            return [self.make_pass(rows, samples)]
        return [self.make_pass(rows, part) for part in batch_passes(samples, self.sample_length, bucket=False)]

    def make_pass(self, rows: TrainingRows, samples: np.ndarray) -> S3RecBatch:
        """The masked sequences, negatives, segments and attribute targets of ``samples``, drawn from rows.rng."""
        self._check_rows(rows)
        samples = np.asarray(samples, dtype=np.int64)
        if samples.ndim != 1 or len(samples) == 0:
            raise ValueError(f"samples must be a non-empty 1-d array of sample indices, got shape {samples.shape}")
        if samples.min() < 0 or samples.max() >= len(self.sample_length):
            raise ValueError(f"sample indices must lie in [0, {len(self.sample_length)})")
        starts, lengths = self.sample_start[samples], self.sample_length[samples]
        pos_items = left_padded(self.items, starts, starts + lengths, int(lengths.max()))  # (B, W)
        masked_items, neg_items = self._mask_items(pos_items, rows.rng)
        segments = self._segments(pos_items, lengths, rows.rng)
        attributes = self._attribute_links(pos_items)
        return S3RecBatch(*(rows.tensor(a) for a in (masked_items, pos_items, neg_items, *segments, *attributes)))

    def _mask_items(self, pos_items: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """MIP: mask each item but the last with probability mask_p, the last always; one negative per mask."""
        masked = (rng.random(pos_items.shape) < self.settings.mask_p) & (pos_items > 0)
        masked[:, -1] = True  # rows are right-aligned: the last column holds every sample's last item
        neg_items = pos_items.copy()
        neg_items[masked] = self._negatives(pos_items, np.nonzero(masked)[0], rng)  # row-major, as masked selects
        return np.where(masked, self.mask_id, pos_items), neg_items

    def _negatives(self, pos_items: np.ndarray, owners: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One item per entry of ``owners`` (a row of pos_items), uniform over [1, n_items + 1] outside that row.

        The range includes mask_id, as the original's neg_sample(item_set, item_size) does.
        """
        def in_sample(rows: np.ndarray, items: np.ndarray) -> np.ndarray:
            return (pos_items[rows] == items[:, None]).any(1)

        def draw(n: int) -> np.ndarray:
            return rng.integers(1, self.mask_id + 1, size=n)

        draws = draw(len(owners))
        clash = in_sample(owners, draws)
        while clash.any():
            draws[clash] = draw(int(clash.sum()))
            clash[clash] = in_sample(owners[clash], draws[clash])
        return draws

    def _segments(self, pos_items: np.ndarray, lengths: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SP: (masked segment, positive segment, negative segment), each (B, W); a 1-item sample is all three."""
        width = pos_items.shape[1]
        segment_length = rng.integers(1, np.maximum(lengths // 2, 1) + 1)  # [1, m // 2]
        segment_start = rng.integers(0, lengths - segment_length + 1)  # [0, m - L]
        negative_start = rng.integers(0, len(self.long_sequence) - segment_length + 1)
        offset = np.arange(width) - (width - lengths)[:, None] - segment_start[:, None]  # position - segment start
        inside = (offset >= 0) & (offset < segment_length[:, None]) & (lengths >= 2)[:, None]
        outside = np.where(pos_items > 0, self.mask_id, 0)  # the rest of the sample is masks, padding stays 0
        single = (lengths < 2)[:, None]
        negative = self.long_sequence[np.clip(negative_start[:, None] + offset, 0, len(self.long_sequence) - 1)]
        masked_segment = np.where(inside, self.mask_id, pos_items)
        pos_segment = np.where(single, pos_items, np.where(inside, pos_items, outside))
        neg_segment = np.where(single, pos_items, np.where(inside, negative, outside))
        return masked_segment, pos_segment, neg_segment

    def _attribute_links(self, pos_items: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, attribute) for every attribute of every item in the batch."""
        rows, cols = np.nonzero(pos_items)
        items = pos_items[rows, cols]
        owner, link = ragged_index(self.attr_offsets[items], self.attr_offsets[items + 1])
        return rows[owner], cols[owner], self.attr_items[link]

    # ------------------------------------------------------------ losses

    def forward(self, model: nn.Module, passes: list[S3RecBatch]) -> dict[str, torch.Tensor]:
        totals: dict[str, torch.Tensor] = {}
        for batch in passes:
            for name, value in self.pass_losses(model, batch).items():
                totals[name] = totals[name] + value if name in totals else value
        return totals

    def pass_losses(self, model: nn.Module, batch: S3RecBatch) -> dict[str, torch.Tensor]:
        if getattr(model, "mask_id", None) is None:
            raise ValueError("S3Rec pre-training feeds mask tokens: build the model with mask_token=True "
                             "(SASRec(..., mask_token=True))")
        if model.mask_id != self.mask_id:
            raise ValueError(f"the model's mask_id is {model.mask_id}, but this dataset's is {self.mask_id} "
                             f"(n_items + 1): the model was built for another item count")
        n = len(batch.pos_items)
        hidden = model.encode(batch.masked_items, causal=False)
        segments = torch.cat([batch.masked_segment, batch.pos_segment, batch.neg_segment])
        # SP reads the last slot only: the last block runs for that slot alone
        segment_context, pos_segment, neg_segment = model.encode(segments, causal=False, last_only=True)[:, -1].split(n)
        masked = batch.masked_items == self.mask_id
        unmasked = (batch.pos_items > 0) & ~masked
        s, zero = self.settings, hidden.new_zeros(())
        return {
            "aap": s.aap * self.attribute_loss("aap", hidden, unmasked, batch) if s.aap else zero,
            "mip": s.mip * self.masked_item_loss(model, hidden, masked, batch) if s.mip else zero,
            "map": s.map * self.attribute_loss("map", hidden, masked, batch) if s.map else zero,
            "sp": s.sp * self.segment_loss(segment_context, pos_segment, neg_segment)
            if s.sp else zero,
        }

    def attribute_loss(self, head: str, hidden: torch.Tensor, where: torch.Tensor, batch: S3RecBatch) -> torch.Tensor:
        """Summed BCE of sigmoid(head(h) . A) against the multi-hot attributes of the items at ``where``.

        With logits z and targets y in {0, 1}: -y log s(z) - (1 - y) log(1 - s(z)) = softplus(z) - y z, so the
        sum is softplus(z) summed over every (position, attribute) minus z summed over the true attributes:
        exactly the dense BCE, without materialising the (B, W, n_attributes + 1) targets.
        """
        states = self.heads[head](hidden[where])  # (N, d)
        logits = _full_precision(states @ self.attribute_emb.weight.T)  # (N, n_attributes + 1)
        position = torch.full(where.shape, -1, dtype=torch.long, device=where.device)
        position[where] = torch.arange(len(logits), device=where.device)
        link_position = position[batch.attr_rows, batch.attr_cols]
        kept = link_position >= 0
        return F.softplus(logits).sum() - logits[link_position[kept], batch.attr_ids[kept]].sum()

    def masked_item_loss(self, model: nn.Module, hidden: torch.Tensor, masked: torch.Tensor,
                         batch: S3RecBatch) -> torch.Tensor:
        """-log sigmoid(sigmoid(pos) - sigmoid(neg)) at masked positions, summed (the original's MIP)."""
        states = self.heads["mip"](hidden[masked])  # (N, d)
        pos = torch.sigmoid(_full_precision((states * model.item_emb(batch.pos_items[masked])).sum(-1)))
        neg = torch.sigmoid(_full_precision((states * model.item_emb(batch.neg_items[masked])).sum(-1)))
        return -F.logsigmoid(pos - neg).sum()

    def segment_loss(self, context: torch.Tensor, pos_segment: torch.Tensor, neg_segment: torch.Tensor) -> torch.Tensor:
        """-log sigmoid(sigmoid(sp(c) . pos) - sigmoid(sp(c) . neg)) per sample, summed (the original's SP)."""
        context = self.heads["sp"](context)  # (B, d)
        pos = torch.sigmoid(_full_precision((context * pos_segment).sum(-1)))
        neg = torch.sigmoid(_full_precision((context * neg_segment).sum(-1)))
        return -F.logsigmoid(pos - neg).sum()


def _full_precision(x: torch.Tensor) -> torch.Tensor:
    """``x`` in at least fp32: the summed losses add up thousands of terms, too many for bf16 (autocast)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _init_weights(module: nn.Module) -> None:
    """The family's init: every Linear and Embedding weight from N(0, 0.02) (padding rows too), biases 0."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
