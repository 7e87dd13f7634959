"""Training objectives, chosen by the run's Config (``objective``, ``contrast``)."""
from __future__ import annotations

from ..config import Config
from ..data import Dataset
from .base import Objective, TrainBatch, TrainingRows
from .next_item import LOSSES, NextItem, next_item_bce, next_item_ce


def build_objective(cfg: Config, dataset: Dataset) -> Objective:
    if cfg.objective == "cloze":
        from .cloze import Cloze

        return Cloze(cfg.cloze, dataset.n_items, cfg.bucket)
    if cfg.objective == "caser":
        from .caser import CaserWindows

        return CaserWindows(cfg.caser, dataset)
    if cfg.objective == "s3rec":
        from .s3rec import S3RecPretraining

        return S3RecPretraining(cfg.s3rec, dataset, cfg.d_model, cfg.max_len, cfg.bucket)
    if cfg.contrast == "srma":
        from .srma import SRMA

        return SRMA(cfg.objective, cfg.bucket, cfg.cl, cfg.srma, cfg.max_len)
    if cfg.contrast == "coserec":
        from .coserec import CoSeRec

        return CoSeRec(cfg.objective, cfg.bucket, cfg.cl, cfg.coserec, dataset, cfg.max_len)
    if cfg.contrast == "cl4srec":
        from .contrastive import CL4SRec

        return CL4SRec(cfg.objective, cfg.bucket, cfg.cl, cfg.max_len)
    return NextItem(cfg.objective, cfg.bucket)


__all__ = ["Objective", "TrainBatch", "TrainingRows", "NextItem", "LOSSES", "build_objective",
           "next_item_bce", "next_item_ce"]
