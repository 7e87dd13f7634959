import itertools

import numpy as np
import pytest
import torch

from seqrec import data
from seqrec.config import DATASETS
from seqrec.errors import DataError
from seqrec.models.sasrec import SASRec
from seqrec.objectives import TrainBatch, next_item_bce

from ..conftest import write_dataset

# Statistics of the vendored files (data/README.md), which the papers print too.
EXPECTED = {"Beauty": (22363, 12101, 198502), "Sports_and_Outdoors": (35598, 18357, 296337),
            "Toys_and_Games": (19412, 11924, 167597), "Yelp": (30431, 20033, 316354),
            "ML-1M": (6040, 3706, 1000209), "LastFM": (1090, 3646, 52551)}


@pytest.mark.parametrize("name", DATASETS)
def test_vendored_datasets_load_with_expected_statistics(name):
    ds = data.load(name)
    assert (ds.n_users, ds.n_items, len(ds.items)) == EXPECTED[name]
    assert ds.lengths.min() >= 3 and ds.items.min() == 1
    assert ds.n_attributes > 0 and len(ds.attr_offsets) == ds.n_items + 2


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DataError, match="unknown dataset 'Amazon'; known datasets: Beauty, Sports_and_Outdoors"):
        data.load("Amazon")


@pytest.mark.parametrize("bad_line, message", [
    ("3 4 five 6", r"line 3: 'five' is not an integer id"),
    ("3 4 0 6", r"line 3: ids must be positive"),
    ("3 4 -2 6", r"line 3: ids must be positive"),
    ("3 4 5", r"line 3: user 3 has 2 items; leave-one-out needs at least 3"),
    ("", r"line 3: empty line"),
    ("3 4 --5 6", r"line 3: '--5' is not an integer id"),
    ("3 4 123456789012345678901 6", r"line 3: '123456789012345678901' is not an integer id"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    directory = write_dataset(tmp_path, ["1 1 2 3 4", "2 2 3 4 5", bad_line, "4 1 2 3"],
                              attributes={str(i): [1] for i in range(1, 7)})
    with pytest.raises(DataError, match=f"Beauty.txt, {message}"):
        data.load("Beauty", directory)


def test_checksum_mismatch_is_reported(tmp_path):
    directory = write_dataset(tmp_path, ["1 1 2 3 4", "2 2 3 4 5"])
    (directory / "Beauty.txt").write_text("1 1 2 3 4\n2 2 3 4 6\n")
    with pytest.raises(DataError, match="checksum mismatch for .*Beauty.txt"):
        data.load("Beauty", directory)


def test_attribute_file_with_unknown_item_is_rejected(tmp_path):
    directory = write_dataset(tmp_path, ["1 1 2 3 4"], attributes={"1": [1], "99": [2]})
    with pytest.raises(DataError, match="item id '99' is not in 1..4"):
        data.load("Beauty", directory)


def test_attribute_file_must_be_an_object(tmp_path):
    directory = write_dataset(tmp_path, ["1 1 2 3 4"], attributes=[1, 2])
    with pytest.raises(DataError, match="must hold one JSON object"):
        data.load("Beauty", directory)


def test_leave_one_out_by_hand():
    ds = data.Dataset("toy", np.arange(1, 8), np.array([0, 7]), 7, np.zeros(0, np.int64),
                      np.zeros(9, np.int64), 0, "x")
    sp = data.split(ds, max_len=3)
    # s = 1..7: train input 1..4 -> targets 2..5 (last 3 kept), valid 1..5 -> 6, test 1..6 -> 7
    assert sp.inputs("train").tolist() == [[2, 3, 4]]
    assert sp.train_targets().tolist() == [[3, 4, 5]]
    assert sp.inputs("valid").tolist() == [[3, 4, 5]] and sp.targets("valid").tolist() == [6]
    assert sp.inputs("test").tolist() == [[4, 5, 6]] and sp.targets("test").tolist() == [7]
    wide = data.split(ds, max_len=6)
    assert wide.inputs("train").tolist() == [[0, 0, 1, 2, 3, 4]]  # left padding
    rows, items = wide.history("test", np.array([0]))
    assert items.tolist() == [1, 2, 3, 4, 5, 6] and rows.tolist() == [0] * 6


def test_valid_and_test_items_never_reach_training(synthetic_dir):
    ds = data.load("Beauty")
    sp = data.split(ds, max_len=50)
    held_out = set(sp.targets("valid")) | set(sp.targets("test"))
    train_ids = set(sp.inputs("train").ravel()) | set(sp.train_targets().ravel())
    assert not held_out & train_ids
    # negatives are drawn outside the training sequence only: held-out items stay possible negatives,
    # so the sampler's behaviour does not depend on them either
    sampler = data.NegativeSampler(sp)
    users = np.repeat(np.arange(ds.n_users), 2000)
    negatives = sampler.sample(users, np.random.default_rng(0))
    for u in range(ds.n_users):
        drawn = set(negatives[users == u])
        assert not drawn & set(ds.sequence(u)[:-2])
    assert held_out & set(negatives)


def test_negatives_avoid_the_users_training_items_on_real_data():
    sp = data.split(data.load("Beauty").head(500), 50)
    sampler = data.NegativeSampler(sp)
    users = np.repeat(np.arange(500), 50)
    negatives = sampler.sample(users, np.random.default_rng(1))
    starts, ends = sp.training_items_range()
    for u in range(500):
        assert not set(negatives[users == u]) & set(sp.dataset.items[starts[u]:ends[u]])


def test_bucketed_batches_cover_every_user_once():
    lengths = np.array([0, 3, 1, 7, 2, 2, 5, 0, 9])
    batches = data.length_batches(lengths, 3, np.random.default_rng(0))
    seen = np.concatenate(batches)
    assert sorted(seen) == [1, 2, 3, 4, 5, 6, 8]
    # bucketed: the batches, put back in length order, are consecutive runs of the sorted lengths
    ordered = sorted(batches, key=lambda b: lengths[b].min())
    assert np.concatenate([np.sort(lengths[b]) for b in ordered]).tolist() == sorted(lengths[lengths > 0])


def test_trimmed_batches_equal_the_fixed_length_computation():
    sp = data.split(data.load("Beauty").head(400), 50)
    torch.manual_seed(0)
    model = SASRec(n_items=sp.dataset.n_items, d_model=16, dropout=0.3, attn_dropout=0.3).eval()
    inputs, targets, lengths = sp.inputs("train"), sp.train_targets(), sp.input_lengths("train")
    negatives = np.random.default_rng(0).integers(1, sp.dataset.n_items + 1, size=inputs.shape) * (targets > 0)
    widths = []
    for users in data.length_batches(lengths, 64, np.random.default_rng(0)):
        short = data.trim(inputs[users], lengths[users])
        width = short.shape[1]
        widths.append(width)
        assert width == lengths[users].max() and (inputs[users][:, :50 - width] == 0).all()
        full_hidden = model.encode(torch.from_numpy(inputs[users]))
        short_hidden = model.encode(torch.from_numpy(short))
        real = torch.from_numpy(short > 0)  # padding rows attend to nothing real and carry no loss
        torch.testing.assert_close(short_hidden[real], full_hidden[:, 50 - width:][real], atol=1e-5, rtol=1e-5)
        full = TrainBatch(*(torch.from_numpy(a[users]) for a in (inputs, targets, negatives)))
        trimmed = TrainBatch(*(torch.from_numpy(data.trim(a[users], lengths[users])) for a in (inputs, targets, negatives)))
        torch.testing.assert_close(next_item_bce(model, trimmed), next_item_bce(model, full))
    assert min(widths) < 10  # most batches really are trimmed


def test_each_position_weighs_the_same_whichever_users_share_its_batch():
    """Bucketing changes batch composition; an epoch's summed loss must not change with it (a plain
    per-batch mean would weigh a position in a batch of short sequences far more)."""
    from seqrec.config import make_config
    from seqrec.models import build_model
    from seqrec.objectives import next_item_ce
    from seqrec.train import Trainer

    sp = data.split(data.load("Beauty").head(512), 50)
    cfg = make_config("smoke", objective="ce", dropout=0.0, attn_dropout=0.0, batch_size=64, lr=0.01)
    torch.manual_seed(0)
    trainer = Trainer(cfg, sp, build_model(cfg, sp.dataset.n_items), torch.device("cpu"), progress=False)
    for _ in range(3):  # an untrained model has the same loss everywhere, which would hide any weighting
        trainer.train_epoch()

    def epoch_loss(bucket: bool) -> float:
        rows = trainer.rows
        batches = data.length_batches(rows.lengths, 64, np.random.default_rng(1), bucket=bucket)
        assert {len(b) for b in batches} == {64}
        with torch.no_grad():
            return sum(float(next_item_ce(trainer.model, rows.next_item_batch(users, len(users) * rows.positions_per_user,
                                                                               negatives=False)))
                       for users in batches)

    assert epoch_loss(True) == pytest.approx(epoch_loss(False), rel=1e-5)


def test_a_random_batch_computed_in_trimmed_chunks_equals_it_padded():
    """bucket=False keeps the original's random batches but computes each in length-sorted, trimmed chunks: the loss
    and every gradient must be those of the batch padded to max_len."""
    from seqrec.config import make_config
    from seqrec.models import build_model
    from seqrec.objectives import TrainBatch, next_item_ce
    from seqrec.objectives.next_item import RANDOM_BATCH_CHUNKS
    from seqrec.train import Trainer

    sp = data.split(data.load("Beauty").head(400), 50)
    cfg = make_config("smoke", objective="ce", dropout=0.0, attn_dropout=0.0, bucket=False, batch_size=128)
    torch.manual_seed(0)
    trainer = Trainer(cfg, sp, build_model(cfg, sp.dataset.n_items), torch.device("cpu"), progress=False)
    trainer.train_epoch()  # away from the initialisation
    rows = trainer.rows
    users = data.length_batches(rows.lengths, 128, np.random.default_rng(3), bucket=False)[0]
    assert rows.lengths[users].max() == 50 and np.median(rows.lengths[users]) < 15  # chunks do trim
    assert RANDOM_BATCH_CHUNKS > 1

    def loss_and_grads(loss):
        trainer.model.zero_grad()
        loss.backward()
        return loss.item(), [p.grad.clone() for p in trainer.model.parameters()]

    passes = trainer.objective.make_batch(rows, users)
    assert 1 < len(passes) <= RANDOM_BATCH_CHUNKS and max(p.inputs.shape[1] for p in passes[:-1]) < 50
    chunked, chunked_grads = loss_and_grads(trainer.batch_losses(passes)["next_item"])
    padded_batch = TrainBatch(torch.from_numpy(rows.inputs[users]), torch.from_numpy(rows.targets[users]),
                              normalizer=len(users) * rows.positions_per_user)
    padded, padded_grads = loss_and_grads(next_item_ce(trainer.model, padded_batch))
    assert chunked == pytest.approx(padded, rel=1e-5)
    for a, b in zip(chunked_grads, padded_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("name, share", [("Beauty", 0.0), ("Sports_and_Outdoors", 0.0), ("Toys_and_Games", 0.0),
                                         ("ML-1M", 0.0), ("LastFM", 0.0), ("Yelp", 0.067)])
def test_share_of_test_items_that_repeat_the_history(name, share):
    """Such targets count as misses (metrics.py); only Yelp has any, so only Yelp depends on that rule."""
    sp = data.split(data.load(name), 50)
    users = np.arange(sp.dataset.n_users)
    rows, items = sp.history("test", users)
    targets = sp.targets("test")
    repeats = np.unique(rows[items == targets[rows]])
    assert len(repeats) / len(users) == pytest.approx(share, abs=0.0005)


def test_length_passes_leave_the_fewest_padding_slots_a_brute_force_search_finds():
    def slots(runs, lengths):
        return sum(len(r) * lengths[r].max() for r in runs)

    def fewest(lengths, passes, points):  # every way of cutting the sorted lengths at ``points``, in <= passes runs
        s = np.sort(lengths)
        return min(sum((b - a) * s[b - 1] for a, b in zip((0, *cuts), (*cuts, len(s))))
                   for k in range(passes) for cuts in itertools.combinations(points, k))

    rng = np.random.default_rng(0)
    for _ in range(200):  # batches of at most PASS_BLOCKS samples: a cut may fall anywhere
        lengths = rng.integers(1, 8, size=rng.integers(1, 10))
        passes = int(rng.integers(1, 5))
        samples = rng.permutation(len(lengths))
        runs = data.length_passes(samples, lengths, passes)
        assert len(runs) <= passes and sorted(np.concatenate(runs)) == sorted(samples)
        assert all(lengths[a].max() <= lengths[b].min() for a, b in zip(runs, runs[1:]))  # sorted by length
        assert slots(runs, lengths) == fewest(lengths, passes, range(1, len(lengths)))
    lengths = rng.integers(1, 51, size=100)  # a larger batch: cuts at multiples of ceil(100 / PASS_BLOCKS)
    block = -(-100 // data.PASS_BLOCKS)
    runs = data.length_passes(np.arange(100), lengths, 3)
    assert all(len(r) % block == 0 for r in runs[:-1])
    assert slots(runs, lengths) == fewest(lengths, 3, range(block, 100, block))
    equal_parts = np.array_split(np.argsort(lengths, kind="stable"), 3)
    assert slots(runs, lengths) < slots(equal_parts, lengths)
    with pytest.raises(ValueError, match="passes=0"):
        data.length_passes(np.arange(3), np.ones(3, dtype=int), 0)
