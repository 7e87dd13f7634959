"""Sharpness records of trained runs: computed once from the run's weights, with the loss the landscape centres on."""
import numpy as np
import pytest
import torch

from seqrec import claims, data, landscape, runs, sharpness
from seqrec.config import make_config
from seqrec.models import build_model


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
# (max_len 6 cuts the longer synthetic users; Caser reads its own window of caser.L items instead)
RANKING_MODELS = {"SASRec": {"max_len": 6}, "GRU4Rec": {"model": "gru4rec", "max_len": 6}, "Caser": {"model": "caser"},
                  "BERT4Rec": {"model": "bert4rec", "max_len": 6},
                  "SRMA": {"contrast": "srma", "bucket": False, "srma.inference_layers": "all", "max_len": 6}}


@pytest.mark.parametrize("method", RANKING_MODELS)
def test_the_ranking_loss_is_each_users_last_training_item_scored_alone(method, synthetic_dir):
    """Brute force: one user at a time, the untrimmed, unpadded items before the last training item; the closure
    batches users by length and trims them. Users with a single training item have nothing to score."""
    torch.manual_seed(0)
    cfg = make_config("smoke", dataset="Beauty", **RANKING_MODELS[method])
    dataset = data.load("Beauty")
    model = build_model(cfg, dataset.n_items, dataset.n_users)
    closure = sharpness.ranking_loss_fn(model, data.split(dataset, cfg.max_len), users=10**6)
    losses = []
    for user in range(dataset.n_users):
        training = dataset.sequence(user)[:-2]  # the last two items are validation and test
        if len(training) < 2:
            continue
        seq = torch.tensor(training[:-1][-cfg.max_len:]).unsqueeze(0)
        scores = model.predict(seq, torch.tensor([user])) if model.needs_users else model.predict(seq)
        losses.append(-torch.log_softmax(scores[0, 1:], dim=0)[training[-1] - 1])
    with torch.no_grad():
        assert float(closure()) == pytest.approx(float(torch.stack(losses).mean()), rel=1e-5)
    vector = [torch.randn_like(p) for p in model.parameters()]
    product = landscape.hessian_vector_product(model, closure, vector)
    assert all(torch.isfinite(p).all() for p in product) and any(p.abs().sum() > 0 for p in product)


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
    assert claims.sharpness_record(cfg, results, "ranking_ce") == ranking
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
