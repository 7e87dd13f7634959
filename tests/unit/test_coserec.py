"""CoSeRec: ItemCF-IUF and the hybrid similarity, insert and substitute, operator sets, the warm-up switch."""
import math

import numpy as np
import pytest
import torch

from seqrec import data, runs
from seqrec.augment import CROP, INSERT, LONG_SET, MASK, REORDER, SUBSTITUTE, augment, coserec_operators
from seqrec.config import coserec_settings, live_groups, make_config, method_name, parse_override
from seqrec.errors import ConfigError
from seqrec.models import build_model
from seqrec.objectives import TrainingRows, build_objective
from seqrec.similarity import SimilarItems, hybrid, item_cf_iuf, offline_top1, online_top1, training_vocabulary
from seqrec.train import Trainer

from ..conftest import write_dataset
from .training import fit_trainer

RATES = dict(crop=0.2, mask=0.7, reorder=0.2)

# Items 7..19 occur only among a user's last 3 (validation, test, last training target): never training items.
# User 1 holds item 2 twice; user 4 one distinct training item (no pair, yet it counts in N_5); item 6's partners
# 21 and 22 tie, and 22 is met first (user 6), though 21 has the smaller id and comes first in user 7.
TINY = ["1 1 2 3 2 7 8 9", "2 2 3 4 5 10 11 12", "3 1 4 6 13 14", "4 5 5 15 16 17", "5 3 1 18 19 7",
        "6 6 22 21 8 9 10", "7 21 6 22 11 12 13"]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQREC_DATA", str(write_dataset(tmp_path / "tiny", TINY)))
    return data.load("Beauty")


def brute_force_item_cf_iuf(lines):
    """The code's OfflineItemSimilarity('ItemCF_IUF') as written: dicts and a double loop over items[:-3]."""
    train = {}
    for line in lines:
        user, *items = line.split()
        for item in items[:-3]:
            train.setdefault(user, {})[int(item)] = 1
    C, N = {}, {}
    for items in train.values():
        for i in items:
            N[i] = N.get(i, 0) + 1
            for j in items:
                if i != j:
                    C.setdefault(i, {}).setdefault(j, 0)
                    C[i][j] += 1 / math.log(1 + len(items))
    return {i: {j: c / math.sqrt(N[i] * N[j]) for j, c in row.items()} for i, row in C.items()}


def test_item_cf_iuf_matches_a_brute_force_double_loop_over_training_items_only(tiny):
    starts, ends = data.split(tiny, 50).input_range("train")
    i, j, sim = item_cf_iuf(tiny.items, starts, ends, tiny.n_items)
    expected = brute_force_item_cf_iuf(TINY)
    assert {(a, b): s for a, b, s in zip(i.tolist(), j.tolist(), sim)} == pytest.approx(
        {(a, b): s for a, row in expected.items() for b, s in row.items()})
    for a in expected:  # per item, partners in the order the code's dict met them
        assert j[i == a].tolist() == list(expected[a])
    table = offline_top1(i, j, sim, tiny.n_items)
    low = min(s for row in expected.values() for s in row.values())
    high = max(s for row in expected.values() for s in row.values())
    for a, row in expected.items():
        best, score = sorted(row.items(), key=lambda kv: kv[1], reverse=True)[0]  # stable: the code's tie-break
        assert table.item[a] == best and table.score[a] == pytest.approx((score - low) / (high - low))
    assert table.item[6] == 22 and expected[6][21] == expected[6][22]  # a tie, won by the partner met first
    held_out = np.arange(7, 20)
    assert (table.item[held_out] == -1).all() and not np.isin(table.item, held_out).any()
    assert not np.isin(held_out, table.fallback).any()
    assert not np.isin(held_out, training_vocabulary(tiny.items, starts, ends)).any()


def test_online_top1_and_the_hybrid_choice_by_hand():
    weight = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.1, 1.0], [10.0, 10.0]])
    # vocabulary 1..3 (item 4, the largest vector, never reached training); dots 1.1=1 1.2=2 1.3=.1 2.2=4 2.3=.2 3.3=1.01
    item, score = online_top1(weight, np.array([1, 2, 3]))
    assert item.tolist() == [-1, 2, 1, 2, -1]
    np.testing.assert_allclose(score[1:4], [1.9 / 3.9, 1.9 / 3.9, 0.1 / 3.9], rtol=1e-6)  # (dot - 0.1) / (4 - 0.1)
    assert score[0] == score[4] == -np.inf
    offline = SimilarItems(np.array([-1, 3, 3, -1, 2]), np.array([0.0, score[1], 0.3, 0.0, 0.7]), np.array([1, 2]))
    chosen = hybrid(offline, item, score)
    # item 1: equal scores -> offline (3); item 2: 0.3 < 0.487 -> online (1); item 3: no offline top-1 (score 0.0)
    # -> online (2); item 4: not in the vocabulary online -> offline (2)
    assert chosen.item.tolist() == [-1, 3, 1, 2, 2]
    assert chosen.score[1:].tolist() == pytest.approx([1.9 / 3.9, 1.9 / 3.9, 0.1 / 3.9, 0.7])


class FixedDraws:
    """An rng whose random() returns the given arrays in turn."""

    def __init__(self, *draws):
        self.draws = list(draws)

    def random(self, size):
        out = np.asarray(self.draws.pop(0), dtype=float)
        assert out.shape == (size,)
        return out


SIMILAR = SimilarItems(np.r_[-1, np.arange(101, 106)], np.zeros(6), np.array([1]))  # item x -> 100 + x


def one_view(op, rate, draws, width=10):
    kind = "insert" if op == INSERT else "substitute"
    return augment(np.array([1, 2, 3, 4, 5]), np.array([0]), np.array([5]), FixedDraws([0.5], draws), **RATES,
                   width=width, operators=np.array([op]), similar=SIMILAR, **{kind: rate})[0].tolist()


def test_insert_and_substitute_by_hand():
    draws = [0.9, 0.1, 0.5, 0.05, 0.7]  # positions by rank: 3, 1, 2, 4, 0
    # insert 0.4 x 5 = 2 positions (3 and 1): each item's similar item goes right before it
    assert one_view(INSERT, 0.4, draws) == [0, 0, 0, 1, 102, 2, 3, 104, 4, 5]
    assert one_view(INSERT, 0.1, draws) == [0] * 4 + [1, 2, 3, 104, 4, 5]  # max(int(0.5), 1) = 1
    assert one_view(INSERT, 0.4, draws, width=4) == [3, 104, 4, 5]  # the last width items are kept
    assert one_view(SUBSTITUTE, 0.4, draws) == [0] * 5 + [1, 102, 3, 104, 5]
    assert one_view(SUBSTITUTE, 0.1, draws) == [0] * 5 + [1, 2, 3, 104, 5]


def test_insert_and_substitute_counts_on_many_rows_and_the_random_fallback():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=300)
    ends = np.cumsum(lengths)
    starts, items = ends - lengths, np.arange(1, ends[-1] + 1)
    similar = SimilarItems(np.r_[-1, items + 10_000], np.zeros(len(items) + 1), np.array([1]))
    for op, rate in ((INSERT, 0.4), (SUBSTITUTE, 0.1)):
        out = augment(items, starts, ends, rng, **RATES, width=100, operators=np.full(300, op), similar=similar,
                      insert=rate if op == INSERT else 0.0, substitute=rate if op == SUBSTITUTE else 0.0)
        for r, (s, e) in enumerate(zip(starts, ends)):
            n, row = e - s, out[r][out[r] > 0]
            changed = row > 10_000
            assert changed.sum() == max(int(rate * n), 1)
            if op == INSERT:  # each inserted item precedes the item it was drawn for; the originals keep their order
                assert (row[np.flatnonzero(changed) + 1] == row[changed] - 10_000).all()
                assert row[~changed].tolist() == list(range(s + 1, e + 1))
            else:
                assert len(row) == n and (np.where(changed, row - 10_000, row) == np.arange(s + 1, e + 1)).all()
    no_table = SimilarItems(np.full(len(items) + 1, -1), np.zeros(len(items) + 1), np.array([7, 8]))
    out = augment(items, starts, ends, rng, **RATES, width=100, operators=np.full(300, SUBSTITUTE),
                  substitute=1.0, similar=no_table)
    assert set(np.unique(out)) == {0, 7, 8}  # items without a top-1 draw from the fallback items


def test_short_sequences_draw_only_from_the_short_set():
    rng = np.random.default_rng(0)
    lengths = np.r_[np.full(6000, 4), np.full(6000, 5)]
    ops = coserec_operators(lengths, rng, threshold=4, short="SIM")
    short, long = ops[:6000], ops[6000:]
    assert set(short) == {INSERT, SUBSTITUTE, MASK}  # length == threshold is short: never crop nor reorder
    assert np.bincount(short, minlength=5)[[INSERT, SUBSTITUTE, MASK]] == pytest.approx([2000] * 3, rel=0.08)
    assert np.bincount(long, minlength=5) == pytest.approx([1200] * 5, rel=0.1) and set(long) == set(LONG_SET)
    every = coserec_operators(np.full(5000, 3), rng, threshold=12, short="SIMRC")  # the code's "all five" branch
    assert set(every) == {CROP, MASK, REORDER, INSERT, SUBSTITUTE}


def test_views_never_hold_held_out_items_offline_or_hybrid(synthetic_dir):
    """Every (user, position) has its own item: a held-out item in a view could only have leaked."""
    cfg = make_config("smoke", dataset="Beauty", max_users=0, contrast="coserec", bucket=False,
                      coserec=dict(insert=1.0, substitute=1.0, threshold=0, warm_up=0))
    dataset = data.load("Beauty")
    split = data.split(dataset, cfg.max_len)
    objective = build_objective(cfg, dataset)
    rows = TrainingRows(split, np.random.default_rng(0), torch.device("cpu"))
    held_out = dataset.items[np.r_[split.input_range("train")[1], split.input_range("valid")[1],
                                   split.input_range("test")[1]]]
    torch.manual_seed(0)
    model = build_model(cfg, dataset.n_items)
    users = np.flatnonzero(rows.lengths > 0)
    for epoch in (0, 1):  # offline, then hybrid
        objective.start_epoch(epoch, model, rows)
        assert objective.similarity_epoch == (1 if epoch else -1)
        views = np.concatenate([objective.draw_views(rows, users) for _ in range(20)])
        assert (views > 0).any() and not np.isin(views, held_out).any()
        assert not np.isin(objective.similar.item, held_out).any()


def coserec_smoke(**coserec):
    return make_config("smoke", dataset="Beauty", contrast="coserec", bucket=False, epochs=4, patience=4,
                       coserec=coserec)


def test_start_epoch_switches_to_hybrid_right_after_the_warm_up():
    cfg = coserec_smoke(warm_up=2)
    dataset = data.load("Beauty").head(cfg.max_users)
    split = data.split(dataset, cfg.max_len)
    objective = build_objective(cfg, dataset)
    model = build_model(cfg, dataset.n_items)
    rows = TrainingRows(split, np.random.default_rng(0), torch.device("cpu"))
    seen = []
    for epoch in range(5):
        with torch.no_grad():
            model.item_emb.weight.normal_()  # the embedding of this epoch's start
        objective.start_epoch(epoch, model, rows)
        seen.append(objective.similarity_epoch)
        expected = hybrid(objective.offline, *online_top1(model.item_emb.weight, objective.vocabulary)).item
        assert (objective.similar.item == (expected if epoch > 2 else objective.offline.item)).all()
    assert seen == [-1, -1, -1, 3, 4]  # the code's `epoch > augmentation_warm_up_epoches`


fit = fit_trainer


def test_a_killed_run_resumes_with_the_hybrid_table_and_the_same_result(isolated_cache, monkeypatch):
    cfg = coserec_smoke(warm_up=1)
    dataset = data.load("Beauty").head(cfg.max_users)
    uninterrupted, _ = fit(cfg, dataset)
    checkpoint = isolated_cache / "run.pt"
    saves, original_save = {"n": 0}, Trainer._save

    def save_then_die(self):
        original_save(self)
        saves["n"] += 1
        if saves["n"] == 3:
            raise KeyboardInterrupt  # killed after epoch 2, the first hybrid one, was checkpointed

    monkeypatch.setattr(Trainer, "_save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        fit(cfg, dataset, checkpoint)
    monkeypatch.setattr(Trainer, "_save", original_save)
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["objective"]
    restored = build_objective(cfg, dataset)
    restored.load_state_dict(state)
    assert restored.similarity_epoch == 2 and (restored.similar.item != restored.offline.item).any()
    assert (restored.similar.item == state["_extra_state"]["item"]).all()
    torch.manual_seed(12345)  # a fresh process
    resumed, trainer = fit(cfg, dataset, checkpoint)
    assert trainer.objective.similarity_epoch == 3
    assert [e["loss"] for e in resumed["history"]] == [e["loss"] for e in uninterrupted["history"]]
    assert resumed["test"] == uninterrupted["test"]


def test_a_smoke_run_records_coserec(isolated_cache):
    results = isolated_cache / "results"
    cfg = make_config("smoke", dataset="Beauty", contrast="coserec", bucket=False, coserec=dict(warm_up=0))
    record = runs.run(cfg, results, progress=False)
    path = runs.record_path(cfg, results)
    assert record["method"] == "CoSeRec" and path.parent.name == "coserec" and path.exists()
    assert "coserec.warm_up=0" in path.name and len(record["history"]) == cfg.epochs
    for entry in record["history"]:
        assert set(entry["losses"]) == {"next_item", "contrast"} and entry["losses"]["contrast"] > 0
    assert 0.0 <= record["test"]["NDCG@10"] <= record["test"]["HR@10"] <= 1.0
    assert runs.run(cfg, results) == record


@pytest.mark.parametrize("overrides, message", [
    (dict(coserec=dict(insert=1.5)), r"coserec.insert=1.5 must be in \[0, 1\]"),
    (dict(coserec=dict(substitute=-0.1)), r"coserec.substitute=-0.1 must be in \[0, 1\]"),
    (dict(coserec=dict(threshold=-1)), "coserec.threshold=-1 must be >= 0"),
    (dict(coserec=dict(short_set="SIX")), "coserec.short_set='SIX'; known: SI, SIM"),
    (dict(coserec=dict(warm_up=-1)), "coserec.warm_up=-1 must be >= 0"),
    (dict(contrast="cl4srec", coserec=dict(insert=0.5)), "coserec.* settings take effect only with contrast=coserec"),
    (dict(bucket=True), "contrast=coserec needs bucket=False"),
    (dict(model="gru4rec"), "is defined on the SASRec encoder"),
])
def test_bad_coserec_settings_are_clear_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("cpu", **{"contrast": "coserec", "bucket": False, **overrides})


def test_settings_names_and_keys():
    beauty = make_config("cpu", dataset="Beauty", **coserec_settings("Beauty"))
    assert (beauty.coserec.threshold, beauty.coserec.warm_up, beauty.coserec.short_set) == (12, 220, "SIMRC")
    assert (beauty.coserec.insert, beauty.coserec.substitute, beauty.cl.reorder) == (0.5, 0.05, 0.2)
    yelp = make_config("cpu", dataset="Yelp", **coserec_settings("Yelp"))
    assert (yelp.coserec.warm_up, yelp.coserec.insert, yelp.coserec.threshold) == (300, 0.5, 4)
    sports = make_config("cpu", dataset="Sports_and_Outdoors", **coserec_settings("Sports_and_Outdoors"))
    assert sports.coserec == make_config("cpu", contrast="coserec", bucket=False).coserec
    assert make_config("cpu", **coserec_settings("Toys_and_Games", code_reorder=True)).cl.reorder == 0.7
    assert method_name(beauty) == "CoSeRec" and "cl" in live_groups(beauty)
    assert parse_override("coserec.short_set=SIMRC") == ("coserec.short_set", "SIMRC")
    # the group joins the key only when live; CL4SRec's and SASRec's keys do not see it
    cl4srec = make_config("cpu", contrast="cl4srec", bucket=False)
    assert runs.run_key(beauty) != runs.run_key(make_config("cpu", dataset="Beauty", contrast="coserec", bucket=False))
    assert "coserec" not in live_groups(cl4srec)
    for record in runs.load_records(runs.RESULTS_DIR / "cpu"):
        config = dict(record["config"])
        config.pop("coserec", None)
        assert runs.run_key(make_config(config.pop("profile"), **config)) == record["key"]
