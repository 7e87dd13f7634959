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

CL4SRec's representation: the family's ("flat", every slot of a full-width pass, padding included) costs about
3x the "real_slots" one on these CPUs. ``representation_runs`` trains both on REPRESENTATION_DATASET with three
seeds; ``chosen_representation`` keeps "real_slots" for the other runs only when the paired difference in
validation NDCG@20 (the selection metric; test plays no part) is not significant and under 5% (else "flat").
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from scipy import stats

from . import runs
from .config import Config, make_config, method_name

SAMREC_DATASETS = ("Beauty", "Sports_and_Outdoors", "Toys_and_Games", "Yelp")
RHOS = (0.001, 0.01, 0.1, 1.0, 10.0)
RHO_SELECTION_DATASET = "Beauty"
TRAIN_FRACTIONS = (0.6, 0.8, 1.0)
REPRESENTATION_DATASET = "Beauty"
REPRESENTATIONS = ("flat", "real_slots")
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
    # the paper's stable range first: the likeliest choices finish first
    by_promise = sorted(RHOS, key=lambda r: (r not in (0.1, 1.0), r))
    return [method_config("SAMRec", profile, d, s, rho=r) for s in seeds for d in ordered for r in by_promise]


def selected_rho(profile: str, results_dir: Path = runs.RESULTS_DIR) -> float | None:
    """The rho with the best validation NDCG@20 in the F3 sweep on RHO_SELECTION_DATASET, seed 1 (None until all
    of that sweep has finished: a choice among some of the radii would change once the rest finish)."""
    sweep = figure3(profile, [RHO_SELECTION_DATASET])
    records = runs.collect(sweep, results_dir)
    if any(r is None for r in records):
        return None
    scores = [r["valid"]["NDCG@20"] for r in records]
    return sweep[int(np.argmax(scores))].sam.rho


def representation_runs(profile: str, seeds=(1, 2, 3)) -> dict[str, list[Config]]:
    """CL4SRec with each representation on REPRESENTATION_DATASET, matched by seed."""
    return {r: [method_config("CL4SRec", profile, REPRESENTATION_DATASET, s, representation=r) for s in seeds]
            for r in REPRESENTATIONS}


def representation_difference(profile: str, results_dir: Path = runs.RESULTS_DIR, split: str = "valid",
                              metric: str = "NDCG@20", seeds=(1, 2, 3)) -> dict | None:
    """real_slots minus flat, paired by seed: mean, relative mean (of flat's), paired t-test p; None until all ran."""
    pairs = {r: runs.collect(c, results_dir) for r, c in representation_runs(profile, seeds).items()}
    if any(r is None for records in pairs.values() for r in records):
        return None
    flat, real = ([r[split][metric] for r in pairs[k]] for k in REPRESENTATIONS)
    difference = np.subtract(real, flat)
    if difference.std() > 0:
        p = float(stats.ttest_rel(real, flat).pvalue)
    else:  # every seed moved by the same amount: certain when that amount is not zero (as ttest_rel's limit)
        p = 0.0 if difference.mean() != 0 else 1.0
    return {"mean": float(difference.mean()), "relative": float(difference.mean() / np.mean(flat)), "p": p,
            "flat": flat, "real_slots": real, "seeds": len(seeds)}


def chosen_representation(profile: str, results_dir: Path = runs.RESULTS_DIR) -> str | None:
    """"real_slots" when it does not move validation NDCG@20 (p >= 0.05 and under 5%), "flat" when it does, None
    until the comparison has run."""
    difference = representation_difference(profile, results_dir)
    if difference is None:
        return None
    return "real_slots" if difference["p"] >= 0.05 and abs(difference["relative"]) < 0.05 else "flat"


def choices(profile: str, results_dir: Path = runs.RESULTS_DIR, train_missing: bool = False,
            device: str = "auto") -> tuple[float | None, str | None]:
    """SAMRec's rho and CL4SRec's representation (None while undecided). With ``train_missing``, the runs that
    decide them train first (the smoke profile's notebooks), as ``python -m seqrec reproduce`` orders them."""
    if train_missing:
        deciding = figure3(profile, [RHO_SELECTION_DATASET]) + [c for cfgs in representation_runs(profile).values()
                                                                for c in cfgs]
        runs.collect(deciding, results_dir, train_missing=True, device=device)
    return selected_rho(profile, results_dir), chosen_representation(profile, results_dir)


def table1(profile: str, rho: float | None, datasets=SAMREC_DATASETS, seeds=(1, 2, 3),
           representation: str | None = "flat") -> list[Config]:
    """The four methods of Table 1, seed-major (SAMRec once rho is chosen, CL4SRec once its representation is)."""
    methods = [m for m in METHODS if (m != "SAMRec" or rho is not None) and (m != "CL4SRec" or representation)]
    return [method_config(m, profile, d, s, rho=rho, representation=representation)
            for s in seeds for d in datasets for m in methods]


def table2(profile: str, rho: float | None, datasets=SAMREC_DATASETS, seeds=(1, 2, 3),
           representation: str | None = "flat") -> list[Config]:
    methods = [m for m in ("S3Rec", "CL4SRec", "S3Rec+SAM", "CL4SRec+SAM")
               if ("SAM" not in m or rho is not None) and ("CL4SRec" not in m or representation)]
    return [method_config(m, profile, d, s, rho=rho, representation=representation)
            for s in seeds for d in datasets for m in methods]


def figure2(profile: str, rho: float | None, datasets=SAMREC_DATASETS, seeds=(1,),
            representation: str | None = "flat") -> list[Config]:
    methods = [m for m in ("SASRec", "CL4SRec", "SAMRec")
               if (m != "SAMRec" or rho is not None) and (m != "CL4SRec" or representation)]
    return [method_config(m, profile, d, s, rho=rho, representation=representation, train_fraction=f)
            for s in seeds for d in datasets for f in TRAIN_FRACTIONS for m in methods]


def figure1(profile: str, rho: float | None, dataset: str = "Beauty", seed: int = 1,
            representation: str | None = "flat") -> dict[str, Config]:
    """The models whose landscapes Figure 1 draws: the T1 runs of one dataset and seed."""
    return {method_name(c): c for c in table1(profile, rho, [dataset], [seed], representation)}


def samrec_chapter(profile: str, results_dir: Path = runs.RESULTS_DIR, datasets=SAMREC_DATASETS,
                   seeds=(1, 2, 3)) -> list[Config]:
    """Every run of the chapter in the order to train them: the rho sweep on the selection dataset and the CL4SRec
    representation comparison, Table 1, Table 2, Figure 2, then the rest of the sweep. Runs that wait on a choice
    (rho, the representation) appear once it is made (``reproduce`` plans again after each pass)."""
    rho, representation = selected_rho(profile, results_dir), chosen_representation(profile, results_dir)
    # the runs that decide rho and the representation come first, whatever datasets and seeds were asked for: the
    # runs that wait on those choices would otherwise never be planned
    deciding = figure3(profile, [RHO_SELECTION_DATASET]) + [c for configs in representation_runs(profile).values()
                                                            for c in configs]
    plan = (deciding + table1(profile, rho, datasets, seeds, representation)
            + table2(profile, rho, datasets, seeds, representation) + figure2(profile, rho, datasets,
                                                                           representation=representation)
            + figure3(profile, datasets))
    return list({runs.run_key(c): c for c in plan}.values())
