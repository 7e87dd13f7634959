"""Full-ranking metrics: every item is a candidate, the user's history is excluded.

For each user the scorer yields two counts over the eligible items (items 1..n_items not in the user's
input sequence; column 0, padding, is never ranked): ``greater``, the items scored strictly higher than
the target, and ``tied``, the other items scored exactly the same. Two protocol switches (Config fields,
recorded with every run) decide what those counts become:

``ties``
    ``"expected"`` (default): the exact expected HR@k and NDCG@k when ties are broken uniformly at random,
    i.e. the target's rank is uniform on greater .. greater + tied (closed form, not sampled). A model that
    gives every item the same score then scores like chance.
    ``"optimistic"``: the target wins every tie (rank = greater), as ``(scores > target).sum()`` in the
    original code family does; a constant model would get HR@k = 1.

``repeated_targets``
    ``"miss"`` (default, the code family): a held-out item that repeats an item of the input sequence is
    excluded with the history and counts as a miss. Only Yelp has such targets (6.7% of test users).
    ``"rank"``: such a target is kept and ranked like any other; its earlier occurrences stay excluded.

HR@k = P[rank < k]; NDCG@k = E[[rank < k] / log2(rank + 2)], with ranks 0-based.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .config import METRIC_KS, REPEATED_TARGETS, TIES

NO_RANK = 2**62  # ``greater`` of a target that cannot be a hit: excluded as history, or a NaN score


def target_ranks(scores: torch.Tensor, targets: torch.Tensor, history_rows: torch.Tensor,
                 history_items: torch.Tensor, repeated_targets: str = "miss") -> tuple[torch.Tensor, torch.Tensor]:
    """Per user, eligible items scored above and equal to the target; ``scores`` is modified in place.

    Args:
        scores: (B, n_items + 1) float scores, column 0 = padding.
        targets: (B,) target item ids.
        history_rows, history_items: (row, item) pairs to exclude from ranking.
        repeated_targets: "miss" or "rank" (module docstring).
    Returns:
        ``greater`` (B,) int64 (NO_RANK for a miss) and ``tied`` (B,) int64 (0 for a miss).
    """
    if repeated_targets not in REPEATED_TARGETS:
        raise ValueError(f"repeated_targets={repeated_targets!r}; known: {', '.join(REPEATED_TARGETS)}")
    column = targets[:, None]
    target_scores = scores.gather(1, column)  # (B, 1)
    scores[:, 0] = -torch.inf
    scores[history_rows, history_items] = -torch.inf
    if repeated_targets == "rank":
        scores.scatter_(1, column, target_scores)  # the target stays a candidate even if it is in the history
    # a NaN target compares false with everything; a target in the history was just excluded with it
    miss = target_scores[:, 0].isnan() | (scores.gather(1, column)[:, 0] == -torch.inf)
    # Counted in place, as floats: sign(s - t) is +1 above the target, 0 tied, -1 below (excluded items are
    # -inf, so below). Two float sums then give (above - below) and (above + below), and the rest is tied.
    # Bool masks of the whole score matrix would cost 2-5x more (measured); float sums of +-1 are exact far
    # beyond any catalogue size. torch.sign(NaN) is 0, so rows with a NaN score are counted exactly, apart.
    differences = scores.sub_(target_scores)
    unordered = differences.sum(dim=1).isnan()  # a NaN competitor is neither above nor tied
    exact_above = (differences[unordered] > 0).sum(dim=1)
    exact_tied = (differences[unordered] == 0).sum(dim=1) - 1
    signs = differences.sign_()
    balance = signs.sum(dim=1)  # above - below
    moved = signs.abs_().sum(dim=1)  # above + below
    greater = ((balance + moved) / 2).long()
    tied = scores.shape[1] - 1 - moved.long()  # minus the target itself, whose difference is 0
    greater[unordered], tied[unordered] = exact_above, exact_tied
    greater[miss], tied[miss] = NO_RANK, 0
    return greater, tied


def metrics_from_ranks(greater: np.ndarray | torch.Tensor, tied: np.ndarray | torch.Tensor | None = None,
                       ks: Sequence[int] = METRIC_KS, ties: str = "expected") -> dict[str, float]:
    """Mean HR@k and NDCG@k over users from ``greater`` and ``tied`` counts (``tied`` None: no ties)."""
    if ties not in TIES:
        raise ValueError(f"ties={ties!r}; known: {', '.join(TIES)}")
    greater = torch.as_tensor(greater, dtype=torch.float64)
    tied = torch.zeros_like(greater) if tied is None or ties == "optimistic" else torch.as_tensor(tied, dtype=torch.float64)
    outcomes = tied + 1  # the target's rank is uniform on greater .. greater + tied
    # gain_sums[j] = sum of 1 / log2(r + 2) over ranks r < j
    gain_sums = torch.cat([torch.zeros(1, dtype=torch.float64),
                           torch.cumsum(1.0 / torch.log2(torch.arange(max(ks), dtype=torch.float64) + 2), 0)])
    out = {}
    for k in ks:
        low, high = greater.clamp(max=k), (greater + outcomes).clamp(max=k)  # ranks low .. high - 1 are hits
        out[f"HR@{k}"] = ((high - low) / outcomes).mean().item()
        out[f"NDCG@{k}"] = ((gain_sums[high.long()] - gain_sums[low.long()]) / outcomes).mean().item()
    return out


def rank_metrics(scores, targets, history: Sequence[Sequence[int]], ks: Sequence[int] = METRIC_KS,
                 ties: str = "expected", repeated_targets: str = "miss") -> dict[str, float]:
    """HR@k and NDCG@k for a score matrix.

    Args:
        scores: (users, n_items + 1) array or tensor; column 0 is padding and never ranked.
        targets: (users,) target item ids in 1..n_items.
        history: per user, the items of the input sequence (excluded from ranking).
        ks: cut-offs.
        ties, repeated_targets: the protocol switches (module docstring).
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
    greater, tied = target_ranks(scores, targets, torch.from_numpy(rows), torch.from_numpy(items), repeated_targets)
    return metrics_from_ranks(greater, tied, ks, ties)
