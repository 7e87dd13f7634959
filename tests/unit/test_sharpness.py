"""Sharpness records of trained runs: computed once from the run's weights, with the loss the landscape centres on."""
import numpy as np
import pytest
import torch

from seqrec import data, landscape, runs, sharpness
from seqrec.config import make_config
from seqrec.models import build_model

from ..conftest import write_dataset


def test_a_run_gets_one_sharpness_record_centred_on_its_weights(isolated_cache, tmp_path, monkeypatch):
    results = tmp_path / "results"
    cfg = make_config("smoke", dataset="Beauty", epochs=2, patience=2)
    runs.run(cfg, results, progress=False)
    grid = np.array([-0.5, 0.0, 0.5])
    record = sharpness.analyse(cfg, results, grid=grid, seeds=(0,), users=64)
    surface = np.array(record["surface"])
    assert surface.shape == (3, 3)
    assert surface[1, 1] == pytest.approx(record["loss_at_minimum"], rel=1e-6)
    assert record["eigenvalues"][0]["eigenvalue"] > 0 and record["traces"][0]["trace"] != 0
    assert sharpness.record_path(cfg, results).exists()
    monkeypatch.setattr(sharpness.landscape, "loss_surface", lambda *a, **k: pytest.fail("recomputed"))
    assert sharpness.analyse(cfg, results, grid=grid, seeds=(0,), users=64) == record


def test_analysing_a_run_that_never_trained_is_a_clear_error(isolated_cache, tmp_path):
    with pytest.raises(FileNotFoundError, match="train the run first"):
        sharpness.analyse(make_config("smoke", dataset="Beauty", seed=7), tmp_path / "results")


# one config per kind of model the leaderboard holds: each must score through predict and take Hessian products
# (max_len 6 cuts the longer users; Caser reads its own window of caser.L items instead)
RANKING_MODELS = {"SASRec": {"max_len": 6}, "GRU4Rec": {"model": "gru4rec", "max_len": 6}, "Caser": {"model": "caser"},
                  "BERT4Rec": {"model": "bert4rec", "max_len": 6},
                  "SRMA": {"contrast": "srma", "bucket": False, "srma.inference_layers": "all", "max_len": 6}}


@pytest.fixture
def many_users(tmp_path, monkeypatch):
    """400 users of 3 to 12 items over 40 items: more eligible users than one batch of 256, and users whose single
    training item leaves nothing to score."""
    rng = np.random.default_rng(0)
    lines = [" ".join(map(str, [user, *rng.integers(1, 41, size=3 + user % 10)])) for user in range(1, 401)]
    directory = write_dataset(tmp_path / "data", lines)
    monkeypatch.setenv("SEQREC_DATA", str(directory))
    monkeypatch.setenv("SEQREC_CACHE", str(tmp_path / "cache"))
    return data.load("Beauty")


@pytest.mark.parametrize("method", RANKING_MODELS)
def test_the_ranking_loss_is_each_chosen_users_last_training_item_scored_alone(method, many_users):
    """Brute force: one user at a time, the untrimmed, unpadded items before the last training item; the closure
    batches users by length and trims them. Users with a single training item have nothing to score."""
    torch.manual_seed(0)
    cfg = make_config("smoke", dataset="Beauty", **RANKING_MODELS[method])
    model = build_model(cfg, many_users.n_items, many_users.n_users)
    split = data.split(many_users, cfg.max_len)
    closure = sharpness.ranking_loss_fn(model, split, users=300)
    assert not model.training  # dropout off
    eligible = {u for u in range(many_users.n_users) if len(many_users.sequence(u)) >= 4}
    assert len(closure.users) == 300 and set(closure.users) <= eligible and len(eligible) > 300
    losses = []
    for user in closure.users:
        training = many_users.sequence(user)[:-2]  # the last two items are validation and test
        seq = torch.tensor(training[:-1][-cfg.max_len:]).unsqueeze(0)
        scores = model.predict(seq, torch.tensor([user])) if model.needs_users else model.predict(seq)
        losses.append(-torch.log_softmax(scores[0, 1:], dim=0)[training[-1] - 1])
    with torch.no_grad():
        assert float(closure()) == pytest.approx(float(torch.stack(losses).mean()), rel=1e-5)
    other = build_model(make_config("smoke", dataset="Beauty", max_len=6), many_users.n_items)
    assert np.array_equal(sharpness.ranking_loss_fn(other, data.split(many_users, 6), users=300).users,
                          closure.users)  # every method is judged on the same users


# Caser is piecewise linear (ReLU, max-pooling): a finite difference of its gradient crosses kinks at any step
# float32 resolves, so its products are checked for the symmetry every Hessian has instead
@pytest.mark.parametrize("method", [m for m in RANKING_MODELS if m != "Caser"])
def test_hessian_products_of_the_ranking_loss_match_finite_differences_of_its_gradient(method, many_users):
    torch.manual_seed(0)
    cfg = make_config("smoke", dataset="Beauty", **RANKING_MODELS[method])
    model = build_model(cfg, many_users.n_items, many_users.n_users)
    closure = sharpness.ranking_loss_fn(model, data.split(many_users, cfg.max_len), users=64)
    params = [p for p in model.parameters() if p.requires_grad]
    vector = [torch.randn_like(p) for p in params]
    product = torch.cat([h.flatten() for h in landscape.hessian_vector_product(model, closure, vector)])

    def gradient_at(step: float) -> torch.Tensor:
        with torch.no_grad():
            for p, v in zip(params, vector):
                p.add_(step * v)
        gradient = torch.autograd.grad(closure(), params, allow_unused=True)
        with torch.no_grad():
            for p, v in zip(params, vector):
                p.sub_(step * v)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(gradient, params)])

    step = 1e-3  # small against the unit-variance vector, large enough for float32 gradients (0.3% off on SASRec)
    finite = (gradient_at(step) - gradient_at(-step)) / (2 * step)
    assert product.norm() > 0
    assert torch.linalg.vector_norm(product - finite) <= 0.01 * torch.linalg.vector_norm(finite)


def test_caser_hessian_products_of_the_ranking_loss_are_symmetric(many_users):
    torch.manual_seed(0)
    model = build_model(make_config("smoke", dataset="Beauty", model="caser"), many_users.n_items, many_users.n_users)
    closure = sharpness.ranking_loss_fn(model, data.split(many_users, 50), users=64)
    u, v = ([torch.randn_like(p) for p in model.parameters()] for _ in range(2))
    u_hv, v_hu = (sum(float((a * h).sum()) for a, h in zip(left, landscape.hessian_vector_product(model, closure, right)))
                  for left, right in ((u, v), (v, u)))
    assert u_hv != 0 and u_hv == pytest.approx(v_hu, rel=1e-3)


def test_each_loss_keeps_its_own_sharpness_record_and_an_unknown_loss_is_named(isolated_cache, tmp_path):
    results = tmp_path / "results"
    cfg = make_config("smoke", dataset="Beauty", epochs=1, patience=1)
    runs.run(cfg, results, progress=False)
    grid = np.array([-0.5, 0.0, 0.5])
    bce = sharpness.analyse(cfg, results, grid=grid, seeds=(0,), users=64)
    ranking = sharpness.analyse(cfg, results, grid=grid, seeds=(0,), users=64, loss="ranking_ce")
    assert (bce["loss"], ranking["loss"]) == ("next_item_bce", "ranking_ce")
    assert ranking["loss_at_minimum"] != bce["loss_at_minimum"]
    assert sharpness.record_path(cfg, results, "ranking_ce") != sharpness.record_path(cfg, results)
    assert sharpness.stored_analysis(cfg, results, "ranking_ce") == ranking
    with pytest.raises(ValueError, match="unknown sharpness loss 'bpr'; known: next_item_bce, ranking_ce"):
        sharpness.analyse(cfg, results, loss="bpr")


def _analysis(eigenvalues, traces, surface):
    return {"eigenvalues": [{"eigenvalue": e, "smallest": -e / 10, "residual": 1e-3, "converged": True}
                            for e in eigenvalues],
            "traces": [{"trace": t} for t in traces], "surface": surface, "loss_at_minimum": surface[1][1]}


def test_the_curvature_table_has_every_method_asked_missing_where_unanalysed_and_ratios_to_the_reference():
    bowl = [[3.0, 2.0, 3.0], [2.0, 1.0, 2.0], [3.0, 2.0, 3.0]]  # border mean 2.5, centre 1: rise 1.5
    analyses = {"SASRec": _analysis([4.0, 4.0], [10.0, 12.0], bowl), "CL4SRec": _analysis([1.0, 1.0], [5.0], bowl)}
    table = sharpness.curvature_table(analyses, ["SASRec", "S3Rec", "CL4SRec"])
    assert list(table.index) == ["SASRec", "S3Rec", "CL4SRec"]
    assert table.loc["S3Rec", "λmax"] == "missing" and np.isnan(table.loc["S3Rec", "rise"])
    assert table.loc["CL4SRec", "SASRec λmax / this λmax"] == pytest.approx(4.0)
    assert table.loc["CL4SRec", "trace"] == "5"  # one probe seed: no interval
    assert table.loc["SASRec", "trace"].startswith("11 ± ")
    assert sharpness.border_rise(analyses["SASRec"]) == pytest.approx(1.5) == table.loc["SASRec", "rise"]
    assert np.isnan(sharpness.curvature_table(analyses, ["CL4SRec"], reference="S3Rec")["S3Rec λmax / this λmax"].iloc[0])


def test_a_ratio_or_a_flatter_verdict_needs_positive_curvatures_apart_by_more_than_both_bounds():
    bowl = [[3.0, 2.0, 3.0], [2.0, 1.0, 2.0], [3.0, 2.0, 3.0]]
    analyses = {"SASRec": _analysis([4.0, 4.0], [10.0], bowl), "S3Rec": _analysis([3.9999, 4.0], [10.0], bowl),
                "GRU4Rec": _analysis([1.0], [10.0], bowl), "BERT4Rec": _analysis([-0.5], [10.0], bowl)}
    c = {m: sharpness.curvature(a) for m, a in analyses.items()}  # every bound is 1e-3
    assert sharpness.clearly_flatter(c["GRU4Rec"], c["SASRec"]) is True
    assert sharpness.clearly_flatter(c["SASRec"], c["GRU4Rec"]) is False
    assert sharpness.clearly_flatter(c["S3Rec"], c["SASRec"]) is None  # inside the bounds
    assert sharpness.clearly_flatter(c["BERT4Rec"], c["SASRec"]) is None  # no positive curvature
    table = sharpness.curvature_table(analyses, list(analyses), compared=["SASRec", "S3Rec", "BERT4Rec"])
    ratios = table["SASRec λmax / this λmax"]
    assert ratios["S3Rec"] == pytest.approx(4.0 / 3.99995) and np.isnan(ratios["GRU4Rec"])  # not compared
    assert np.isnan(ratios["BERT4Rec"])  # not positive
    assert sharpness.no_positive_curvature(analyses) == ["BERT4Rec"]


def test_collecting_analyses_reads_stored_ones_and_names_a_run_whose_weights_are_not_here(isolated_cache, tmp_path):
    results = tmp_path / "results"
    cfg = make_config("smoke", dataset="Beauty", epochs=1, patience=1)
    record = runs.run(cfg, results, progress=False)
    configs, records = {"SASRec": cfg, "S3Rec": make_config("smoke", dataset="Beauty", seed=9)}, {"SASRec": record}
    assert sharpness.collect_analyses(configs, records, results, "ranking_ce", compute=False) == ({}, {})
    runs.cached_weights_path(cfg).unlink()  # as on a machine that did not train it
    analyses, notes = sharpness.collect_analyses(configs, records, results, "ranking_ce", compute=True)
    assert analyses == {} and notes == {"SASRec": "needs the run's weights: retrain it on this machine"}
