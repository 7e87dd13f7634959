"""S3Rec pre-training: samples, masking, segments and the four losses against a slow per-sample reference."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqrec import data
from seqrec.config import S3RecConfig
from seqrec.data import Dataset
from seqrec.models.sasrec import SASRec
from seqrec.objectives.base import TrainingRows
from seqrec.objectives.s3rec import S3RecPretraining

D_MODEL = 16


def synthetic_dataset() -> Dataset:
    """Eight users over 9 items (so mask_id = 10 is often drawn as a negative); item 3 lists attribute 2 twice."""
    rng = np.random.default_rng(7)
    sequences = [rng.integers(1, 10, size=n) for n in (3, 4, 5, 6, 9, 12, 15, 20)]
    attributes = {i: [1 + i % 4, 5] if i % 2 else [1 + i % 4] for i in range(1, 10)}
    attributes[3] = [2, 2, 4]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sequences])])
    attr_counts = [0] + [len(attributes[i]) for i in range(1, 10)]
    return Dataset("synthetic", np.concatenate(sequences).astype(np.int64), offsets.astype(np.int64), 9,
                   np.array([a for i in range(1, 10) for a in attributes[i]], dtype=np.int64),
                   np.concatenate([[0], np.cumsum(attr_counts)]).astype(np.int64), 5, "synthetic")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: a second thread only contends with the machine's other work (30x slower under load)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def beauty() -> Dataset:
    return data.load("Beauty").head(200)


def rows_for(dataset: Dataset, max_len: int, seed: int = 0, train_fraction: float = 1.0) -> TrainingRows:
    return TrainingRows(data.split(dataset, max_len), np.random.default_rng(seed), torch.device("cpu"), train_fraction)


def objective_for(dataset: Dataset, max_len: int, **settings) -> S3RecPretraining:
    torch.manual_seed(0)
    return S3RecPretraining(S3RecConfig(**settings), dataset, D_MODEL, max_len)


def model_for(dataset: Dataset, max_len: int) -> SASRec:
    torch.manual_seed(1)
    return SASRec(n_items=dataset.n_items, d_model=D_MODEL, max_len=max_len, dropout=0.0, attn_dropout=0.0,
                  mask_token=True)


def prefix_samples(dataset: Dataset, max_len: int) -> list[list[int]]:
    """The original's PretrainDataset.split_sequence, written out."""
    samples = []
    for user in range(dataset.n_users):
        input_ids = dataset.sequence(user).tolist()[-(max_len + 2):-2]
        samples += [input_ids[:i + 1] for i in range(len(input_ids))]
    return samples


def batch_arrays(batch) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in vars(batch).items()}


# ---------------------------------------------------------------- samples

@pytest.mark.parametrize("max_len", [5, 50])
def test_the_sample_table_holds_every_prefix_of_the_last_max_len_training_items(beauty, max_len):
    objective = objective_for(beauty, max_len)
    expected = prefix_samples(beauty, max_len)
    assert len(expected) == np.minimum(beauty.lengths - 2, max_len).sum()
    lengths = objective.sample_lengths(rows_for(beauty, max_len))
    assert lengths.tolist() == [len(s) for s in expected] and lengths.max() <= max_len
    starts = objective.sample_start
    assert all(beauty.items[starts[i]:starts[i] + lengths[i]].tolist() == s for i, s in enumerate(expected))
    long_sequence = [item for user in range(beauty.n_users) for item in beauty.sequence(user).tolist()[:-2]]
    assert objective.long_sequence.tolist() == long_sequence


def test_users_without_a_training_row_contribute_no_samples(beauty):
    objective = objective_for(beauty, 50)
    lengths = objective.sample_lengths(rows_for(beauty, 50, train_fraction=0.5))
    assert (lengths[objective.sample_user < 100] > 0).all() and (lengths[objective.sample_user >= 100] == 0).all()


def test_a_batch_from_another_dataset_or_a_model_without_mask_token_is_refused(beauty):
    objective = objective_for(beauty, 50)
    with pytest.raises(ValueError, match="not the one this objective was built for"):
        objective.sample_lengths(rows_for(synthetic_dataset(), 50))
    batch = objective.make_pass(rows_for(beauty, 50), np.arange(10))
    with pytest.raises(ValueError, match="mask_token=True"):
        objective(SASRec(n_items=beauty.n_items, d_model=D_MODEL), [batch])


# ---------------------------------------------------------------- masking and segments

def test_masking_statistics_and_negatives():
    dataset = synthetic_dataset()
    objective, rows = objective_for(dataset, 50), rows_for(dataset, 50)
    samples = np.repeat(np.arange(len(objective.sample_length)), 200)  # every sample many times over
    b = batch_arrays(objective.make_pass(rows, samples))
    masked, real = b["masked_items"] == objective.mask_id, b["pos_items"] > 0
    assert masked[:, -1].all() and not (masked & ~real).any()
    assert (b["masked_items"][~masked] == b["pos_items"][~masked]).all()
    earlier = real.copy()
    earlier[:, -1] = False
    assert abs(masked[earlier].mean() - 0.2) < 0.01  # ~25k draws: a standard error of 0.0025
    owners = np.nonzero(masked)[0]
    negatives = b["neg_items"][masked]
    assert not (b["pos_items"][owners] == negatives[:, None]).any()  # never an item of the sample
    assert negatives.min() >= 1 and negatives.max() == dataset.n_items + 1  # mask_id is in the range, as the original
    # uniform over the allowed items: mask_id is drawn with probability 1 / (n_items + 1 - distinct items of the sample)
    distinct = np.array([len(set(row[row > 0])) for row in b["pos_items"]])[owners]
    expected_share = np.mean(1.0 / (dataset.n_items + 1 - distinct))
    assert abs(np.mean(negatives == dataset.n_items + 1) - expected_share) < 0.02
    assert (b["neg_items"][~masked] == b["pos_items"][~masked]).all()


def test_segments_mask_a_short_span_whose_negative_is_a_window_of_the_long_sequence():
    dataset = synthetic_dataset()
    objective, rows = objective_for(dataset, 50), rows_for(dataset, 50)
    samples = np.repeat(np.arange(len(objective.sample_length)), 20)
    b = batch_arrays(objective.make_pass(rows, samples))
    mask_id, long_sequence = objective.mask_id, objective.long_sequence.tolist()
    for row, m in enumerate(objective.sample_length[samples]):
        seq = b["pos_items"][row]
        if m < 2:
            for name in ("masked_segment", "pos_segment", "neg_segment"):
                assert (b[name][row] == seq).all()
            continue
        inside = np.flatnonzero(b["masked_segment"][row] == mask_id)
        length = len(inside)
        assert 1 <= length <= m // 2 and (np.diff(inside) == 1).all() and inside[0] >= len(seq) - m
        restored = np.where(b["masked_segment"][row] == mask_id, b["pos_segment"][row], b["masked_segment"][row])
        assert (restored == seq).all()
        outside = np.setdiff1d(np.flatnonzero(seq), inside)
        assert (b["pos_segment"][row][outside] == mask_id).all() and (b["neg_segment"][row][outside] == mask_id).all()
        assert (b["pos_segment"][row][seq == 0] == 0).all() and (b["neg_segment"][row][seq == 0] == 0).all()
        window = b["neg_segment"][row][inside].tolist()
        assert any(long_sequence[j:j + length] == window for j in range(len(long_sequence) - length + 1))
    longest = int(np.argmax(objective.sample_length))  # 18 items: segment lengths 1..9
    b = batch_arrays(objective.make_pass(rows, np.full(300, longest)))
    assert set((b["masked_segment"] == mask_id).sum(1).tolist()) == set(range(1, 10))


def test_same_seed_same_batches_other_seed_other_batches(beauty):
    objective = objective_for(beauty, 50)
    samples = np.arange(100, 200)
    first, second, other = (batch_arrays(objective.make_pass(rows_for(beauty, 50, seed), samples))
                            for seed in (3, 3, 4))
    assert all((first[k] == second[k]).all() for k in first)
    assert not (first["masked_items"] == other["masked_items"]).all()


# ---------------------------------------------------------------- losses

def reference_losses(objective: S3RecPretraining, model: SASRec, batch, dataset: Dataset) -> dict[str, torch.Tensor]:
    """S3RecModel.pretrain written per sample and per position: each row padded to max_len, a dense multi-hot."""
    mask_id, max_len, heads = model.mask_id, model.max_len, objective.heads
    attribute_emb = objective.attribute_emb.weight
    totals = dict.fromkeys(("aap", "mip", "map", "sp"), torch.zeros((), dtype=attribute_emb.dtype))

    def padded(row: torch.Tensor) -> torch.Tensor:
        return F.pad(row, (max_len - len(row), 0))[None]

    def multi_hot(item: int) -> torch.Tensor:
        target = torch.zeros(len(attribute_emb), dtype=attribute_emb.dtype)
        target[dataset.attr_items[dataset.attr_offsets[item]:dataset.attr_offsets[item + 1]]] = 1.0
        return target

    for b in range(len(batch.pos_items)):
        hidden = model.encode(padded(batch.masked_items[b]), causal=False)[0]
        context = model.encode(padded(batch.masked_segment[b]), causal=False)[0, -1]
        pos_rep = model.encode(padded(batch.pos_segment[b]), causal=False)[0, -1]
        neg_rep = model.encode(padded(batch.neg_segment[b]), causal=False)[0, -1]
        width = batch.pos_items.shape[1]
        for t in range(width):
            item, h = int(batch.pos_items[b, t]), hidden[max_len - width + t]
            if item == 0:
                continue
            task = "map" if int(batch.masked_items[b, t]) == mask_id else "aap"
            probabilities = torch.sigmoid(attribute_emb @ heads[task](h))
            totals[task] = totals[task] + F.binary_cross_entropy(probabilities, multi_hot(item), reduction="sum")
            if task == "map":
                state = heads["mip"](h)
                pos = torch.sigmoid(state @ model.item_emb.weight[item])
                neg = torch.sigmoid(state @ model.item_emb.weight[int(batch.neg_items[b, t])])
                totals["mip"] = totals["mip"] - torch.log(torch.sigmoid(pos - neg))
        state = heads["sp"](context)
        pos, neg = torch.sigmoid(state @ pos_rep), torch.sigmoid(state @ neg_rep)
        totals["sp"] = totals["sp"] - torch.log(torch.sigmoid(pos - neg))
    weights = objective.settings
    return {name: getattr(weights, name) * value for name, value in totals.items()}


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("which", ["synthetic", "beauty"])
def test_the_four_losses_equal_a_per_sample_reference(which, beauty, float64):
    dataset = synthetic_dataset() if which == "synthetic" else beauty
    objective, model = objective_for(dataset, 20), model_for(dataset, 20)
    rows = rows_for(dataset, 20)
    samples = np.arange(0, len(objective.sample_length), max(1, len(objective.sample_length) // 40))
    batch = objective.make_pass(rows, samples)
    losses = objective(model, [batch])
    expected = reference_losses(objective, model, batch, dataset)
    assert set(losses) == set(expected)
    for name in expected:
        torch.testing.assert_close(losses[name], expected[name], rtol=1e-10, atol=1e-10)
    sum(losses.values()).backward()
    for name, parameter in [*objective.named_parameters(), ("item_emb", model.item_emb.weight)]:
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_a_zero_weight_drops_its_term(beauty):
    objective, model = objective_for(beauty, 50, aap=0.0, map=0.0), model_for(beauty, 50)
    losses = objective(model, [objective.make_pass(rows_for(beauty, 50), np.arange(50))])
    assert losses["aap"] == 0 and losses["map"] == 0 and losses["mip"] > 0 and losses["sp"] > 0


def test_a_few_adam_steps_reduce_the_summed_loss(beauty):
    objective, model = objective_for(beauty, 50), model_for(beauty, 50)
    batch = objective.make_pass(rows_for(beauty, 50), np.arange(0, 2000, 20))
    optimizer = torch.optim.Adam([*model.parameters(), *objective.parameters()], lr=1e-3)
    totals = []
    for _ in range(8):
        loss = sum(objective(model, [batch]).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        totals.append(loss.item())
    assert all(later < earlier for earlier, later in zip(totals, totals[1:])), totals


def test_a_training_step_runs_with_the_familys_dropout(beauty):
    """The pre-training run trains SASRec's defaults (dropout 0.5 on hidden states and attention probabilities)."""
    objective = objective_for(beauty, 50)
    torch.manual_seed(2)
    model = SASRec(n_items=beauty.n_items, d_model=D_MODEL, mask_token=True).train()
    losses = objective(model, [objective.make_pass(rows_for(beauty, 50), np.arange(0, 2000, 20))])
    total = sum(losses.values())
    total.backward()
    assert torch.isfinite(total) and model.item_emb.weight.grad.abs().sum() > 0


def test_a_random_batch_in_trimmed_passes_gives_the_loss_of_the_whole_batch(beauty):
    """bucket=False: the original's random batches of prefixes, computed in length-sorted passes; the losses are sums
    over samples, so the passes add up to one pass over the whole batch (same draws: the same rng seed)."""
    objective = S3RecPretraining(S3RecConfig(), beauty, D_MODEL, 50, bucket=False)
    model = model_for(beauty, 50).eval()
    samples = np.random.default_rng(0).choice(len(objective.sample_length), 120, replace=False)
    passes = objective.make_batch(rows_for(beauty, 50), samples)
    assert len(passes) == 4 and min(p.pos_items.shape[1] for p in passes) < max(p.pos_items.shape[1] for p in passes)
    split = objective(model, passes)
    whole = {k: sum(objective.pass_losses(model, p)[k] for p in passes) for k in split}
    for name in split:
        torch.testing.assert_close(split[name], whole[name])
    # and each pass computes what the same samples padded to the widest one compute
    widest = max(p.pos_items.shape[1] for p in passes)
    padded = [type(p)(*(torch.nn.functional.pad(t, (widest - t.shape[1], 0)) if t.dim() == 2 else t
                        for t in vars(p).values())) for p in passes]
    for p, q in zip(passes, padded):
        q.attr_cols = q.attr_cols + (widest - p.pos_items.shape[1])  # a new tensor: p keeps its own
        for name, value in objective.pass_losses(model, p).items():
            torch.testing.assert_close(value, objective.pass_losses(model, q)[name], rtol=1e-4, atol=1e-4)
