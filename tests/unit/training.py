"""One trained run without the run records around it, for tests that look at the Trainer itself."""
import torch

from seqrec import data, runs
from seqrec.models import build_model
from seqrec.train import Trainer


def fit_trainer(cfg, dataset, checkpoint=None, device: str = "cpu"):
    """Seed, build the model, train ``cfg`` on ``dataset`` (resuming from ``checkpoint`` if it exists); returns
    the fit's result and the Trainer."""
    runs.seed_everything(cfg.seed)
    model = build_model(cfg, dataset.n_items, dataset.n_users)
    trainer = Trainer(cfg, data.split(dataset, cfg.max_len), model, torch.device(device), checkpoint, progress=False)
    return trainer.fit(), trainer
