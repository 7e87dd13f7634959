"""The runs behind each table and figure, as lists of Configs: one place that notebooks, ``python -m seqrec
reproduce`` and the GPU drain script share, so a figure never asks for a run the queue did not train.

SAMRec chapter (paper: Lai et al., RecSys 2023; REFERENCE.md section 5):
    T1  SASRec, S3Rec, CL4SRec, SAMRec on four datasets          table1
    T2  S3Rec and CL4SRec with and without SAM                   table2
    F1  loss landscapes of the four methods (Beauty, seed 1)     figure1
    F2  60/80/100% of the training data                          figure2
    F3  SAMRec's radius rho                                      figure3
SAMRec's rho for T1, T2 and F2 is chosen on validation: the rho of the F3 sweep with the best validation
NDCG@20 on RHO_SELECTION_DATASET, seed 1 (the paper does not say which rho its tables use).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import runs
from .config import Config, make_config

SAMREC_DATASETS = ("Beauty", "Sports_and_Outdoors", "Toys_and_Games", "Yelp")
RHOS = (0.001, 0.01, 0.1, 1.0, 10.0)
RHO_SELECTION_DATASET = "Beauty"
TRAIN_FRACTIONS = (0.6, 0.8, 1.0)
METHODS = ("SASRec", "S3Rec", "CL4SRec", "SAMRec")


def sasrec_chapter(profile: str, results_dir: Path = runs.RESULTS_DIR, datasets=SAMREC_DATASETS,
                   seeds=(1, 2, 3)) -> list[Config]:
    """The SASRec baseline page: SASRec on the four datasets the SASRec-family papers share."""
    return [make_config(profile, dataset=d, seed=s) for s in seeds for d in datasets]


def method_config(method: str, profile: str, dataset: str, seed: int, *, rho: float | None = None,
                  representation: str = "flat", **overrides) -> Config:
    """One run of a method as the SAMRec paper names it; "+SAM" adds sharpness-aware steps (radius ``rho``)."""
    base, plus_sam = method.removesuffix("+SAM"), method.endswith("+SAM") or method == "SAMRec"
    settings = dict(overrides)
    if base == "S3Rec":
        settings["pretrain"] = "s3rec"
    elif base == "CL4SRec":
        settings.update(contrast="cl4srec", bucket=False, cl=dict(representation=representation))
    elif base not in ("SASRec", "SAMRec"):
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}, S3Rec+SAM, CL4SRec+SAM")
    if plus_sam:
        if rho is None:
            raise ValueError(f"{method} needs a radius rho")
        settings.update(update="sam", sam=dict(rho=rho))
    return make_config(profile, dataset=dataset, seed=seed, **settings)


def figure3(profile: str, datasets=SAMREC_DATASETS, seeds=(1,)) -> list[Config]:
    """SAMRec for every rho (the selection dataset first: the tables wait for its choice)."""
    ordered = sorted(datasets, key=lambda d: d != RHO_SELECTION_DATASET)
    return [method_config("SAMRec", profile, d, s, rho=r) for s in seeds for d in ordered for r in RHOS]


def selected_rho(profile: str, results_dir: Path = runs.RESULTS_DIR) -> float | None:
    """The rho with the best validation NDCG@20 in the F3 sweep on RHO_SELECTION_DATASET, seed 1 (None until all
    of that sweep has finished: a choice among some of the radii would change once the rest finish)."""
    records = runs.collect(figure3(profile, [RHO_SELECTION_DATASET]), results_dir)
    if any(r is None for r in records):
        return None
    scores = [r["valid"]["NDCG@20"] for r in records]
    return RHOS[int(np.argmax(scores))]


def table1(profile: str, rho: float | None, datasets=SAMREC_DATASETS, seeds=(1, 2, 3),
           representation: str = "flat") -> list[Config]:
    """The four methods of Table 1 (SAMRec only once rho is chosen), seed-major."""
    methods = METHODS if rho is not None else METHODS[:-1]
    return [method_config(m, profile, d, s, rho=rho, representation=representation)
            for s in seeds for d in datasets for m in methods]


def table2(profile: str, rho: float | None, datasets=SAMREC_DATASETS, seeds=(1, 2, 3),
           representation: str = "flat") -> list[Config]:
    methods = ("S3Rec", "CL4SRec") + (("S3Rec+SAM", "CL4SRec+SAM") if rho is not None else ())
    return [method_config(m, profile, d, s, rho=rho, representation=representation)
            for s in seeds for d in datasets for m in methods]


def figure2(profile: str, rho: float | None, datasets=SAMREC_DATASETS, seeds=(1,),
            representation: str = "real_slots") -> list[Config]:
    methods = ("SASRec", "CL4SRec") + (("SAMRec",) if rho is not None else ())
    return [method_config(m, profile, d, s, rho=rho, representation=representation, train_fraction=f)
            for s in seeds for d in datasets for f in TRAIN_FRACTIONS for m in methods]


def figure1(profile: str, rho: float | None, dataset: str = "Beauty", seed: int = 1) -> dict[str, Config]:
    """The models whose landscapes Figure 1 draws: the T1 runs of one dataset and seed."""
    methods = METHODS if rho is not None else METHODS[:-1]
    return {m: method_config(m, profile, dataset, seed, rho=rho) for m in methods}


def samrec_chapter(profile: str, results_dir: Path = runs.RESULTS_DIR, datasets=SAMREC_DATASETS,
                   seeds=(1, 2, 3)) -> list[Config]:
    """Every run of the chapter in the order to train them: the rho sweep on the selection dataset, Table 1,
    Table 2, Figure 2, then the rest of the sweep. Runs that need rho appear once the sweep has chosen it."""
    rho = selected_rho(profile, results_dir)
    selection = [d for d in datasets if d == RHO_SELECTION_DATASET]
    plan = (figure3(profile, selection) + table1(profile, rho, datasets, seeds) + table2(profile, rho, datasets, seeds)
            + figure2(profile, rho, datasets) + figure3(profile, datasets))
    return list({runs.run_key(c): c for c in plan}.values())
