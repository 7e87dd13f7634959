"""Training objectives, chosen by the run's Config (``objective``, ``contrast``)."""
from __future__ import annotations

from ..config import Config
from .base import Objective, TrainBatch, TrainingRows
from .next_item import LOSSES, NextItem, next_item_bce, next_item_ce


def build_objective(cfg: Config) -> Objective:
    if cfg.contrast == "cl4srec":
        from .contrastive import CL4SRec

        return CL4SRec(cfg.objective, cfg.bucket, cfg.cl, cfg.max_len)
    return NextItem(cfg.objective, cfg.bucket)


__all__ = ["Objective", "TrainBatch", "TrainingRows", "NextItem", "LOSSES", "build_objective",
           "next_item_bce", "next_item_ce"]
