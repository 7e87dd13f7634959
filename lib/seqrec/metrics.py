"""Full-ranking metrics: every item is a candidate, the user's history is excluded.

Rank of the target = number of eligible items scored strictly higher (ties count in the target's
favour). Eligible = items 1..n_items that are not in the user's input sequence; column 0 (padding) is
never ranked. A target that repeats an item of the input sequence is excluded with it and counts as a miss,
as in the original code (which zeroes its score). Only Yelp has such targets (6.7% of test users).
HR@k = [rank < k]; NDCG@k = [rank < k] / log2(rank + 2).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .config import METRIC_KS

NO_RANK = 2**62  # the rank of a target that cannot be a hit: excluded as history, or a NaN score


def target_ranks(scores: torch.Tensor, targets: torch.Tensor, history_rows: torch.Tensor,
                 history_items: torch.Tensor) -> torch.Tensor:
    """Ranks (0-based) of the targets; ``scores`` (B, n_items + 1) is modified in place.

    Args:
        scores: (B, n_items + 1) float scores, column 0 = padding.
        targets: (B,) target item ids.
        history_rows, history_items: (row, item) pairs to exclude from ranking.
    Returns:
        (B,) int64 ranks.
    """
    target_scores = scores.gather(1, targets[:, None])  # (B, 1)
    scores[:, 0] = -torch.inf
    scores[history_rows, history_items] = -torch.inf
    # a NaN target compares false with everything; a target in the history was just excluded with it
    miss = target_scores[:, 0].isnan() | (scores.gather(1, targets[:, None])[:, 0] == -torch.inf)
    # In place, as float: (s - t > 0) == (s > t) for finite floats, and this avoids a bool copy of
    # the whole score matrix; float sums of 0/1 are exact far beyond any catalogue size.
    ranks = scores.sub_(target_scores).gt_(0).sum(dim=1).long()
    ranks[miss] = NO_RANK
    return ranks


def metrics_from_ranks(ranks: np.ndarray | torch.Tensor, ks: Sequence[int] = METRIC_KS) -> dict[str, float]:
    """Mean HR@k and NDCG@k over users."""
    ranks = torch.as_tensor(ranks, dtype=torch.float64)
    out = {}
    for k in ks:
        hit = ranks < k
        out[f"HR@{k}"] = hit.double().mean().item()
        out[f"NDCG@{k}"] = torch.where(hit, 1.0 / torch.log2(ranks + 2.0), 0.0).mean().item()
    return out


def rank_metrics(scores, targets, history: Sequence[Sequence[int]], ks: Sequence[int] = METRIC_KS) -> dict[str, float]:
    """HR@k and NDCG@k for a score matrix.

    Args:
        scores: (users, n_items + 1) array or tensor; column 0 is padding and never ranked.
        targets: (users,) target item ids in 1..n_items.
        history: per user, the items of the input sequence (excluded from ranking).
        ks: cut-offs.
    Returns:
        {"HR@k": ..., "NDCG@k": ...} averaged over users.
    """
    scores = torch.as_tensor(np.asarray(scores) if not torch.is_tensor(scores) else scores)
    # keep float64 input in float64 (a cast to float32 would create ties); integers become float64
    scores = (scores if scores.is_floating_point() else scores.double()).clone()
    targets = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
    if scores.ndim != 2 or targets.shape != (scores.shape[0],) or len(history) != scores.shape[0]:
        raise ValueError(f"need scores (users, items+1), targets (users,) and one history per user; got "
                         f"{tuple(scores.shape)}, {tuple(targets.shape)} and {len(history)} histories")
    if len(targets) and (targets.min() < 1 or targets.max() >= scores.shape[1]):
        raise ValueError(f"targets must be item ids in 1..{scores.shape[1] - 1}")
    rows = np.repeat(np.arange(len(history)), [len(h) for h in history])
    items = np.concatenate([np.asarray(h, dtype=np.int64) for h in history]) if len(history) else np.zeros(0, np.int64)
    if len(items) and (items.min() < 0 or items.max() >= scores.shape[1]):
        raise ValueError(f"history items must be ids in 0..{scores.shape[1] - 1}")
    ranks = target_ranks(scores, targets, torch.from_numpy(rows), torch.from_numpy(items))
    return metrics_from_ranks(ranks, ks)
