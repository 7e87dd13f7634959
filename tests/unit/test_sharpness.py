"""Sharpness records of trained runs: computed once from the run's weights, with the loss the landscape centres on."""
import numpy as np
import pytest

from seqrec import runs, sharpness
from seqrec.config import make_config


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
