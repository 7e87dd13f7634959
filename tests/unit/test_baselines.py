"""GRU4Rec and BERT4Rec (issue 7's baselines): the encoders, the cloze objective, their settings and their runs."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqrec import data, runs
from seqrec.config import ClozeConfig, make_config, method_name, original_settings
from seqrec.errors import ConfigError
from seqrec.models.bert4rec import BERT4Rec
from seqrec.models.gru4rec import GRU4Rec
from seqrec.models.sasrec import SASRec
from seqrec.objectives import NextItem, TrainBatch, TrainingRows
from seqrec.objectives.cloze import Cloze, ClozeBatch
from seqrec.objectives.full_softmax import full_softmax_cross_entropy

N_ITEMS = 30


def left_pad(sequences: list[list[int]], width: int) -> torch.Tensor:
    return torch.tensor([[0] * (width - len(s)) + s for s in sequences])


def gru4rec(n_layers: int = 2, dropout: float = 0.0) -> GRU4Rec:
    torch.manual_seed(0)
    model = GRU4Rec(n_items=N_ITEMS, d_model=16, n_layers=n_layers, dropout=dropout)
    for name, parameter in model.gru.named_parameters():
        if name.startswith("bias"):  # biases start at 0, where a GRU over padding would keep its zero state
            torch.nn.init.normal_(parameter)  # trained biases are not 0: padding would move the state
    return model


def bert4rec(**kw) -> BERT4Rec:
    torch.manual_seed(0)
    return BERT4Rec(n_items=N_ITEMS, d_model=16, n_heads=2, max_len=8, **kw)


# ---------------------------------------------------------------- GRU4Rec

def test_gru4rec_outputs_at_real_positions_ignore_the_left_padding():
    model = gru4rec().eval()
    sequences = [[3, 4, 5, 6, 7], [9, 2], [1, 2, 3, 4, 5, 6, 7, 8], [30], [5, 5, 7]]
    with torch.no_grad():
        for width in (8, 11):
            batch = left_pad(sequences, width)
            hidden = model.encode(batch)  # (B, width, d)
            for row, sequence in enumerate(sequences):
                alone = model.encode(torch.tensor([sequence]))[0]  # no padding at all
                torch.testing.assert_close(hidden[row, width - len(sequence):], alone, atol=1e-6, rtol=1e-5)
                assert (hidden[row, :width - len(sequence)] == 0).all()
        # what the test guards against: a plain GRU run through the padding gives other outputs
        naive, _ = model.gru(model.item_emb(left_pad(sequences, 8)))
        assert not torch.allclose(naive[1, -2:], model.encode(torch.tensor([sequences[1]]))[0], atol=1e-3)


def test_gru4rec_predict_scores_every_item_in_fp32_from_the_last_slot():
    model = gru4rec().eval()
    seq = left_pad([[3, 4, 5], [7, 8, 9, 10, 11, 12]], 6)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        scores = model.predict(seq)
    assert scores.shape == (2, N_ITEMS + 1) and scores.dtype == torch.float32
    with torch.no_grad():
        expected = model.encode(seq)[:, -1] @ model.item_emb.weight.T  # tied to the item embedding, no bias
        torch.testing.assert_close(model.predict(seq), expected)


@pytest.mark.parametrize("loss", ["bce", "ce"])
def test_nextitem_trains_gru4rec_on_a_tiny_synthetic_problem(loss):
    """Every user walks the item cycle 1 -> 2 -> ... -> N_ITEMS -> 1 from a random start: the next item is learnable."""
    rng = np.random.default_rng(0)
    starts, lengths = rng.integers(0, N_ITEMS, 64), rng.integers(2, 10, 64)
    walks = [[(s + k) % N_ITEMS + 1 for k in range(n + 1)] for s, n in zip(starts, lengths)]
    inputs, targets = left_pad([w[:-1] for w in walks], 9), left_pad([w[1:] for w in walks], 9)
    negatives = torch.from_numpy(rng.integers(1, N_ITEMS + 1, inputs.shape)) * (targets > 0)
    batch = [TrainBatch(inputs, targets, negatives if loss == "bce" else None)]
    torch.manual_seed(0)
    model, objective = GRU4Rec(n_items=N_ITEMS, d_model=16, n_layers=1), NextItem(loss)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        total = objective(model, batch)["next_item"]
        total.backward()
        optimizer.step()
        losses.append(total.item())
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize("overrides, message", [
    (dict(n_heads=4), "n_heads=4 does nothing for model=gru4rec"),
    (dict(attn_dropout=0.1), "attn_dropout=0.1 does nothing for model=gru4rec"),
    (dict(objective="cloze"), "objective=cloze needs model=bert4rec"),
    (dict(contrast="cl4srec", bucket=False), "defined on the SASRec encoder"),
    (dict(pretrain="s3rec"), "defined for model=sasrec, not gru4rec"),
    (dict(cloze=dict(mask_p=0.2)), r"cloze\.\* settings take effect only with objective=cloze"),
])
def test_gru4rec_settings_that_do_nothing_are_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("cpu", model="gru4rec", **overrides)


def test_gru4rec_configs():
    cfg = make_config("cpu", dataset="Yelp", **{**original_settings("gru4rec", "Yelp"), "d_model": 99})
    assert (cfg.n_layers, cfg.d_model) == (1, 99)  # no heads to divide d_model among
    assert method_name(cfg) == "GRU4Rec" and method_name(make_config("cpu", model="gru4rec", update="sam")) == \
        "GRU4Rec+SAM"
    assert original_settings("gru4rec", "Beauty") == dict(model="gru4rec", n_layers=1, d_model=100)


# ---------------------------------------------------------------- BERT4Rec: the cloze objective

def cloze(mask_p: float, last_item_share: float = 0.0) -> Cloze:
    return Cloze(ClozeConfig(mask_p=mask_p, last_item_share=last_item_share), N_ITEMS)


def test_cloze_masks_only_real_items_at_least_one_per_sample_at_the_given_rate():
    rng, p = np.random.default_rng(0), 0.3
    lengths = rng.integers(1, 21, 20000)
    items = np.where(np.arange(20)[None, :] >= 20 - lengths[:, None], rng.integers(1, N_ITEMS + 1, (20000, 20)), 0)
    masked = cloze(p).draw_masks(items, np.random.default_rng(1))
    assert not (masked & (items == 0)).any() and masked.any(1).all()
    # each item with probability p, one forced where none was drawn: E[count] = L p + (1 - p)^L
    count, none = masked.sum(1), (1 - p) ** lengths
    mean = lengths * p + none
    second_moment = lengths * p * (1 - p) + (lengths * p) ** 2 + none  # E[X^2] of the draws, plus the forced one
    sigma = math.sqrt((second_moment - mean ** 2).sum())
    assert abs(count.sum() - mean.sum()) < 4 * sigma
    long = lengths == 20  # forced masks are negligible there ((1 - p)^20 < 1e-3): the rate is p itself
    rate, n = masked[long].mean(), masked[long].size
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert (count[lengths == 1] == 1).all()


def test_cloze_masks_only_the_last_item_in_the_given_share_of_samples():
    rng, share = np.random.default_rng(0), 0.2
    items = rng.integers(1, N_ITEMS + 1, (10000, 6))
    masked = cloze(1.0, share).draw_masks(items, np.random.default_rng(1))  # mask_p = 1: the others mask every item
    last_only = masked[:, -1] & ~masked[:, :-1].any(1)
    assert (last_only | masked.all(1)).all()
    assert abs(last_only.mean() - share) < 4 * math.sqrt(share * (1 - share) / len(items))


def test_cloze_batches_mask_the_training_items_and_never_the_held_out_ones(synthetic_dir):
    dataset = data.load("Beauty")  # the synthetic one: each (user, position) has its own item
    split = data.split(dataset, 6)
    rows = TrainingRows(split, np.random.default_rng(0), torch.device("cpu"))
    objective = Cloze(ClozeConfig(mask_p=0.5), dataset.n_items, bucket=False)
    users = np.arange(dataset.n_users)
    passes = objective.make_batch(rows, users)
    assert len(passes) == 4  # a random batch: length-sorted trimmed passes
    seen = set()
    for batch in passes:
        inputs, labels = batch.inputs.numpy(), batch.labels.numpy()
        masked = labels > 0
        assert (inputs[masked] == dataset.n_items + 1).all() and (inputs[~masked] != dataset.n_items + 1).all()
        restored = np.where(masked, labels, inputs)
        for row in restored:
            first_item = row[row > 0][0]  # item k sits at flat index k - 1 of the synthetic data
            user = int(np.searchsorted(dataset.offsets, first_item - 1, side="right") - 1)
            sequence = dataset.sequence(user)
            expected = sequence[:len(sequence) - 2][-6:]  # the training items s[0..n-3], last max_len of them
            padding = len(row) - len(expected)
            assert row[padding:].tolist() == expected.tolist() and not row[:padding].any()
            seen.add(user)
    assert seen == set(users.tolist())
    lengths = objective.sample_lengths(rows)
    assert passes[0].normalizer == pytest.approx(len(users) * objective.expected_masked(lengths).mean())


def test_cloze_loss_is_the_cross_entropy_at_each_masked_position():
    model = bert4rec(dropout=0.0, attn_dropout=0.0).eval()
    with torch.no_grad():
        model.output_bias.normal_()  # b^O starts at 0: make it count
    mask = N_ITEMS + 1
    inputs = torch.tensor([[0, 0, 4, mask, 6, mask], [1, mask, 3, 4, 5, 2], [0, 0, 0, 0, 0, mask]])
    labels = torch.tensor([[0, 0, 0, 5, 0, 7], [0, 9, 0, 0, 0, 0], [0, 0, 0, 0, 0, 12]])
    batch = ClozeBatch(inputs, labels, normalizer=2.5)
    loss = cloze(0.5)(model, [batch])["cloze"]
    total = 0.0
    with torch.no_grad():
        for row in range(3):  # one row at a time, untrimmed; Eq. 7 by hand over items 1..N_ITEMS
            hidden = model.encode(inputs[row:row + 1])[0].double()
            for t in torch.nonzero(labels[row]).flatten().tolist():
                projected = F.gelu(hidden[t] @ model.projection.weight.double().T + model.projection.bias.double())
                logits = model.item_emb.weight[1:N_ITEMS + 1].double() @ projected + model.output_bias[1:].double()
                total += (torch.logsumexp(logits, 0) - logits[labels[row, t] - 1]).item()
    assert loss.item() == pytest.approx(total / 2.5, rel=1e-5)


@pytest.mark.parametrize("scale", [1.0, 300.0])  # 300: logits far beyond exp's range, so the row shift must work
def test_full_softmax_cross_entropy_equals_the_plain_form_in_value_and_gradients(scale):
    torch.manual_seed(0)
    leaves = [scale * torch.randn(9, 5, dtype=torch.float64), torch.randn(11, 5, dtype=torch.float64),
              torch.randn(11, dtype=torch.float64)]
    labels = torch.tensor([0, 10, 3, 3, 3, 7, 0, 10, 5])  # the first and last classes, and repeats
    results = []
    for loss_of in (lambda f, w, b: F.cross_entropy(F.linear(f, w, b), labels, reduction="sum"),
                    lambda f, w, b: full_softmax_cross_entropy(f, w, b, labels)):
        inputs = [x.clone().requires_grad_() for x in leaves]
        loss = loss_of(*inputs)
        (0.3 * loss).backward()  # a scaled upstream gradient must scale every gradient
        results.append([loss.detach(), *(x.grad for x in inputs)])
    for plain, fused in zip(*results):
        torch.testing.assert_close(fused, plain, rtol=1e-10, atol=1e-12)


def test_full_softmax_cross_entropy_gives_gradients_in_each_input_dtype():
    features = torch.randn(4, 3).bfloat16().requires_grad_()
    weight, bias = torch.randn(6, 3, requires_grad=True), torch.zeros(6, requires_grad=True)
    loss = full_softmax_cross_entropy(features, weight, bias, torch.tensor([1, 2, 5, 0]))
    loss.backward()
    assert loss.dtype == torch.float32 and features.grad.dtype == torch.bfloat16 and weight.grad.dtype == torch.float32


def test_full_softmax_cross_entropy_refuses_a_second_backward_through_the_same_graph():
    features = torch.randn(4, 3, requires_grad=True)
    loss = full_softmax_cross_entropy(features, torch.randn(6, 3), torch.zeros(6), torch.tensor([1, 2, 5, 0]))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second backward"):
        loss.backward()


@pytest.mark.parametrize("shapes, labels, message", [
    (((4, 3), (6, 2), (6,)), [0, 1, 2, 3], "need features"),
    (((4, 3), (6, 3), (5,)), [0, 1, 2, 3], "need features"),
    (((4, 3), (6, 3), (6,)), [0, 1, 2], "one label per row"),
    (((4, 3), (6, 3), (6,)), [0, 1, 2, 6], r"labels must lie in \[0, 6\)"),
    (((4, 3), (6, 3), (6,)), [0, -1, 2, 3], r"labels must lie in \[0, 6\)")])
def test_full_softmax_cross_entropy_bad_input_is_a_clear_error(shapes, labels, message):
    with pytest.raises(ValueError, match=message):
        full_softmax_cross_entropy(*(torch.zeros(shape) for shape in shapes), torch.tensor(labels))


# ---------------------------------------------------------------- BERT4Rec: the encoder

def test_bert4rec_predict_scores_at_a_mask_token_appended_after_the_items():
    model = bert4rec().eval()
    mask = torch.full((2, 1), N_ITEMS + 1)
    full = left_pad([[1, 2, 3, 4, 5, 6, 7, 8], [0, 9, 10, 11, 12, 13, 14, 15]], 8)  # width max_len: oldest dropped
    short = left_pad([[3, 4, 5], [6, 7, 8, 9, 10]], 5)
    with torch.no_grad():
        for seq, manual in ((full, torch.cat([full[:, 1:], mask], 1)), (short, torch.cat([short, mask], 1))):
            scores = model.predict(seq)
            assert scores.shape == (2, N_ITEMS + 1) and scores.dtype == torch.float32
            torch.testing.assert_close(scores, model.score(model.encode(manual)[:, -1]))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert model.predict(short).dtype == torch.float32


def test_bert4rec_sees_later_items_unlike_sasrec():
    model = bert4rec().eval()
    sasrec = SASRec(n_items=N_ITEMS, d_model=16, n_heads=2, max_len=8, mask_token=True).eval()
    sasrec.load_state_dict(model.state_dict(), strict=False)  # the same encoder weights, run causally
    a = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])
    b = a.clone()
    b[0, 6] = 20
    with torch.no_grad():
        assert not torch.allclose(model.encode(a)[:, :6], model.encode(b)[:, :6])
        torch.testing.assert_close(sasrec.encode(a)[:, :6], sasrec.encode(b)[:, :6])


def test_bert4rec_scores_never_rank_the_mask_token():
    model = bert4rec().eval()
    with torch.no_grad():
        assert model.score(torch.randn(3, 16)).shape == (3, N_ITEMS + 1)
        assert model.score(torch.randn(3, 16), first_item=1).shape == (3, N_ITEMS)
    assert model.item_emb.num_embeddings == N_ITEMS + 2 and model.mask_id == N_ITEMS + 1


@pytest.mark.parametrize("overrides, message", [
    (dict(objective="bce"), "model=bert4rec trains with objective=cloze"),
    (dict(objective="ce"), "model=bert4rec trains with objective=cloze"),
    (dict(objective="cloze", cloze=dict(mask_p=0.0)), r"cloze\.mask_p=0\.0 must be in \(0, 1\]"),
    (dict(objective="cloze", cloze=dict(last_item_share=1.5)), r"cloze\.last_item_share=1\.5 must be in \[0, 1\]"),
    (dict(objective="cloze", contrast="cl4srec", bucket=False), "defined on the SASRec encoder"),
    (dict(objective="cloze", d_model=30, n_heads=4), "divisible"),
])
def test_bert4rec_bad_settings_are_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("cpu", model="bert4rec", **overrides)


def test_bert4rec_original_settings_and_name():
    beauty = make_config("cpu", dataset="Beauty", **original_settings("bert4rec", "Beauty"))
    architecture = (beauty.d_model, beauty.n_layers, beauty.n_heads, beauty.dropout, beauty.attn_dropout)
    assert architecture == (64, 2, 2, 0.1, 0.1)
    assert (beauty.lr, beauty.batch_size, beauty.max_len, beauty.cloze.mask_p) == (1e-4, 256, 50, 0.6)
    movielens = make_config("cpu", dataset="ML-1M", **original_settings("bert4rec", "ML-1M"))
    assert (movielens.max_len, movielens.cloze.mask_p) == (200, 0.2)
    assert method_name(beauty) == "BERT4Rec"
    assert make_config("cpu", model="bert4rec").objective == "cloze"  # the model's own objective by default
    with pytest.raises(ConfigError, match="no original settings for model='sasrec'"):
        original_settings("sasrec", "Beauty")
    with pytest.raises(ConfigError, match="objective=cloze needs model=bert4rec"):
        make_config("cpu", objective="cloze")


# ---------------------------------------------------------------- both: runs and records

@pytest.mark.parametrize("model, objective, method, component", [
    ("gru4rec", "bce", "GRU4Rec", "next_item"), ("bert4rec", "cloze", "BERT4Rec", "cloze")])
def test_a_smoke_run_trains_end_to_end_and_records_its_method(isolated_cache, model, objective, method, component):
    results = isolated_cache / "results"
    cfg = make_config("smoke", dataset="Beauty", model=model)
    assert cfg.objective == objective
    record = runs.run(cfg, results, progress=False)
    path = runs.record_path(cfg, results)
    assert path.name.startswith(f"Beauty-seed1-{runs.run_key(cfg)}")  # the model's defaults are no settings
    assert path.exists() and path.parent.name == method.lower() and record["method"] == method
    assert record["model"] == model and len(record["history"]) == cfg.epochs
    assert all(set(e["losses"]) == {component} and math.isfinite(e["loss"]) for e in record["history"])
    assert 0.0 <= record["test"]["NDCG@10"] <= record["test"]["HR@10"] <= 1.0
    assert runs.run(cfg, results) == record  # found again by its key


def test_every_committed_record_keeps_its_key():
    """New models, objectives and groups join the key only when a run uses them."""
    records = runs.load_records(runs.RESULTS_DIR / "cpu")
    assert records
    for record in records:
        config = dict(record["config"])
        cfg = make_config(config.pop("profile"), **config)
        assert runs.run_key(cfg) == record["key"], runs.record_path(cfg).name
