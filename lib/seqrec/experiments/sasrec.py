"""The SASRec baseline page's runs: SASRec on the four datasets the SASRec-family papers share."""
from __future__ import annotations

from pathlib import Path

from .. import runs
from ..config import Config, make_config

DATASETS = ("Beauty", "Sports_and_Outdoors", "Toys_and_Games", "Yelp")
SEEDS = (1, 2, 3)


def chapter(profile: str, results_dir: Path = runs.RESULTS_DIR, datasets=DATASETS, seeds=SEEDS) -> list[Config]:
    """Seed-major: a queue cut short has covered every dataset."""
    return [make_config(profile, dataset=d, seed=s) for s in seeds for d in datasets]
