"""CL4SRec's sequence augmentations (crop, mask, reorder) as array operations over a batch of ragged sequences.

As the CoSeRec/ICLRec/SRMA code runs them (REFERENCE.md section 1), on a user's whole training input
s[0..n-4] before truncation to max_len, each view drawing one operator uniformly:
    crop     keeps k = int(crop * n) contiguous items starting at U{0, ..., n - k - 1} (the last item is never
             kept); when k < 1, one item at U{0, ..., n - 1};
    mask     sets int(mask * n) distinct random positions to 0, the padding id;
    reorder  shuffles the window of int(reorder * n) items starting at U{0, ..., n - k - 1}.
Every operator works on all rows at once: no Python loop over users.
"""
from __future__ import annotations

import numpy as np

from .data import ragged_index

CROP, MASK, REORDER = 0, 1, 2


def _rank_within_rows(rows: np.ndarray, keys: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Rank (0-based) of each element's key among the elements of its row."""
    order = np.lexsort((keys, rows))
    rank = np.empty(len(rows), dtype=np.int64)
    rank[order] = np.arange(len(rows)) - first[rows[order]]
    return rank


def augment(items: np.ndarray, starts: np.ndarray, ends: np.ndarray, rng: np.random.Generator, *,
            crop: float, mask: float, reorder: float, width: int, operators: np.ndarray | None = None) -> np.ndarray:
    """One augmented view of each sequence items[starts[r]:ends[r]], left-padded to ``width`` (last items kept).

    ``operators`` (CROP, MASK or REORDER per row) defaults to a uniform draw per row.
    """
    n = ends - starts
    if (n < 1).any():
        raise ValueError("every sequence to augment needs at least one item")
    rows, index = ragged_index(starts, ends)
    first = np.cumsum(n) - n
    position = np.arange(len(rows)) - first[rows]
    values = items[index]
    if operators is None:
        operators = rng.integers(0, 3, size=len(n))
    start_draw, element_draw = rng.random(len(n)), rng.random(len(rows))
    op, length = operators[rows], n[rows]

    # crop: a window of k items; k = int(crop * n), one item when that is 0
    crop_size = np.floor(crop * n).astype(np.int64)
    crop_start = np.floor(start_draw * (n - crop_size)).astype(np.int64)
    crop_end = crop_start + np.maximum(crop_size, 1)
    kept = (op != CROP) | ((position >= crop_start[rows]) & (position < crop_end[rows]))

    # mask: the int(mask * n) positions with the smallest random keys become padding
    masked = (op == MASK) & (_rank_within_rows(rows, element_draw, first) < np.floor(mask * length))
    values = np.where(masked, 0, values)

    # reorder: positions inside the window get a random key within it, so sorting by key shuffles the window only
    window = np.floor(reorder * n).astype(np.int64)
    window_start = np.floor(start_draw * (n - window)).astype(np.int64)
    inside = (op == REORDER) & (position >= window_start[rows]) & (position < (window_start + window)[rows])
    key = np.where(inside, window_start[rows] + window[rows] * element_draw, position)
    order = np.lexsort((key, rows))
    rows, values, kept = rows[order], values[order], kept[order]

    rows, values = rows[kept], values[kept]
    sizes = np.bincount(rows, minlength=len(n))
    new_first = np.cumsum(sizes) - sizes
    from_end = sizes[rows] - (np.arange(len(rows)) - new_first[rows])  # 1 for the last item of a row
    out = np.zeros((len(n), width), dtype=items.dtype)
    fits = from_end <= width
    out[rows[fits], width - from_end[fits]] = values[fits]
    return out
