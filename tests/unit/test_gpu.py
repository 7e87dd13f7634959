"""Runs only where CUDA is present (a lent GPU machine); skipped on the CPU-only CI."""
import numpy as np
import pytest
import torch

from seqrec import data
from seqrec.config import make_config
from seqrec.train import Trainer

from .training import fit_trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def fit_on_cuda(cfg, dataset, checkpoint=None):
    return fit_trainer(cfg, dataset, checkpoint, device="cuda")


def test_a_run_killed_on_cuda_resumes_to_the_uninterrupted_result(isolated_cache, monkeypatch):
    # CUDA's embedding backward adds with atomics (order varies): ask for deterministic kernels.
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        cfg = make_config("smoke", dataset="Beauty", epochs=4, patience=4)
        dataset = data.load(cfg.dataset).head(cfg.max_users)
        uninterrupted, _ = fit_on_cuda(cfg, dataset)
        checkpoint, saves, original_save = isolated_cache / "gpu.pt", {"n": 0}, Trainer._save

        def save_then_die(self):
            original_save(self)
            saves["n"] += 1
            if saves["n"] == 2:
                raise KeyboardInterrupt  # killed right after epoch 2 was checkpointed

        monkeypatch.setattr(Trainer, "_save", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            fit_on_cuda(cfg, dataset, checkpoint)
        monkeypatch.setattr(Trainer, "_save", original_save)
        torch.manual_seed(12345)
        resumed, trainer = fit_on_cuda(cfg, dataset, checkpoint)
    finally:
        torch.use_deterministic_algorithms(False)
    assert next(trainer.model.parameters()).is_cuda and len(resumed["history"]) == 4
    assert [e["loss"] for e in resumed["history"]] == pytest.approx(
        [e["loss"] for e in uninterrupted["history"]], rel=1e-5)
    assert resumed["test"]["NDCG@10"] == pytest.approx(uninterrupted["test"]["NDCG@10"], rel=1e-4)


def test_bf16_autocast_trains_on_cuda(isolated_cache):
    cfg = make_config("smoke", dataset="Beauty", epochs=2, patience=2, bf16=True)
    result, _ = fit_on_cuda(cfg, data.load(cfg.dataset).head(cfg.max_users))
    losses = [e["loss"] for e in result["history"]]
    assert len(losses) == 2 and all(np.isfinite(losses)) and losses[1] < losses[0]
