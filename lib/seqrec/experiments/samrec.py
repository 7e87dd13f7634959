"""The SAMRec chapter's runs (paper: Lai et al., RecSys 2023; REFERENCE.md section 5):
    T1  SASRec, S3Rec, CL4SRec, SAMRec on four datasets          table1
    T2  S3Rec and CL4SRec with and without SAM                   table2
    F1  loss landscapes of the four methods (Beauty, seed 1)     figure1
    F2  60/80/100% of the training data                          figure2
    F3  SAMRec's radius rho                                      figure3
SAMRec's rho for T1, T2 and F2 is chosen on validation: the rho of the F3 sweep with the best validation
NDCG@20 on RHO_SELECTION_DATASET, seed 1 (the paper does not say which rho its tables use).

CL4SRec's representation: the family's ("flat", every slot of a full-width pass, padding included) costs 3-4x
the "real_slots" one on these CPUs. ``representation_runs`` trains both on REPRESENTATION_DATASET with three seeds.
``chosen_representation`` takes "real_slots" once its three runs have records, and "flat" only when the complete
comparison shows flat better on validation NDCG@20 (the selection metric; test plays no part): significantly
(paired t-test, p < 0.05) and by at least 5%. Until the flat runs finish the choice is provisional
(``representation_final``); they train after Table 1, and the pages say which. Why not "flat unless real_slots
matches it", the rule before: on Toys the flat runs learn far more slowly (seed 1: validation HR@10 0.013 after
28 epochs, when real_slots had 0.03 by epoch 20 and ends at 0.08, the SRMA paper's CL4SRec row being 0.078);
padding slots hold about 92% of the flattened representation, and the contrastive gradient on the encoder is
about 5x the next-item gradient there, against 1.3x with real_slots. Attention dropout 0.1 (the SRMA code's
default) instead of 0.5 did not change that in 10 epochs. A flat run can take 5 hours or more here, and the slower
representation would be a weaker baseline than the papers compared against: a verdict that SAMRec matches
CL4SRec would then say little. The comparison stays planned, so a flat run that ends better still overturns the
choice.
The comparison runs on Toys: its runs are Table 1 runs of both chapters (SRMA's Table 1 has no Beauty), its seed-1
run is the check issue 7 asks for against SRMA's own CL4SRec row, and its epochs are the cheapest of the four.

Precision: on the cpu and smoke profiles, CL4SRec (BF16_METHODS), whose full-width views make its epochs cost
10x SASRec's or more on a CPU, asks for bf16 autocast: on a machine that computes bf16 natively (AVX-512 or AMX;
there 1.5x faster for flat, 1.3x for real_slots) it gets it, elsewhere it trains in fp32 (on an AVX2 CPU bf16
products run about 45x slower than fp32: ``train.native_bf16``); each record's ``precision`` says which. Its
losses, its similarity matrix and the scores that evaluation ranks stay fp32. ``precision_runs`` trains SASRec both ways on PRECISION_DATASET with
three seeds, and ``precision_difference`` is the paired check that bf16 does not move the result. (S3Rec's
pre-training gains 4% from bf16 in its random batches: it stays fp32.)

S3Rec's pre-training on the cpu profile: CPU_PRETRAIN_EPOCHS epochs, not the README's 150 (Beauty, Toys) or 100
(Sports, Yelp). Its epoch is every prefix of every user (about 1,500 batches of 100 on Beauty) in random batches;
measured idle on both cores it costs about 56x a SASRec epoch (117 s against 2.1 s on Beauty), so the README's
150 epochs would take about 5 machine-hours per dataset (an earlier estimate of 200x compared a loaded measurement
with an idle one).

Scope: the cpu profile cannot afford every run (issue 6's budget is about 20 machine-hours, the plan below ~110
core-hours at full scope): Table 1 keeps all four datasets and three seeds; Table 2 and the figures use the
datasets and seeds of CPU_SCOPE (``scope``), which the pages state. The paper profile plans the full scope.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .. import runs
from ..config import Config, make_config, method_name
from . import common

DATASETS = ("Beauty", "Sports_and_Outdoors", "Toys_and_Games", "Yelp")
RHOS = (0.001, 0.01, 0.1, 1.0, 10.0)
RHO_SELECTION_DATASET = "Beauty"
TRAIN_FRACTIONS = (0.6, 0.8, 1.0)
REPRESENTATION_DATASET = "Toys_and_Games"  # see the module docstring
REPRESENTATIONS = ("flat", "real_slots")
METHODS = ("SASRec", "S3Rec", "CL4SRec", "SAMRec")
BF16_METHODS = ("CL4SRec",)  # and its +SAM variant
BF16_PROFILES = ("smoke", "cpu")
PRECISION_DATASET = "Beauty"
CHEAP_FIRST = ("SASRec", "SAMRec")  # Table 1's methods that train before the representation runs (``chapter``)
CPU_PRETRAIN_EPOCHS = 50  # S3Rec pre-training epochs on the cpu profile (module docstring)
# artifact -> (datasets, seeds) on the cpu and smoke profiles; the paper profile plans all four datasets, and the
# seeds of Table 1 for Table 2 (the paper's figures show one run per point)
FULL_SCOPE = {"table1": (DATASETS, (1, 2, 3)), "table2": (DATASETS, (1, 2, 3)),
              "figure2": (DATASETS, (1,)), "figure3": (DATASETS, (1,))}
CPU_SCOPE = {**FULL_SCOPE, "table2": (("Beauty",), (1, 2, 3)),
             "figure2": (("Beauty", "Toys_and_Games"), (1,)), "figure3": (("Beauty", "Toys_and_Games"), (1,))}


def scope(artifact: str, profile: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The datasets and seeds an artifact ("table1", "table2", "figure2", "figure3") covers on ``profile``."""
    return common.scope(FULL_SCOPE if profile == "paper" else CPU_SCOPE, artifact)


def asked_scope(artifact: str, profile: str, datasets=(), seeds=()) -> tuple[list[str], list[int]]:
    """A notebook's ``datasets`` and ``seeds`` parameters, each the artifact's ``scope`` where left empty."""
    return common.asked_scope(scope(artifact, profile), datasets, seeds)


def method_config(method: str, profile: str, dataset: str, seed: int, *, rho: float | None = None,
                  representation: str = "flat", **overrides) -> Config:
    """One run of a method as the SAMRec paper names it; "+SAM" adds sharpness-aware steps (radius ``rho``)."""
    base, plus_sam = method.removesuffix("+SAM"), method.endswith("+SAM") or method == "SAMRec"
    settings = dict(overrides)
    if base == "S3Rec":
        settings["pretrain"] = "s3rec"
        if profile == "cpu":
            settings.setdefault("s3rec", dict(epochs=CPU_PRETRAIN_EPOCHS))
    elif base == "CL4SRec":
        settings.update(contrast="cl4srec", bucket=False, cl={**settings.get("cl", {}), "representation": representation})
    elif base not in ("SASRec", "SAMRec"):
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}, S3Rec+SAM, CL4SRec+SAM")
    if plus_sam:
        if rho is None:
            raise ValueError(f"{method} needs a radius rho")
        settings.update(update="sam", sam=dict(rho=rho))
    if base in BF16_METHODS and profile in BF16_PROFILES:
        settings.setdefault("bf16", True)
    return make_config(profile, dataset=dataset, seed=seed, **settings)


def figure3(profile: str, datasets=DATASETS, seeds=(1,)) -> list[Config]:
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
    """real_slots minus flat, paired by seed (``paired_difference``); None until all six ran."""
    pairs = representation_runs(profile, seeds)
    return common.paired_difference(pairs["real_slots"], pairs["flat"], results_dir, split, metric)


def chosen_representation(profile: str, results_dir: Path = runs.RESULTS_DIR) -> str | None:
    """"real_slots" once its comparison runs have records, "flat" when the whole comparison shows flat better on
    validation NDCG@20 (p < 0.05 and by at least 5%: ``flat_is_better``), None before (see the module docstring)."""
    if any(r is None for r in runs.collect(representation_runs(profile)["real_slots"], results_dir)):
        return None
    return "flat" if flat_is_better(representation_difference(profile, results_dir)) else "real_slots"


def flat_is_better(difference: dict | None) -> bool:
    """Whether real_slots minus flat (``representation_difference``) is significantly negative by 5% or more."""
    return difference is not None and difference["p"] < 0.05 and difference["relative"] <= -0.05


def flat_ruled_out(profile: str, results_dir: Path = runs.RESULTS_DIR, seeds=(1, 2, 3)) -> bool:
    """Whether the finished seed pairs already rule flat out, whatever the missing flat runs give: one seed where
    flat is not above real_slots caps the paired t of the n seeds at n - 1 (reached with that difference 0 and the
    others equal), and with 3 seeds that is 2, below the 4.30 that p < 0.05 needs on 2 degrees of freedom. So the
    first flat run that ends at or below its real_slots seed makes the choice final, and the other flat runs
    (a few hours each on one core) need not train."""
    n = len(seeds)
    if n < 2 or n - 1 >= stats.t.ppf(0.975, n - 1):
        return False  # from 5 seeds on, one such seed no longer rules flat out
    pairs = {r: runs.collect(c, results_dir) for r, c in representation_runs(profile, seeds).items()}
    return any(real is not None and flat is not None and real["valid"]["NDCG@20"] >= flat["valid"]["NDCG@20"]
               for real, flat in zip(pairs["real_slots"], pairs["flat"]))


def representation_final(profile: str, results_dir: Path = runs.RESULTS_DIR) -> bool:
    """Whether no later run can change ``chosen_representation``: every run of the comparison has a record, or
    the finished ones already rule flat out (``flat_ruled_out``)."""
    return representation_difference(profile, results_dir) is not None or flat_ruled_out(profile, results_dir)


def representation_status(profile: str, results_dir: Path = runs.RESULTS_DIR) -> str:
    """CL4SRec's representation as the pages state it: chosen or not, final or provisional, and the runs behind."""
    pairs = {r: runs.collect(c, results_dir) for r, c in representation_runs(profile).items()}
    done = {r: sum(x is not None for x in records) for r, records in pairs.items()}
    where = f"{REPRESENTATION_DATASET}, {len(pairs['real_slots'])} seeds"
    representation = chosen_representation(profile, results_dir)
    if representation is None:
        return f"not chosen yet ({done['real_slots']} of {len(pairs['real_slots'])} real_slots runs on {where} done)"
    if representation_difference(profile, results_dir) is not None:
        return f"{representation}, chosen on validation NDCG@20 against the other representation ({where})"
    if representation_final(profile, results_dir):
        return (f"{representation}, final: {done['flat']} of {len(pairs['flat'])} flat runs finished, one of them "
                f"not above its real_slots seed on validation NDCG@20, so no result of the others could make flat "
                f"significantly better ({where}; flat_ruled_out)")
    return (f"{representation} for now ({where}); {done['flat']} of {len(pairs['flat'])} flat runs, which choose "
            "flat if it is better on validation, have finished")


def precision_runs(profile: str, seeds=(1, 2, 3)) -> dict[str, list[Config]]:
    """SASRec in fp32 (Table 1's runs) and under bf16 autocast on PRECISION_DATASET, matched by seed."""
    return {name: [make_config(profile, dataset=PRECISION_DATASET, seed=s, bf16=bf16) for s in seeds]
            for name, bf16 in (("fp32", False), ("bf16", True))}


def precision_difference(profile: str, results_dir: Path = runs.RESULTS_DIR, split: str = "valid",
                         metric: str = "NDCG@20", seeds=(1, 2, 3)) -> dict | None:
    """SASRec bf16 minus fp32, paired by seed (``paired_difference``): the check behind BF16_METHODS."""
    pairs = precision_runs(profile, seeds)
    return common.paired_difference(pairs["bf16"], pairs["fp32"], results_dir, split, metric)


def deciding_runs(profile: str) -> list[Config]:
    """The runs that make the chapter's choices (rho, CL4SRec's representation) and the bf16 check, in the order
    to train them: they train first whatever datasets and seeds were asked for, since the runs that wait on them
    would otherwise never be planned. The flat half of the representation comparison is not among them: it can
    only overturn the choice (``representation_check_runs``)."""
    return (figure3(profile, [RHO_SELECTION_DATASET]) + precision_runs(profile)["bf16"]
            + representation_runs(profile)["real_slots"])


def representation_check_runs(profile: str, results_dir: Path = runs.RESULTS_DIR) -> list[Config]:
    """The flat runs of the representation comparison that still matter: all of them until the choice is final
    (``representation_final``), then those with a record (the pages show them)."""
    flat = representation_runs(profile)["flat"]
    if not representation_final(profile, results_dir):
        return flat
    return [c for c, record in zip(flat, runs.collect(flat, results_dir)) if record is not None]


def choices(profile: str, results_dir: Path = runs.RESULTS_DIR, train_missing: bool = False,
            device: str = "auto") -> tuple[float | None, str | None]:
    """SAMRec's rho and CL4SRec's representation (None while undecided). With ``train_missing``, the runs that
    decide them train first (the smoke profile's notebooks), as ``python -m seqrec reproduce`` orders them."""
    if train_missing:
        runs.collect(deciding_runs(profile), results_dir, train_missing=True, device=device)
    return selected_rho(profile, results_dir), chosen_representation(profile, results_dir)


def table1(profile: str, rho: float | None, datasets=DATASETS, seeds=(1, 2, 3),
           representation: str | None = "flat") -> list[Config]:
    """The four methods of Table 1, seed-major (SAMRec once rho is chosen, CL4SRec once its representation is)."""
    methods = [m for m in METHODS if (m != "SAMRec" or rho is not None) and (m != "CL4SRec" or representation)]
    return [method_config(m, profile, d, s, rho=rho, representation=representation)
            for s in seeds for d in datasets for m in methods]


def table2(profile: str, rho: float | None, datasets=DATASETS, seeds=(1, 2, 3),
           representation: str | None = "flat") -> list[Config]:
    methods = [m for m in ("S3Rec", "CL4SRec", "S3Rec+SAM", "CL4SRec+SAM")
               if ("SAM" not in m or rho is not None) and ("CL4SRec" not in m or representation)]
    return [method_config(m, profile, d, s, rho=rho, representation=representation)
            for s in seeds for d in datasets for m in methods]


def figure2(profile: str, rho: float | None, datasets=DATASETS, seeds=(1,),
            representation: str | None = "flat") -> list[Config]:
    methods = [m for m in ("SASRec", "CL4SRec", "SAMRec")
               if (m != "SAMRec" or rho is not None) and (m != "CL4SRec" or representation)]
    return [method_config(m, profile, d, s, rho=rho, representation=representation, train_fraction=f)
            for s in seeds for d in datasets for f in TRAIN_FRACTIONS for m in methods]


def figure1(profile: str, rho: float | None, dataset: str = "Beauty", seed: int = 1,
            representation: str | None = "flat") -> dict[str, Config]:
    """The models whose landscapes Figure 1 draws: the T1 runs of one dataset and seed."""
    return {method_name(c): c for c in table1(profile, rho, [dataset], [seed], representation)}


def chapter(profile: str, results_dir: Path = runs.RESULTS_DIR, datasets=DATASETS,
                   seeds=(1, 2, 3)) -> list[Config]:
    """Every run of the chapter in the order to train them: the deciding runs, Table 1, the flat runs that make
    the representation final, Table 2, the rest of Figure 3's sweep and Figure 2, each within its ``scope`` and
    the ``datasets`` and ``seeds`` asked for. Runs that wait on a choice (rho, the representation) appear once it
    is made (``reproduce`` plans again after each pass). Table 1's SASRec and SAMRec runs (CHEAP_FIRST) come before
    CL4SRec's representation runs: they test the paper's headline claim."""
    rho, representation = selected_rho(profile, results_dir), chosen_representation(profile, results_dir)

    def asked(artifact: str) -> tuple[list[str], list[int]]:
        in_scope, scope_seeds = scope(artifact, profile)
        return [d for d in in_scope if d in datasets], [s for s in scope_seeds if s in seeds]

    first_table = table1(profile, rho, *asked("table1"), representation)
    cheap = [c for c in first_table if method_name(c) in CHEAP_FIRST]
    decided_first = figure3(profile, [RHO_SELECTION_DATASET]) + precision_runs(profile)["bf16"]
    plan = (decided_first + cheap + deciding_runs(profile) + first_table
            + representation_check_runs(profile, results_dir)
            + table2(profile, rho, *asked("table2"), representation) + figure3(profile, *asked("figure3"))
            + figure2(profile, rho, *asked("figure2"), representation=representation))
    return list({runs.run_key(c): c for c in plan}.values())


def progress(profile: str, results_dir: Path = runs.RESULTS_DIR) -> pd.DataFrame:
    """``common.progress`` of the chapter's plan (deciding runs, the flat representation check, Table 1, Table 2,
    Figure 3, Figure 2, S3Rec's pre-training), each artifact within its ``scope``; runs waiting for rho or the
    representation are counted with a stand-in value (rho 0.1, real_slots) until it is made."""
    rho, representation = choices(profile, results_dir)
    rho_or_stand_in, representation_or_stand_in = rho or RHOS[2], representation or "real_slots"
    deciding = deciding_runs(profile)
    plans = {"deciding runs": deciding,
             "representation check (flat)": representation_check_runs(profile, results_dir)}
    for artifact, plan in (("Table 1", table1), ("Table 2", table2), ("Figure 3", None), ("Figure 2", figure2)):
        datasets, seeds = scope(artifact.lower().replace(" ", ""), profile)
        if plan is None:
            plans[artifact] = figure3(profile, datasets, seeds)
        else:
            plans[artifact] = plan(profile, rho_or_stand_in, datasets, seeds, representation=representation_or_stand_in)
    decided = {runs.run_key(c) for c in deciding + plans["representation check (flat)"]}

    def waiting(cfg: Config) -> bool:
        if runs.run_key(cfg) in decided:
            return False
        return (rho is None and cfg.update == "sam") or (representation is None and cfg.contrast != "none")

    return common.progress(plans, waiting, "S3Rec pre-training", results_dir)
