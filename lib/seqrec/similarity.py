"""Item similarity for CoSeRec's insert and substitute (Liu et al., 2021; github.com/YChen1993/CoSeRec, models.py):
each item's top-1 similar item, offline (ItemCF-IUF over the training items) or hybrid (the better of the offline
and the online top-1, the online one from the current item embeddings).

Offline, as OfflineItemSimilarity('ItemCF_IUF') computes it, over each user's sequence minus its last 3 items
(s[0..n-4], the training input: the last training target s[n-3] is left out too), each item counted once per user:
    C[i, j] = sum over users u holding both i != j of 1 / log(1 + |u|)   (|u|: distinct items of u's part)
    sim[i, j] = C[i, j] / sqrt(N_i N_j)                                 (N_i: users holding i)
The top-1 of i is its highest sim; ties go to the j that co-occurred with i first (earliest user in file order, then
j's first position in that user's sequence): the order in which the code's dict met them, which its stable sort keeps.
Its score is min-max normalised over every pair, (sim - min) / (max - min). An item with no co-occurring item gets
no top-1: each lookup then draws an item uniformly from the items that have one (the code's random.sample), and in
hybrid mode its offline score is 0.0.

Online (OnlineItemSimilarity), from the item embedding E at the start of an epoch: the top-1 of i is argmax over
j != i of E_i . E_j, scored (dot - min) / (max - min) with min and max over every dot product of two items, self
pairs included. Hybrid (data_augmentation._ensmeble_sim_models) takes the offline top-1 when its normalised score is
>= the online one's (ties go offline), else the online one: two min-max normalisations over different ranges,
compared as numbers.

Deviation: the code ranks (and normalises over) every row of the embedding table, padding (0) and mask id included,
and items that occur only as someone's validation or test item. Here both sides of the online similarity are the
training vocabulary (items of some training input): a view never receives an item the training data never showed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .data import ragged_index

ONLINE_CHUNK = 1024  # query items per dot-product block: 1024 x 20k fp32 is 80 MB


@dataclass
class SimilarItems:
    """Each item's top-1 similar item (-1: none) and its normalised score (0.0 where none; -inf: not scored).

    ``fallback``: the items a lookup of an item without a top-1 draws from, uniformly.
    """

    item: np.ndarray  # (n_items + 1,) int64
    score: np.ndarray  # (n_items + 1,) float64
    fallback: np.ndarray  # (F,) int64

    def top1(self, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The similar item of each of ``items`` (one random draw per item that has none)."""
        out = self.item[items]
        missing = out < 0
        if missing.any():
            # no item has a neighbour at all (a degenerate dataset): the item stands for itself
            out[missing] = (rng.choice(self.fallback, int(missing.sum())) if len(self.fallback)
                            else items[missing])
        return out


def training_vocabulary(items: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The distinct items of the ranges items[starts[r]:ends[r]]."""
    return np.unique(items[ragged_index(starts, ends)[1]])


def item_cf_iuf(items: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ItemCF-IUF over the sequences items[starts[u]:ends[u]] (pass the training inputs).

    Returns:
        (i, j, sim) for every ordered pair of distinct items sharing a sequence, in the order the code's dict meets
        them: by i, then by first co-occurrence (earliest sequence, then j's first position in it).
    """
    rows, index = ragged_index(starts, ends)
    keys = rows * (n_items + 1) + items[index]
    first = np.sort(np.unique(keys, return_index=True)[1])  # each (user, item) once, in sequence order
    users, distinct = rows[first], items[index][first]
    k = np.bincount(users, minlength=len(starts))  # |u|
    block_end = np.cumsum(k)
    block_start = block_end - k
    # every (i, j) of a user's distinct items: element e pairs with every element of its user's block
    left, right = ragged_index(block_start[users], block_end[users])
    other = left != right
    left, right = left[other], right[other]
    weight = 1.0 / np.log1p(k[users[left]].astype(np.float64))
    pair_keys = distinct[left] * (n_items + 1) + distinct[right]
    unique, first_met, inverse = np.unique(pair_keys, return_index=True, return_inverse=True)
    co = np.bincount(inverse, weights=weight)
    n = np.bincount(distinct, minlength=n_items + 1).astype(np.float64)  # N_i: users holding i
    i, j = unique // (n_items + 1), unique % (n_items + 1)
    order = np.lexsort((first_met, i))
    i, j = i[order], j[order]
    return i, j, co[order] / np.sqrt(n[i] * n[j])


def offline_top1(i: np.ndarray, j: np.ndarray, sim: np.ndarray, n_items: int) -> SimilarItems:
    """Each item's highest-``sim`` partner, the first one on ties (pairs as ``item_cf_iuf`` orders them), min-max
    normalised over all pairs."""
    item, score = np.full(n_items + 1, -1, dtype=np.int64), np.zeros(n_items + 1)
    if len(i):
        best = np.lexsort((np.arange(len(i)), -sim, i))  # stable: the first of equal scores comes first
        head = best[np.r_[True, i[best][1:] != i[best][:-1]]]
        low, high = sim.min(), sim.max()
        item[i[head]] = j[head]
        score[i[head]] = (sim[head] - low) / (high - low) if high > low else 0.0
    return SimilarItems(item, score, np.unique(i))


@torch.no_grad()
def online_top1(weight: torch.Tensor, vocabulary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each vocabulary item's highest-dot-product other vocabulary item and its min-max normalised score.

    Args:
        weight: (n_items + 1, d) item embedding.
        vocabulary: the items that are compared (both as queries and as candidates).
    Returns:
        (item, score) of shape (n_items + 1,): -1 and -inf outside the vocabulary (and where it has one item).
    """
    n = weight.shape[0]
    item, raw = np.full(n, -1, dtype=np.int64), np.full(n, -np.inf)
    if len(vocabulary) < 2:
        return item, raw
    vocab = torch.from_numpy(vocabulary).to(weight.device)
    candidates = weight[vocab].float()  # (V, d)
    low, high = float("inf"), -float("inf")
    for begin in range(0, len(vocabulary), ONLINE_CHUNK):
        dots = candidates[begin:begin + ONLINE_CHUNK] @ candidates.T  # (chunk, V)
        low, high = min(low, dots.min().item()), max(high, dots.max().item())
        self_pairs = torch.arange(len(dots), device=dots.device)
        dots[self_pairs, begin + self_pairs] = -float("inf")
        best, where = dots.max(dim=1)
        queries = vocabulary[begin:begin + len(dots)]
        item[queries], raw[queries] = vocabulary[where.cpu().numpy()], best.double().cpu().numpy()
    score = (raw - low) / (high - low) if high > low else np.where(np.isfinite(raw), 0.0, -np.inf)
    return item, score


def hybrid(offline: SimilarItems, online_item: np.ndarray, online_score: np.ndarray) -> SimilarItems:
    """Per item, the offline top-1 if its score >= the online one's, else the online top-1 (the code's choice)."""
    use_offline = offline.score >= online_score
    return SimilarItems(np.where(use_offline, offline.item, online_item),
                        np.where(use_offline, offline.score, online_score), offline.fallback)
