"""CL4SRec's sequence augmentations (crop, mask, reorder) as array operations over a batch of ragged sequences.

As the CoSeRec/ICLRec/SRMA code runs them (REFERENCE.md section 1), on a user's whole training input
s[0..n-4] before truncation to max_len, each view drawing one operator uniformly:
    crop     keeps k = int(crop * n) contiguous items starting at U{0, ..., n - k - 1} (the last item is never
             kept); when k < 1, one item at U{0, ..., n - 1};
    mask     sets int(mask * n) distinct random positions to 0, the padding id;
    reorder  shuffles the window of int(reorder * n) items starting at U{0, ..., n - k - 1}.
CoSeRec (Liu et al., 2021; github.com/YChen1993/CoSeRec, data_augmentation.py) adds two, driven by each item's
top-1 similar item (seqrec.similarity):
    insert      at max(int(insert * n), 1) distinct random positions, the similar item of the item there is placed
                right before it (the view grows by that many items);
    substitute  the items at max(int(substitute * n), 1) distinct random positions become their similar items;
and draws each view's operator by length: uniformly from LONG_SET when n > threshold, else from the short set its
name gives (one letter per operator; the code's 'SIMRC' reaches its "all five" branch: the long set).
Every operator works on all rows at once: no Python loop over users.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .data import ragged_index

if TYPE_CHECKING:
    from .similarity import SimilarItems

CROP, MASK, REORDER, INSERT, SUBSTITUTE = 0, 1, 2, 3, 4
LONG_SET = (INSERT, CROP, MASK, REORDER, SUBSTITUTE)  # the code's list for sequences longer than the threshold
SHORT_SET_LETTERS = {"S": SUBSTITUTE, "I": INSERT, "M": MASK, "R": REORDER, "C": CROP}


def short_set(name: str) -> tuple[int, ...]:
    """The operators of a short-sequence set named as in the code (``SIM`` = substitute, insert, mask)."""
    return tuple(SHORT_SET_LETTERS[letter] for letter in name)


def coserec_operators(lengths: np.ndarray, rng: np.random.Generator, threshold: int, short: str) -> np.ndarray:
    """One operator per sequence: uniform over LONG_SET when its length > ``threshold``, else over ``short``."""
    long_ops, short_ops = np.array(LONG_SET), np.array(short_set(short))
    draw = rng.random(len(lengths))
    return np.where(lengths > threshold, long_ops[(draw * len(long_ops)).astype(np.int64)],
                    short_ops[(draw * len(short_ops)).astype(np.int64)])


def _rank_within_rows(rows: np.ndarray, keys: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Rank (0-based) of each element's key among the elements of its row."""
    order = np.lexsort((keys, rows))
    rank = np.empty(len(rows), dtype=np.int64)
    rank[order] = np.arange(len(rows)) - first[rows[order]]
    return rank


def augment(items: np.ndarray, starts: np.ndarray, ends: np.ndarray, rng: np.random.Generator, *,
            crop: float, mask: float, reorder: float, width: int, operators: np.ndarray | None = None,
            insert: float = 0.0, substitute: float = 0.0, similar: SimilarItems | None = None) -> np.ndarray:
    """One augmented view of each sequence items[starts[r]:ends[r]], left-padded to ``width`` (last items kept).

    ``operators`` (one per row) defaults to a uniform draw from CROP, MASK and REORDER per row; INSERT and
    SUBSTITUTE need ``similar`` (the top-1 table of seqrec.similarity). Without them the draws from ``rng`` are
    exactly CL4SRec's.
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
    if similar is None and (operators >= INSERT).any():
        raise ValueError("insert and substitute need the items' similar items (similar=...)")
    start_draw, element_draw = rng.random(len(n)), rng.random(len(rows))
    op, length = operators[rows], n[rows]

    # crop: a window of k items; k = int(crop * n), one item when that is 0
    crop_size = np.floor(crop * n).astype(np.int64)
    crop_start = np.floor(start_draw * (n - crop_size)).astype(np.int64)
    crop_end = crop_start + np.maximum(crop_size, 1)
    kept = (op != CROP) | ((position >= crop_start[rows]) & (position < crop_end[rows]))

    # mask: the int(mask * n) positions with the smallest random keys become padding
    rank = _rank_within_rows(rows, element_draw, first)
    masked = (op == MASK) & (rank < np.floor(mask * length))
    values = np.where(masked, 0, values)
    # substitute and insert pick their max(int(rate * n), 1) positions the same way
    added = _similar_items(values, rows, position, op, rank, length, insert, substitute, similar, rng)

    # reorder: positions inside the window get a random key within it, so sorting by key shuffles the window only
    window = np.floor(reorder * n).astype(np.int64)
    window_start = np.floor(start_draw * (n - window)).astype(np.int64)
    inside = (op == REORDER) & (position >= window_start[rows]) & (position < (window_start + window)[rows])
    key = np.where(inside, window_start[rows] + window[rows] * element_draw, position)
    if added is not None:  # an inserted item sorts right before the item it was drawn for
        rows, values = np.concatenate([rows, added[0]]), np.concatenate([values, added[1]])
        kept, key = np.concatenate([kept, np.ones(len(added[0]), dtype=bool)]), np.concatenate([key, added[2]])
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


def _similar_items(values, rows, position, op, rank, length, insert, substitute, similar, rng):
    """Substitutes in place in ``values``; returns the inserted items as (rows, values, sort keys), or None."""
    if similar is None:
        return None
    substituted = (op == SUBSTITUTE) & (rank < np.maximum(np.floor(substitute * length), 1))
    values[substituted] = similar.top1(values[substituted], rng)
    before = (op == INSERT) & (rank < np.maximum(np.floor(insert * length), 1))
    return rows[before], similar.top1(values[before], rng), position[before] - 0.5
