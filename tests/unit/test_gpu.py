"""Runs only where CUDA is present (a lent GPU machine); skipped on the CPU-only CI."""
import pytest
import torch

from seqrec import data, runs
from seqrec.config import make_config
from seqrec.models import build_model
from seqrec.train import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_smoke_run_trains_and_resumes_on_cuda(isolated_cache):
    cfg = make_config("smoke", dataset="Beauty", epochs=3, patience=3, bf16=True)
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    checkpoint = isolated_cache / "gpu.pt"
    for epochs in (2, 3):  # the second trainer resumes from the first one's checkpoint
        runs.seed_everything(cfg.seed)
        model = build_model(cfg, dataset.n_items)
        trainer = Trainer(make_config("smoke", dataset="Beauty", epochs=epochs, patience=3, bf16=True),
                          data.split(dataset, cfg.max_len), model, torch.device("cuda"), checkpoint, progress=False)
        result = trainer.fit()
    assert len(result["history"]) == 3 and next(trainer.model.parameters()).is_cuda
