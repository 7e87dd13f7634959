"""CoSeRec (Liu et al., "Contrastive Self-supervised Sequential Recommendation with Robust Augmentation", 2021;
github.com/YChen1993/CoSeRec at 692cb41; REFERENCE.md section 1): CL4SRec with two more operators, insert and
substitute, driven by each item's top-1 similar item (seqrec.augment, seqrec.similarity).

Each view draws one operator: from insert, crop, mask, reorder and substitute when the user's whole training input
has more than ``coserec.threshold`` items, else from the short set (default 'SIM': insert, substitute, mask). The
similar items are the offline ItemCF-IUF ones until epoch ``warm_up`` (0-based) included; from epoch warm_up + 1 on,
the code's ``epoch > augmentation_warm_up_epoches``, the hybrid ones, recomputed at the start of every epoch from the
item embedding as it is then (the code rebuilds its training set there from a copy of the embedding).

Everything else is CL4SRec's (views from s[0..n-4] before truncation, NT-Xent, weight, tau, representation).

Deviations from the code: its reorder in this mode uses the mask rate (Reorder(beta=gamma)); ours uses cl.reorder,
and ``config.coserec_settings(..., code_reorder=True)`` sets it to the mask rate. Online similarity compares
training-vocabulary items only (seqrec.similarity). Views are drawn with numpy's generator, batched, instead of
Python's ``random`` per sequence: the same distributions, other draws.
"""
from __future__ import annotations

import numpy as np
import torch

from ..augment import augment, coserec_operators
from ..config import CoSeRecConfig, ContrastConfig
from ..data import Dataset, split
from ..similarity import SimilarItems, hybrid, item_cf_iuf, offline_top1, online_top1, training_vocabulary
from .base import TrainingRows
from .contrastive import CL4SRec

OFFLINE = -1  # ``similarity_epoch`` while the offline table is in use


class CoSeRec(CL4SRec):
    """CL4SRec whose views may also insert and substitute similar items.

    The similarity table in use and the epoch whose embeddings made it are checkpointed with the objective
    (``get_extra_state``); ``start_epoch`` chooses the table for each epoch.
    """

    def __init__(self, loss: str, bucket: bool, settings: ContrastConfig, coserec: CoSeRecConfig, dataset: Dataset,
                 max_len: int):
        super().__init__(loss, bucket, settings, max_len)
        self.coserec = coserec
        starts, ends = split(dataset, max_len).input_range("train")  # s[0..n-4]: the code's items[:-3]
        self.offline = offline_top1(*item_cf_iuf(dataset.items, starts, ends, dataset.n_items), dataset.n_items)
        self.vocabulary = training_vocabulary(dataset.items, starts, ends)
        self.similar, self.similarity_epoch = self.offline, OFFLINE

    def start_epoch(self, epoch: int, model: torch.nn.Module, rows: TrainingRows) -> None:
        """Offline similar items through epoch ``warm_up``; after it, the hybrid ones from the current embedding."""
        if epoch > self.coserec.warm_up:
            online = online_top1(model.item_emb.weight.detach(), self.vocabulary)
            self.similar, self.similarity_epoch = hybrid(self.offline, *online), epoch
        else:
            self.similar, self.similarity_epoch = self.offline, OFFLINE

    def draw_views(self, rows: TrainingRows, users: np.ndarray) -> np.ndarray:
        """(2B, max_len): two views of each user's training input, each with its operator drawn by length."""
        starts, ends = rows.split.input_range("train")
        starts, ends = starts[users], ends[users]
        s, c = self.settings, self.coserec
        views = []
        for _ in range(2):
            operators = coserec_operators(ends - starts, rows.rng, c.threshold, c.short_set)
            views.append(augment(rows.split.dataset.items, starts, ends, rows.rng, crop=s.crop, mask=s.mask,
                                 reorder=s.reorder, width=self.max_len, operators=operators, insert=c.insert,
                                 substitute=c.substitute, similar=self.similar))
        return np.concatenate(views)

    def get_extra_state(self) -> dict:
        return {"similarity_epoch": self.similarity_epoch, "item": self.similar.item, "score": self.similar.score}

    def set_extra_state(self, state: dict) -> None:
        self.similarity_epoch = state["similarity_epoch"]
        self.similar = (self.offline if self.similarity_epoch == OFFLINE
                        else SimilarItems(state["item"], state["score"], self.offline.fallback))
