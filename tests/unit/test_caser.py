"""Caser (issue 7's baseline): the convolutions, its windows, user ids through training and evaluation, its runs."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqrec import data, runs
from seqrec.config import CaserConfig, make_config, method_name, original_settings
from seqrec.errors import ConfigError
from seqrec.models import build_model
from seqrec.models.caser import Caser
from seqrec.objectives import TrainingRows
from seqrec.objectives.caser import CaserBatch, CaserWindows, window_bce
from seqrec.train import evaluate

N_ITEMS, N_USERS = 30, 6


def caser(L: int = 3, d_model: int = 4, n_h: int = 2, n_v: int = 2, dropout: float = 0.0) -> Caser:
    torch.manual_seed(0)
    model = Caser(n_items=N_ITEMS, n_users=N_USERS, d_model=d_model, L=L, n_h=n_h, n_v=n_v, dropout=dropout)
    with torch.no_grad():
        model.output_bias.normal_()  # b' starts at 0: make it count
    return model.eval()


# ---------------------------------------------------------------- the model

def reference_features(model: Caser, window: list[int]) -> list[float]:
    """The paper's vertical and horizontal features of one window of L item ids, by loops over scalars."""
    E = model.item_emb.weight.double()[window].tolist()  # L rows of d
    L, d = len(E), len(E[0])
    vertical = []
    weight, bias = model.vertical.weight.double(), model.vertical.bias.double()
    for k in range(model.n_v):  # filter k: a weighted sum of the L rows, one value per column
        vertical += [sum(weight[k, 0, l, 0].item() * E[l][j] for l in range(L)) + bias[k].item() for j in range(d)]
    horizontal = []
    for h, conv in enumerate(model.horizontal, start=1):
        weight, bias = conv.weight.double(), conv.bias.double()
        for k in range(model.n_h):  # filter k of height h slides over the L - h + 1 positions; ReLU; max
            values = [sum(weight[k, 0, r, j].item() * E[i + r][j] for r in range(h) for j in range(d)) + bias[k].item()
                      for i in range(L - h + 1)]
            horizontal.append(max(max(v, 0.0) for v in values))
    return vertical + horizontal


def test_convolution_features_and_scores_equal_a_loop_reference():
    model = caser(L=3, d_model=4, n_h=2, n_v=2)
    windows = [[1, 2, 3], [7, 7, 30], [0, 0, 5]]  # a short user's padding row is an input like an item
    users = torch.tensor([0, 5, 2])
    with torch.no_grad():
        features = model.conv_features(torch.tensor(windows)).double()
        assert features.shape == (3, 2 * 4 + 3 * 2)
        for row, window in enumerate(windows):
            torch.testing.assert_close(features[row], torch.tensor(reference_features(model, window),
                                                                   dtype=torch.float64), atol=1e-6, rtol=1e-5)
        # y = W' [z; P_u] + b', z = ReLU(W features + b): every item scored, from the user's own embedding too
        z = torch.relu(features @ model.fc.weight.double().T + model.fc.bias.double())
        x = torch.cat([z, model.user_emb.weight.double()[users]], 1)
        expected = x @ model.output.weight.double().T + model.output_bias.double()
        torch.testing.assert_close(model.predict(torch.tensor(windows), users).double(), expected, atol=1e-6,
                                   rtol=1e-5)
        torch.testing.assert_close(model.item_scores(model.encode(torch.tensor(windows), users),
                                                     torch.tensor([[4, 9], [1, 1], [30, 2]])).double(),
                                   expected.gather(1, torch.tensor([[4, 9], [1, 1], [30, 2]])), atol=1e-6, rtol=1e-5)


def test_predict_uses_the_user_embedding_and_the_last_l_items_only():
    model = caser(L=3)
    seq = torch.tensor([[9, 8, 1, 2, 3], [0, 0, 0, 4, 5]])
    users = torch.tensor([1, 4])
    with torch.no_grad():
        scores = model.predict(seq, users)
        assert scores.shape == (2, N_ITEMS + 1) and scores.dtype == torch.float32
        older = seq.clone()
        older[:, :2] = torch.tensor([[20, 21], [22, 0]])  # items before the last L do not count
        torch.testing.assert_close(model.predict(older, users), scores)
        torch.testing.assert_close(model.predict(seq[:, -2:], users)[1], scores[1])  # narrower: left-padded
        recent = seq.clone()
        recent[0, 2] = 11  # the oldest of the last L items does
        assert not torch.allclose(model.predict(recent, users)[0], scores[0])
        assert not torch.allclose(model.predict(seq, torch.tensor([2, 4]))[0], scores[0])  # so does the user
        torch.testing.assert_close(model.predict(seq, torch.tensor([2, 4]))[1], scores[1])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert model.predict(seq, users).dtype == torch.float32


def test_evaluate_passes_each_row_its_own_user_id(synthetic_dir):
    dataset = data.load("Beauty")  # the synthetic one: each (user, position) has its own item
    split = data.split(dataset, 8)
    calls = []

    class Spy(Caser):
        def predict(self, seq, users):
            calls.append((seq.clone(), users.clone()))
            return super().predict(seq, users)

    torch.manual_seed(0)
    model = Spy(n_items=dataset.n_items, n_users=dataset.n_users, d_model=4, L=3, n_h=2, n_v=2)
    result = evaluate(model, split, "test", torch.device("cpu"), batch_size=16)
    assert 0.0 <= result["NDCG@10"] <= result["HR@10"] <= 1.0
    seen = []
    for seq, users in calls:
        for row, user in zip(seq.numpy(), users.tolist()):
            sequence = dataset.sequence(user)
            expected = sequence[:-1][-seq.shape[1]:]  # the test input's latest items, in the batch's trimmed width
            assert row[len(row) - len(expected):].tolist() == expected.tolist()
            seen.append(user)
    assert sorted(seen) == list(range(dataset.n_users))


def test_build_model_needs_the_user_count_for_caser():
    cfg = make_config("smoke", model="caser")
    model = build_model(cfg, N_ITEMS, N_USERS)
    assert model.user_emb.num_embeddings == N_USERS and model.L == cfg.caser.L == 5
    with pytest.raises(ValueError, match="n_users"):
        build_model(cfg, N_ITEMS)


# ---------------------------------------------------------------- the windows

def expected_windows(sequence: np.ndarray, L: int, T: int) -> list[tuple[list[int], list[int]]]:
    """The original's sliding windows of the training items s[0..n-3], written out per user."""
    items = sequence[:len(sequence) - 2].tolist()
    if len(items) < 2:
        return []
    if len(items) < L + T:
        window = [0] * (L + T - len(items)) + items
        return [(window[:L], window[L:])]
    return [(items[i:i + L], items[i + L:i + L + T]) for i in range(len(items) - L - T + 1)]


def test_windows_are_every_l_items_and_their_next_t_and_never_hold_validation_or_test_items(synthetic_dir):
    dataset = data.load("Beauty")  # lengths 4..12: training items 2..10, shorter and longer than L + T
    L, T = 3, 2
    objective = CaserWindows(CaserConfig(L=L, T=T), dataset)
    rows = TrainingRows(data.split(dataset, 50), np.random.default_rng(0), torch.device("cpu"))
    lengths = objective.sample_lengths(rows)
    assert (lengths == L + T).all()
    users, inputs, targets = objective.windows(np.arange(len(lengths)))
    for user in range(dataset.n_users):
        mine = sorted((i.tolist(), t.tolist()) for i, t in zip(inputs[users == user], targets[users == user]))
        assert mine == sorted(expected_windows(dataset.sequence(user), L, T)), user
        held_out = dataset.sequence(user)[-2:]
        assert not np.isin(held_out, np.concatenate([inputs[users == user], targets[users == user]], 1)).any()
    assert {len(dataset.sequence(u)) - 2 for u in users[(inputs == 0).all(1)]} == {2}  # <= T items: input all padding


def test_batches_carry_user_ids_and_negatives_outside_the_users_training_items(synthetic_dir):
    dataset = data.load("Beauty")
    objective = CaserWindows(CaserConfig(L=3, T=2, negatives=4), dataset)
    rows = TrainingRows(data.split(dataset, 50), np.random.default_rng(0), torch.device("cpu"), train_fraction=0.5)
    lengths = objective.sample_lengths(rows)
    kept_users = objective.sample_user[lengths > 0]
    assert kept_users.max() < dataset.n_users // 2 and set(kept_users) == set(range(dataset.n_users // 2))
    samples = np.flatnonzero(lengths > 0)
    batch = objective.make_batch(rows, samples)
    assert batch.negatives.shape == (len(samples), 2, 4)
    for user, target, negatives in zip(batch.users.tolist(), batch.targets.numpy(), batch.negatives.numpy()):
        training = dataset.sequence(user)[:-2]
        assert set(target[target > 0]) <= set(training)
        assert (negatives[target == 0] == 0).all() and (negatives[target > 0] > 0).all()
        assert not np.isin(negatives, training).any()


# ---------------------------------------------------------------- the loss

def test_the_loss_is_the_originals_binary_cross_entropy_when_every_target_is_real():
    model = caser(L=3)
    g = torch.Generator().manual_seed(0)
    batch = CaserBatch(users=torch.tensor([0, 3, 5]), inputs=torch.randint(0, N_ITEMS + 1, (3, 3), generator=g),
                       targets=torch.randint(1, N_ITEMS + 1, (3, 2), generator=g),
                       negatives=torch.randint(1, N_ITEMS + 1, (3, 2, 3), generator=g))
    loss = window_bce(model, batch)
    with torch.no_grad():
        scores = model.predict(batch.inputs, batch.users)
        pos, neg = scores.gather(1, batch.targets), scores.gather(1, batch.negatives.flatten(1))
        original = -torch.log(torch.sigmoid(pos)).mean() - torch.log(1 - torch.sigmoid(neg)).mean()
    assert loss.item() == pytest.approx(original.item(), rel=1e-5)
    # a padding target (and its negatives) is left out: the loss is the mean over the real targets
    padded = CaserBatch(batch.users, batch.inputs, batch.targets.clone(), batch.negatives.clone())
    padded.targets[0, 0], padded.negatives[0, 0] = 0, 0
    per_target = -(F.logsigmoid(pos) + F.logsigmoid(-neg.view(3, 2, 3)).mean(-1))
    expected = (per_target.sum() - per_target[0, 0]) / 5
    assert window_bce(model, padded).item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_loss_decreases_on_a_tiny_synthetic_problem():
    """Each user walks the item cycle 1 -> 2 -> ... with a step of its own (1 or 2): user and window tell the next T."""
    rng = np.random.default_rng(0)
    users = rng.integers(0, N_USERS, 128)
    step, start = users % 2 + 1, rng.integers(0, N_ITEMS, 128)
    walk = (start[:, None] + step[:, None] * np.arange(5)) % N_ITEMS + 1  # (B, L + T) with L = 3, T = 2
    negatives = rng.integers(1, N_ITEMS + 1, (128, 2, 3))
    negatives = np.where(negatives == walk[:, 3:, None], negatives % N_ITEMS + 1, negatives)
    batch = CaserBatch(*(torch.from_numpy(a) for a in (users, walk[:, :3], walk[:, 3:], negatives)))
    model = caser(L=3, d_model=16, n_h=4, n_v=2, dropout=0.0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(80):
        optimizer.zero_grad()
        loss = window_bce(model, batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_the_objective_trains_only_a_caser_of_its_own_window(synthetic_dir):
    dataset = data.load("Beauty")
    objective = CaserWindows(CaserConfig(L=5), dataset)
    rows = TrainingRows(data.split(dataset, 50), np.random.default_rng(0), torch.device("cpu"))
    batch = objective.make_batch(rows, np.arange(4))
    torch.manual_seed(0)
    fitting = Caser(n_items=dataset.n_items, n_users=dataset.n_users, d_model=4, L=5)
    assert torch.isfinite(objective(fitting, batch)["caser"])
    other = Caser(n_items=dataset.n_items, n_users=dataset.n_users, d_model=4, L=3)
    with pytest.raises(ValueError, match="windows of L=5 items"):
        objective(other, batch)
    other_data = data.split(dataset.head(10), 50)
    with pytest.raises(ValueError, match="not the one this objective was built for"):
        objective.sample_lengths(TrainingRows(other_data, np.random.default_rng(0), torch.device("cpu")))


# ---------------------------------------------------------------- settings and runs

@pytest.mark.parametrize("overrides, message", [
    (dict(n_heads=4), r"n_heads=4 does nothing for model=caser \(no attention\)"),
    (dict(attn_dropout=0.1), "attn_dropout=0.1 does nothing for model=caser"),
    (dict(n_layers=1), "n_layers=1 does nothing for model=caser"),
    (dict(max_len=20), "max_len=20 does nothing for model=caser"),
    (dict(bucket=False), "bucket=False does nothing for model=caser"),
    (dict(objective="bce"), "model=caser trains with objective=caser"),
    (dict(objective="cloze"), "objective=cloze needs model=bert4rec .*, not caser"),
    (dict(contrast="cl4srec", bucket=False), r"contrast=cl4srec \(CL4SRec\) is defined on the SASRec encoder"),
    (dict(contrast="cl4srec"), r"contrast=cl4srec \(CL4SRec\) is defined on the SASRec encoder"),
    (dict(pretrain="s3rec"), "S3Rec pre-training and fine-tuning are defined for model=sasrec, not caser"),
    (dict(objective="s3rec"), "model=caser trains with objective=caser"),
    (dict(caser=dict(L=0)), r"caser\.L=0 and caser\.T=3 must be at least 1"),
    (dict(caser=dict(T=0)), r"caser\.L=5 and caser\.T=0 must be at least 1"),
    (dict(caser=dict(n_h=0, n_v=0)), "at least one filter"),
    (dict(caser=dict(negatives=0)), r"caser\.negatives=0 must be at least 1"),
    (dict(caser=dict(L=51)), r"caser\.L=51 exceeds max_len=50"),
])
def test_caser_bad_settings_are_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("cpu", model="caser", **overrides)


def test_caser_settings_and_objective_belong_to_caser_only():
    with pytest.raises(ConfigError, match=r"caser\.\* settings take effect only with model=caser"):
        make_config("cpu", caser=dict(L=3))
    with pytest.raises(ConfigError, match="objective=caser needs model=caser"):
        make_config("cpu", model="gru4rec", objective="caser")
    with pytest.raises(ConfigError, match="model=bert4rec trains with objective=cloze"):
        make_config("cpu", model="bert4rec", objective="caser")


def test_caser_original_settings_name_and_key():
    cfg = make_config("cpu", dataset="Beauty", **original_settings("caser", "Beauty"))
    assert (cfg.d_model, cfg.dropout, cfg.lr, cfg.weight_decay, cfg.batch_size) == (50, 0.5, 1e-3, 1e-6, 512)
    assert cfg.caser == CaserConfig(L=5, T=3, n_h=16, n_v=4, negatives=3) and cfg.objective == "caser"
    assert method_name(cfg) == "Caser" and method_name(make_config("cpu", model="caser", update="sam")) == "Caser+SAM"
    assert make_config("cpu", model="caser").objective == "caser"  # the model's own objective by default
    # the caser group joins the key when live, and only then
    assert runs.run_key(cfg) != runs.run_key(make_config("cpu", **{**original_settings("caser", "Beauty"),
                                                                     "caser": dict(L=4)}))
    assert "caser" not in runs.settings_label(cfg) and "objective" not in runs.settings_label(cfg)


def test_a_smoke_run_trains_end_to_end_and_records_caser(isolated_cache):
    results = isolated_cache / "results"
    cfg = make_config("smoke", dataset="Beauty", model="caser")
    record = runs.run(cfg, results, progress=False)
    path = runs.record_path(cfg, results)
    assert path.name.startswith(f"Beauty-seed1-{runs.run_key(cfg)}")  # the model's defaults are no settings
    assert path.exists() and path.parent.name == "caser" and record["method"] == "Caser"
    assert record["model"] == "caser" and len(record["history"]) == cfg.epochs
    assert all(set(e["losses"]) == {"caser"} and math.isfinite(e["loss"]) for e in record["history"])
    assert 0.0 <= record["test"]["NDCG@10"] <= record["test"]["HR@10"] <= 1.0
    assert runs.run(cfg, results) == record  # found again by its key
