import numpy as np
import pytest
import torch

from seqrec.metrics import metrics_from_ranks, rank_metrics


def brute_force(scores, targets, history, ks=(5, 10, 20), ties="expected", repeated_targets="miss"):
    """Loop over every user, item and tie position: the definition, written as plainly as possible."""
    out = {f"{m}@{k}": 0.0 for m in ("HR", "NDCG") for k in ks}
    for row, target, seen in zip(scores, targets, history):
        if target in seen and repeated_targets == "miss":  # excluded with the rest of the history: a miss
            continue
        others = [item for item in range(1, len(row)) if item not in seen and item != target]
        above = sum(1 for item in others if row[item] > row[target])
        level = sum(1 for item in others if row[item] == row[target])
        # random tie-breaking puts the target at each place of its tied group with equal probability
        places = [above] if ties == "optimistic" else list(range(above, above + level + 1))
        for rank in places:
            for k in ks:
                if rank < k:
                    out[f"HR@{k}"] += 1 / len(scores) / len(places)
                    out[f"NDCG@{k}"] += 1 / np.log2(rank + 2) / len(scores) / len(places)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", ["expected", "optimistic"])
@pytest.mark.parametrize("repeated_targets", ["miss", "rank"])
def test_matches_brute_force_with_ties(seed, ties, repeated_targets):
    rng = np.random.default_rng(seed)
    users, n_items = 40, 60
    scores = rng.integers(0, 8, size=(users, n_items + 1)).astype(np.float32)  # many ties
    targets = rng.integers(1, n_items + 1, size=users)
    history = [rng.choice(np.arange(1, n_items + 1), size=rng.integers(0, 30), replace=False) for _ in range(users)]
    assert any(t in h for t, h in zip(targets, history))  # both repeated-target rules are exercised
    ours = rank_metrics(scores, targets, history, ties=ties, repeated_targets=repeated_targets)
    reference = brute_force(scores, targets, history, ties=ties, repeated_targets=repeated_targets)
    assert ours.keys() == reference.keys()
    for key in ours:
        assert ours[key] == pytest.approx(reference[key], abs=1e-9), key


def test_constant_scores_score_like_chance():
    n_items, users = 200, 3
    history = [[1, 2, 3], [], [50]]
    metrics = rank_metrics(np.zeros((users, n_items + 1)), [10, 20, 30], history)
    eligible = [n_items - len(h) for h in history]
    assert metrics["HR@10"] == pytest.approx(np.mean([10 / e for e in eligible]))
    assert metrics["NDCG@5"] == pytest.approx(np.mean([sum(1 / np.log2(r + 2) for r in range(5)) / e
                                                       for e in eligible]))
    assert rank_metrics(np.zeros((users, n_items + 1)), [10, 20, 30], history, ties="optimistic")["HR@10"] == 1.0


def test_expected_ties_agree_with_sampled_tie_breaking():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, size=(30, 41)).astype(np.float64)
    targets, history = rng.integers(1, 41, size=30), [[] for _ in range(30)]
    exact = rank_metrics(scores, targets, history)["NDCG@10"]
    sampled = np.mean([rank_metrics(scores + rng.random(scores.shape) * 1e-3, targets, history)["NDCG@10"]
                       for _ in range(400)])
    assert sampled == pytest.approx(exact, abs=0.01)


def test_a_repeated_target_is_ranked_only_when_asked():
    scores = np.array([[0.0, 1.0, 9.0, 5.0]])  # the target, item 2, scores highest, but the user had it
    assert rank_metrics(scores, [2], [[2, 3]], repeated_targets="rank")["HR@5"] == 1.0
    assert rank_metrics(scores, [2], [[2, 3]], repeated_targets="miss")["HR@5"] == 0.0


def test_unknown_switch_values_are_named():
    with pytest.raises(ValueError, match="ties='random'"):
        rank_metrics(np.zeros((1, 5)), [1], [[]], ties="random")
    with pytest.raises(ValueError, match="repeated_targets='keep'"):
        rank_metrics(np.zeros((1, 5)), [1], [[]], repeated_targets="keep")


def test_limits_perfect_and_hopeless():
    scores = np.tile(np.arange(11, dtype=np.float32), (2, 1))  # item 10 scores highest, item 1 lowest
    best = rank_metrics(scores[:1], [10], [[]])
    assert best["HR@5"] == 1.0 and best["NDCG@5"] == 1.0
    worst = rank_metrics(scores[:1], [1], [[]])
    assert worst["HR@5"] == 0.0 and worst["NDCG@20"] == pytest.approx(1 / np.log2(9 + 2))


def test_padding_column_and_history_are_never_ranked():
    scores = np.array([[100.0, 5.0, 4.0, 3.0, 2.0, 1.0]])  # column 0 (padding) would win
    assert rank_metrics(scores, [3], [[]])["NDCG@5"] == pytest.approx(1 / np.log2(2 + 2))
    assert rank_metrics(scores, [3], [[1, 2]])["NDCG@5"] == pytest.approx(1.0)


def test_target_in_history_is_a_miss():
    scores = np.array([[0.0, 1.0, 9.0, 5.0]])  # the target, item 2, scores highest, but the user had it
    assert rank_metrics(scores, [2], [[2, 3]])["HR@20"] == 0.0
    assert rank_metrics(scores, [2], [[3]])["HR@5"] == 1.0


def test_hand_worked_ndcg():
    ranks = np.array([0, 1, 3, 25])
    m = metrics_from_ranks(ranks, ks=(5,))  # no ties given: each rank is exact
    assert m["HR@5"] == pytest.approx(3 / 4)
    assert m["NDCG@5"] == pytest.approx((1 + 1 / np.log2(3) + 1 / np.log2(5)) / 4)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="targets must be item ids"):
        rank_metrics(np.zeros((1, 5)), [7], [[]])
    with pytest.raises(ValueError, match="one history per user"):
        rank_metrics(np.zeros((2, 5)), [1, 2], [[]])
    with pytest.raises(ValueError, match="targets must be item ids"):
        rank_metrics(torch.zeros(1, 5), [0], [[]])


def test_float64_scores_keep_their_precision():
    scores = np.array([[0.0, 1.0, 1.0 + 1e-9, 0.5]])  # item 2 beats item 1 by less than float32 resolves
    assert rank_metrics(scores, [1], [[]])["NDCG@5"] == pytest.approx(1 / np.log2(3))


def test_nan_target_score_ranks_last_not_first():
    scores = np.full((2, 6), np.nan)
    assert rank_metrics(scores, [1, 2], [[], []])["HR@20"] == 0.0
    scores = np.array([[0.0, 3.0, np.nan, 1.0]])  # a NaN competitor is not "scored higher"
    assert rank_metrics(scores, [1], [[]])["NDCG@5"] == 1.0


def test_history_ids_out_of_range_are_rejected():
    with pytest.raises(ValueError, match="history items must be ids in 0..4"):
        rank_metrics(np.zeros((1, 5)), [1], [[-1]])
    with pytest.raises(ValueError, match="history items must be ids in 0..4"):
        rank_metrics(np.zeros((1, 5)), [1], [[5]])
