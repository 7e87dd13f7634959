"""The SRMA chapter's runs (paper: Liu et al., "Improving contrastive learning with model augmentation", 2022;
REFERENCE.md sections 1, 2 and 6):
    T1  GRU4Rec, Caser, SASRec, BERT4Rec, S3Rec, CL4SRec, CoSeRec, SRMA on three datasets      table1
    T2  CL4SRec and SRMA without data (D) or model (M) augmentation, CL4SRec with p = 0       table2
    T3  SRMA without encoder complementing, with a 1-layer Transformer or a GRU complement     table3
        SRMA as its code runs it, and with the next-item loss through the extra layers        switches
    F2  HR@5 and NDCG@5 against the neuron-masking probability p, SRMA and SASRec              figure2
    F3  NDCG@5 over the number K of extra layers and M of them dropped (M < K)                 figure3
``chapter`` lists them all in the order to train them (``python -m seqrec reproduce --chapter srma``).

Shared with the SAMRec chapter (extended, never copied): SASRec's and CL4SRec's runs are the same runs (one record
serves both chapters), and so is CL4SRec's representation (``samrec.chosen_representation``, decided there on
validation), which CoSeRec and SRMA, the same family, use too; until it is made they wait. On the cpu profile the
three contrastive methods train under bf16 autocast, as CL4SRec does (``samrec.precision_difference`` is the check
that bf16 does not move SASRec).

SRMA as the paper describes it (``config.srma_settings("paper")``): K = 2 extra layers, M = 1 dropped, p = 0.5 on
the FFN layers, the same dropped layers for both views, and no encoder complementing in Tables 1 and 2 (the paper
does not say which complement, if any, its Table 1 used; Table 3 compares them, each with its gamma chosen on
validation: ``chosen_gammas``).
Here Table 3's "w/o Enc." row is Table 1's SRMA run (the paper's own two rows differ: its Table 1 SRMA is above
every Table 3 row, so its Table 3 ran under settings it does not give). The next-item loss does not go through the
extra layers (``srma.rec_layers`` False, the code's default; its README's step 2 switches it on), and the blocks
alone predict (``srma.inference_layers`` "none"): the extra layers only make the views.

Which layers predict, the paper does not say; its code predicts through all K. The three readings (READINGS) run on
SWITCHES_DATASET before Table 1, beside SRMA as its code runs it (``config.srma_settings("code")``: one dropout p
for every layer, attention dropout 0.1, the next-item loss through the extra layers, a frozen SRMA run as
complement): ``switches``. Predicting through all K, which no training forward applies together, collapsed
validation: NDCG@20 fell from 0.0164 (epoch 8) to 0.0025 (epoch 18) while the training loss kept falling, and
early stopping kept the epoch-8 weights (with ``rec_layers`` alike); with the blocks alone predicting it rose as
CL4SRec's. ``srma_settings("paper")`` therefore sets the views-only reading, the best on validation (a unit test
holds it against the committed records).

The baselines whose settings REFERENCE.md cannot recover run with their original papers' defaults
(``config.original_settings``), with light tuning on validation: each setting in TUNING is tried on
TUNING_DATASET with seed 1 and the value with the best validation NDCG@20 is kept for every other run of that
method (``tuned``); its Table 1 runs wait for the choice.

S3Rec as SRMA ran it drops the attribute terms (MIP and SP only). On the cpu profile, S3Rec's pre-training costs
about 56 SASRec epochs per epoch (samrec.py), so this chapter reuses the SAMRec chapter's S3Rec runs (all four
objectives, CPU_PRETRAIN_EPOCHS) instead of pre-training a second time: a deviation in S3Rec's favour, stated on
the pages. The paper profile pre-trains MIP and SP only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import runs
from ..config import Config, coserec_settings, make_config, method_name, original_settings, srma_settings
from . import common, samrec

DATASETS = ("Sports_and_Outdoors", "Toys_and_Games", "Yelp")
METHODS = ("GRU4Rec", "Caser", "SASRec", "BERT4Rec", "S3Rec", "CL4SRec", "CoSeRec", "SRMA")
CONTRASTIVE = ("CL4SRec", "CoSeRec", "SRMA")  # trained under bf16 autocast on the cpu and smoke profiles
# method -> (setting, values tried); the first value is the original paper's
TUNING = {"BERT4Rec": ("lr", (1e-4, 1e-3)), "GRU4Rec": ("dropout", (0.5, 0.2))}
TUNING_DATASET = "Toys_and_Games"
# issue 7: our CL4SRec against SRMA's own CL4SRec row before the chapter's runs, on the dataset whose seed-1
# CL4SRec runs the SAMRec chapter trains anyway (its representation comparison)
CHECK_DATASET = samrec.REPRESENTATION_DATASET
# CL4SRec without data augmentation: every operator the identity (crop keeps all, mask and reorder touch nothing)
NO_DATA_AUGMENTATION = dict(crop=1.0, mask=0.0, reorder=0.0)
TABLE2_ROWS = ("CL4SRec w/o D", "CL4SRec p = 0", "CL4SRec", "SRMA w/o D", "SRMA w/o M", "SRMA")
TABLE3_ROWS = {"SRMA w/o Enc.": "none", "SRMA-Trans": "transformer", "SRMA-GRU": "gru"}
COMPLEMENTS = tuple(kind for kind in TABLE3_ROWS.values() if kind != "none")
# Table 3's gamma, which the paper searched over GAMMAS without saying which it chose: tried for each complement on
# TUNING_DATASET with seed 1, and the value with the best validation NDCG@20 kept for its other runs
# (``chosen_gammas``). The code README's 0.5 comes first; the cpu and smoke profiles try three of the six values.
GAMMAS = (0.5, 1.0, 0.1, 0.05, 0.01, 0.005)
CPU_GAMMAS = (0.5, 0.05, 0.005)
MASKING_PS = tuple(round(0.1 * i, 1) for i in range(10))  # Figure 2's p in {0.0, ..., 0.9}
CPU_MASKING_PS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
LAYER_PAIRS = tuple((k, m) for k in range(1, 5) for m in range(k))  # Figure 3's (K, M), M < K
# artifact -> (datasets, seeds); the paper profile plans the paper's datasets, three seeds for the tables
FULL_SCOPE = {"table1": (DATASETS, (1, 2, 3)), "table2": (("Sports_and_Outdoors", "Toys_and_Games"), (1, 2, 3)),
              "table3": (("Sports_and_Outdoors", "Toys_and_Games"), (1, 2, 3)),
              "figure2": (("Sports_and_Outdoors", "Toys_and_Games"), (1,)),
              "figure3": (("Sports_and_Outdoors", "Toys_and_Games"), (1,))}
CPU_SCOPE = {**FULL_SCOPE, "table2": (("Toys_and_Games",), (1, 2, 3)), "table3": (("Toys_and_Games",), (1, 2, 3)),
             "figure2": (("Toys_and_Games",), (1,)), "figure3": (("Toys_and_Games",), (1,))}


def scope(artifact: str, profile: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The datasets and seeds an artifact ("table1", "table2", "table3", "figure2", "figure3") covers."""
    return common.scope(FULL_SCOPE if profile == "paper" else CPU_SCOPE, artifact)


def asked_scope(artifact: str, profile: str, datasets=(), seeds=()) -> tuple[list[str], list[int]]:
    """A notebook's ``datasets`` and ``seeds`` parameters, each the artifact's ``scope`` where left empty."""
    return common.asked_scope(scope(artifact, profile), datasets, seeds)


def gammas(profile: str) -> tuple[float, ...]:
    """The complement weights gamma tried for Table 3: the paper's grid on the paper profile, CPU_GAMMAS on the
    others."""
    return GAMMAS if profile == "paper" else CPU_GAMMAS


def masking_ps(profile: str) -> tuple[float, ...]:
    """Figure 2's grid of p: all ten values on the paper profile, CPU_MASKING_PS on the others."""
    return MASKING_PS if profile == "paper" else CPU_MASKING_PS


def method_config(method: str, profile: str, dataset: str, seed: int, *, representation: str = "flat",
                  tuned: dict | None = None, **overrides) -> Config:
    """One run of a method as the SRMA paper names it. ``tuned``: {setting: value} chosen on validation (TUNING);
    ``overrides`` change the method's settings (a variant's)."""
    if method in ("SASRec", "CL4SRec"):  # the SAMRec chapter's runs, shared
        return samrec.method_config(method, profile, dataset, seed, representation=representation, **overrides)
    if method == "S3Rec":
        if profile == "paper":  # SRMA's S3Rec: no attribute terms
            overrides.setdefault("s3rec", dict(aap=0.0, map=0.0))
        return samrec.method_config(method, profile, dataset, seed, **overrides)
    if method in ("GRU4Rec", "Caser", "BERT4Rec"):
        settings = {**original_settings(method.lower(), dataset), **(tuned or {}), **overrides}
    elif method == "CoSeRec":
        settings = _merged(coserec_settings(dataset), dict(cl=dict(representation=representation)), overrides)
    elif method == "SRMA":
        settings = _merged(srma_settings("paper"), dict(cl=dict(representation=representation)), overrides)
    else:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if method in CONTRASTIVE and profile in samrec.BF16_PROFILES:
        settings.setdefault("bf16", True)
    return make_config(profile, dataset=dataset, seed=seed, **settings)


def _merged(*settings: dict) -> dict:
    """Overrides merged left to right; a group's dict (``srma=dict(...)``) is merged field by field."""
    merged: dict = {}
    for layer in settings:
        for key, value in layer.items():
            merged[key] = {**merged[key], **value} if isinstance(value, dict) and key in merged else value
    return merged


def cl4srec_check(profile: str, results_dir: Path = runs.RESULTS_DIR) -> pd.DataFrame:
    """Issue 7's check before the chapter's runs: on CHECK_DATASET, our SASRec (Table 1's seeds, mean) and
    CL4SRec with each representation (seed 1) beside the SRMA paper's own SASRec and CL4SRec rows. One row per
    (method, metric) of the paper's Table 1, method "SASRec", "CL4SRec real_slots" or "CL4SRec flat": ours (over
    the "seeds" records of the "planned"; NaN without one), the paper's number and Δ % = (ours - paper) / paper.
    ``cl4srec_check_passes`` reads it for the representation in use."""
    from .. import report

    paper = report.paper_numbers("SRMA", table="Table 1", dataset=CHECK_DATASET)
    runs_of = {"SASRec": [method_config("SASRec", profile, CHECK_DATASET, s) for s in scope("table1", profile)[1]]}
    for representation in samrec.REPRESENTATIONS[::-1]:
        runs_of[f"CL4SRec {representation}"] = [method_config("CL4SRec", profile, CHECK_DATASET, 1,
                                                              representation=representation)]
    rows = []
    for method, configs in runs_of.items():
        records = [r for r in runs.collect(configs, results_dir) if r]
        published_rows = paper[paper["method"] == method.split()[0]].set_index("metric")["value"]
        for metric, published in published_rows.items():
            ours = float(np.mean([r["test"].get(metric, np.nan) for r in records])) if records else np.nan
            rows.append({"method": method, "metric": metric, "seeds": len(records), "planned": len(configs),
                         "ours": ours, "paper": published, "difference_%": 100 * (ours - published) / published})
    return pd.DataFrame(rows).set_index(["method", "metric"])


def cl4srec_check_passes(check: pd.DataFrame, representation: str | None) -> bool | None:
    """Whether our CL4SRec with ``representation`` may be built on: True when it is no further from SRMA's
    CL4SRec row than our SASRec is from its SASRec row (mean absolute Δ % over the metrics), or, further off, when
    it lies higher against its row than our SASRec does against its own (mean signed Δ %) with no metric further
    below its row than SASRec's mean absolute Δ %: a CL4SRec stronger than SRMA's makes SRMA's claims over it
    harder to confirm, not easier. None while a run is missing (every seed
    planned counts) or no representation is chosen."""
    if representation is None:
        return None
    cl4srec = f"CL4SRec {representation}"
    used = check.loc[["SASRec", cl4srec]]
    if (used["seeds"] < used["planned"]).any() or used["ours"].isna().any():
        return None
    off = used["difference_%"].abs().groupby(level="method").mean()
    signed = used["difference_%"].groupby(level="method").mean()
    # "higher" must hold metric by metric: no metric further below its row than SASRec is off on average
    higher = signed[cl4srec] >= signed["SASRec"] and used.loc[cl4srec, "difference_%"].min() >= -off["SASRec"]
    return bool(off[cl4srec] <= off["SASRec"] or higher)


def held_back_if_check_fails(profile: str, representation: str | None, results_dir: Path = runs.RESULTS_DIR):
    """The representation the contrastive runs may use: None (they wait) while ``cl4srec_check`` fails for it,
    since our CL4SRec further below SRMA's row than our SASRec is below (or above) its own is a gap to explain before
    building on CL4SRec (issue 7). The check judges the representation in use: flat's gap (explained on the SAMRec
    chapter, ``samrec`` module docstring) does not hold back real_slots runs, but would hold back flat ones if flat
    were ever chosen."""
    passes = cl4srec_check_passes(cl4srec_check(profile, results_dir), representation)
    return None if passes is False else representation


def tuning_runs(profile: str) -> dict[str, list[Config]]:
    """{method: its runs on TUNING_DATASET, seed 1, one per value tried}."""
    return {method: [method_config(method, profile, TUNING_DATASET, 1, tuned={setting: value}) for value in values]
            for method, (setting, values) in TUNING.items()}


def _best_on_validation(configs: list[Config], values: tuple, results_dir: Path):
    """The value of ``values`` whose run (``configs``, in the same order) has the best validation NDCG@20, the first
    on a tie; None until every run has finished."""
    records = runs.collect(configs, results_dir)
    if any(r is None for r in records):
        return None
    return values[int(np.argmax([r["valid"]["NDCG@20"] for r in records]))]


def tuned(profile: str, results_dir: Path = runs.RESULTS_DIR) -> dict[str, dict | None]:
    """{method: {setting: the value with the best validation NDCG@20}} for each method of TUNING; None for a
    method until all of its tuning runs have finished."""
    chosen = {}
    for method, configs in tuning_runs(profile).items():
        setting, values = TUNING[method]
        best = _best_on_validation(configs, values, results_dir)
        chosen[method] = None if best is None else {setting: best}
    return chosen


def complemented(profile: str, dataset: str, seed: int, representation: str, complement: str,
                 gamma: float | None = None) -> Config:
    """SRMA with a frozen ``complement`` ("none", "transformer", "gru") weighted by ``gamma`` (needed with a
    complement: Table 3's gamma is a choice, ``chosen_gammas``, never a silent default)."""
    if complement == "none":
        return method_config("SRMA", profile, dataset, seed, representation=representation)
    if gamma is None:
        raise ValueError(f"SRMA with the {complement!r} complement needs its gamma (srma.chosen_gammas)")
    return method_config("SRMA", profile, dataset, seed, representation=representation,
                         srma=dict(complement=complement, gamma=gamma))


def gamma_runs(profile: str, representation: str | None) -> dict[str, list[Config]]:
    """{complement: SRMA with it on TUNING_DATASET, seed 1, one run per value of ``gammas``}; empty until the
    representation is chosen."""
    if representation is None:
        return {}
    return {kind: [complemented(profile, TUNING_DATASET, 1, representation, kind, g) for g in gammas(profile)]
            for kind in COMPLEMENTS}


def chosen_gammas(profile: str, representation: str | None, results_dir: Path = runs.RESULTS_DIR,
                  train_missing: bool = False, device: str = "auto") -> dict[str, float | None]:
    """{complement: the gamma whose ``gamma_runs`` run has the best validation NDCG@20}; None for a complement until
    its runs have finished (every complement while the representation is undecided). With ``train_missing`` they
    train first (the smoke profile's notebooks)."""
    plans = gamma_runs(profile, representation)
    if train_missing:
        runs.collect([c for configs in plans.values() for c in configs], results_dir, train_missing=True,
                     device=device)
    return {kind: _best_on_validation(plans[kind], gammas(profile), results_dir) if plans else None
            for kind in COMPLEMENTS}


def deciding_runs(profile: str) -> list[Config]:
    """The runs that make the chapter's choices: the tuning runs and the SAMRec chapter's real_slots
    representation runs (its flat runs can only overturn the choice: they train after Table 1, as there)."""
    tuning = [c for configs in tuning_runs(profile).values() for c in configs]
    return tuning + samrec.representation_runs(profile)["real_slots"]


def choices(profile: str, results_dir: Path = runs.RESULTS_DIR, train_missing: bool = False,
            device: str = "auto") -> tuple[str | None, dict[str, dict | None]]:
    """CL4SRec's representation (None while undecided) and the tuned settings (``tuned``). With ``train_missing``,
    the runs that decide them train first (the smoke profile's notebooks)."""
    if train_missing:
        runs.collect(deciding_runs(profile), results_dir, train_missing=True, device=device)
    return samrec.chosen_representation(profile, results_dir), tuned(profile, results_dir)


def _waits(method: str, representation: str | None, tuning: dict) -> bool:
    return (method in CONTRASTIVE and representation is None) or (method in TUNING and tuning.get(method) is None)


def table1(profile: str, representation: str | None, tuning: dict, datasets=DATASETS,
           seeds=(1, 2, 3)) -> dict[str, list[Config]]:
    """{method: its runs, seed-major}, without the methods still waiting for a choice."""
    return {m: [method_config(m, profile, d, s, representation=representation or "flat", tuned=tuning.get(m))
                for s in seeds for d in datasets]
            for m in METHODS if not _waits(m, representation, tuning)}


def table2(profile: str, representation: str | None, datasets=DATASETS, seeds=(1, 2, 3)) -> dict[str, list[Config]]:
    """{row: its runs} for the paper's Table 2 rows (TABLE2_ROWS); empty until the representation is chosen.

    CL4SRec w/o D: identity views (NO_DATA_AUGMENTATION), so only dropout tells the two views apart. CL4SRec p = 0:
    every dropout 0. SRMA w/o D: SRMA's views without data augmentation. SRMA w/o M: no neuron masking (p = 0) and
    no layer dropping (M = 0), the K = 2 extra layers kept ("SRMA w/o M has additional FFN layers compared with
    CL4S. p = 0")."""
    if representation is None:
        return {}
    variants = {"CL4SRec w/o D": ("CL4SRec", dict(cl=NO_DATA_AUGMENTATION)),
                "CL4SRec p = 0": ("CL4SRec", dict(dropout=0.0, attn_dropout=0.0)),
                "CL4SRec": ("CL4SRec", {}),
                "SRMA w/o D": ("SRMA", dict(srma=dict(augment=False))),
                "SRMA w/o M": ("SRMA", dict(dropout=0.0, srma=dict(drop=0))),
                "SRMA": ("SRMA", {})}
    return {row: [method_config(method, profile, d, s, representation=representation, **settings)
                  for s in seeds for d in datasets]
            for row, (method, settings) in variants.items()}


def table3(profile: str, representation: str | None, datasets=DATASETS, seeds=(1, 2, 3),
           gamma: dict[str, float | None] | None = None) -> dict[str, list[Config]]:
    """{row: its runs} for Table 3: SRMA with each complement (TABLE3_ROWS), weighted by ``gamma`` ({complement:
    its gamma}, ``chosen_gammas``); a complement's row waits (is left out) while its gamma is None or not given,
    and every row while the representation is undecided. A complement is a run of its own
    (``runs.complement_config``), trained first."""
    if representation is None:
        return {}
    gamma = {"none": None, **(gamma or {})}
    return {row: [complemented(profile, d, s, representation, kind, gamma[kind]) for s in seeds for d in datasets]
            for row, kind in TABLE3_ROWS.items() if kind == "none" or gamma.get(kind) is not None}


def figure2(profile: str, representation: str | None, datasets=DATASETS, seeds=(1,)) -> list[Config]:
    """SRMA (p on its FFN layers) and SASRec (p its hidden dropout, the attention dropout at its default, as the code
    sweeps hidden_dropout_prob) for each p of ``masking_ps``; SASRec's runs alone until the representation is
    chosen."""
    ps = masking_ps(profile)
    sasrec = [method_config("SASRec", profile, d, s, dropout=p) for s in seeds for d in datasets
              for p in ps]
    if representation is None:
        return sasrec
    return [method_config("SRMA", profile, d, s, representation=representation, dropout=p)
            for s in seeds for d in datasets for p in ps] + sasrec


def figure3(profile: str, representation: str | None, datasets=DATASETS, seeds=(1,)) -> list[Config]:
    """SRMA for each (K, M) of LAYER_PAIRS; empty until the representation is chosen."""
    if representation is None:
        return []
    return [method_config("SRMA", profile, d, s, representation=representation, srma=dict(layers=k, drop=m))
            for s in seeds for d in datasets for k, m in LAYER_PAIRS]


# Which extra layers predict, as the srma group's settings (absolute, so that each names the same run whichever
# Table 1 uses): all K, which the next-item loss never trains through (the code's default); all K, with the
# next-item loss through K - M of them (the code's README); none, the extra layers only making the views (Table 1's,
# the best on validation: module docstring).
READINGS = {"SRMA, all layers predict": dict(rec_layers=False, inference_layers="all"),
            "SRMA + rec_layers": dict(rec_layers=True, inference_layers="all"),
            "SRMA, views-only layers": dict(rec_layers=False, inference_layers="none")}
TABLE1_READING = "SRMA, views-only layers"  # the reading of Table 1's SRMA (srma_settings("paper"))
CODE_MASKING = "SRMA, views-only, code's masking"  # the same with the code's neuron masking
# The readings, the views-only reading with the code's neuron masking (dropout p everywhere, attention dropout 0.1,
# against the paper's FFN-only), and SRMA as its code runs it
SWITCHES = {**{label: dict(srma=reading) for label, reading in READINGS.items()},
            CODE_MASKING: dict(attn_dropout=0.1, srma=dict(READINGS[TABLE1_READING], neuron_masking="all")),
            "SRMA (code)": srma_settings("code")}
SWITCHES_DATASET = "Toys_and_Games"


def switches(profile: str, representation: str | None, seeds=(1,)) -> dict[str, list[Config]]:
    """{label: runs} of SRMA's readings (READINGS) and its code's settings on SWITCHES_DATASET (SWITCHES; one of
    the readings is Table 1's SRMA run); empty until the representation is chosen."""
    if representation is None:
        return {}
    return {label: [method_config("SRMA", profile, SWITCHES_DATASET, s, representation=representation, **settings)
                    for s in seeds]
            for label, settings in SWITCHES.items()}


def chapter(profile: str, results_dir: Path = runs.RESULTS_DIR, datasets=DATASETS, seeds=(1, 2, 3)) -> list[Config]:
    """Every run of the chapter in the order to train them: the deciding runs (tuning, and CL4SRec's real_slots
    representation runs: the SAMRec chapter's), the paper-versus-code switches, Table 1, the SAMRec chapter's flat
    runs that can overturn the representation, Table 2, Table 3 (its gamma runs first), Figure 3 and Figure 2, each
    within its ``scope`` and the ``datasets`` and ``seeds`` asked for. Runs that wait on a choice (a tuned setting,
    the representation, Table 3's gamma) appear once it is made
    (``reproduce`` plans again after each pass). The contrastive methods also wait while ``cl4srec_check`` fails
    (``cl4srec_check_passes``)."""
    representation, tuning = choices(profile, results_dir)
    representation = held_back_if_check_fails(profile, representation, results_dir)
    gamma = chosen_gammas(profile, representation, results_dir)

    def asked(artifact: str) -> tuple[list[str], list[int]]:
        in_scope, scope_seeds = scope(artifact, profile)
        return [d for d in in_scope if d in datasets], [s for s in scope_seeds if s in seeds]

    def flat(table: dict[str, list[Config]]) -> list[Config]:
        return [c for configs in table.values() for c in configs]

    table1_runs = table1(profile, representation, tuning, *asked("table1"))
    by_seed = sorted(flat(table1_runs), key=lambda c: c.seed)  # stable: seed-major, methods in the paper's order
    # the switches first: they show which extra layers SRMA should predict through (SWITCHES)
    plan = (deciding_runs(profile)
            + (flat(switches(profile, representation)) if SWITCHES_DATASET in datasets and 1 in seeds else [])
            + by_seed + samrec.representation_check_runs(profile, results_dir)
            + flat(table2(profile, representation, *asked("table2")))
            + (flat(gamma_runs(profile, representation)) if all(asked("table3")) else [])
            + flat(table3(profile, representation, *asked("table3"), gamma=gamma))
            + figure3(profile, representation, *asked("figure3")) + figure2(profile, representation, *asked("figure2")))
    return list({runs.run_key(c): c for c in plan}.values())


def progress(profile: str, results_dir: Path = runs.RESULTS_DIR) -> pd.DataFrame:
    """``common.progress`` of the chapter's plan; runs waiting for a choice are counted with a stand-in value (the
    first value tried, the "real_slots" representation) until it is made."""
    representation, tuning = choices(profile, results_dir)
    stand_in = representation or "real_slots"
    tuning_or_stand_in = {m: tuning[m] or {setting: values[0]} for m, (setting, values) in TUNING.items()}
    usable = held_back_if_check_fails(profile, representation, results_dir)
    gamma = chosen_gammas(profile, usable, results_dir)
    gamma_or_stand_in = {kind: gamma[kind] or gammas(profile)[0] for kind in COMPLEMENTS}
    # artifact -> (its scope, its runs for a (datasets, seeds) scope)
    builders = {"Table 1": ("table1", lambda d, s: table1(profile, stand_in, tuning_or_stand_in, d, s)),
                "Table 2": ("table2", lambda d, s: table2(profile, stand_in, d, s)),
                "Table 3's gamma": ("table3", lambda d, s: gamma_runs(profile, stand_in)),
                "Table 3": ("table3", lambda d, s: table3(profile, stand_in, d, s, gamma=gamma_or_stand_in)),
                "Figure 3": ("figure3", lambda d, s: figure3(profile, stand_in, d, s)),
                "Figure 2": ("figure2", lambda d, s: figure2(profile, stand_in, d, s))}
    plans = {"tuning runs": [c for configs in tuning_runs(profile).values() for c in configs]}
    for artifact, (artifact_scope, build) in builders.items():
        made = build(*scope(artifact_scope, profile))
        plans[artifact] = made if isinstance(made, list) else [c for configs in made.values() for c in configs]
        if artifact == "Table 1":  # then, as in ``chapter``, the SAMRec chapter's flat runs that can overturn it
            plans["CL4SRec flat check"] = samrec.representation_check_runs(profile, results_dir)
    plans["paper vs code"] = [c for configs in switches(profile, stand_in).values() for c in configs]
    tuning_keys = {runs.run_key(c) for c in plans["tuning runs"]}
    gamma_keys = {runs.run_key(c) for c in plans["Table 3's gamma"]}

    def waiting(cfg: Config) -> bool:
        if runs.run_key(cfg) in tuning_keys:
            return False
        if cfg.contrast == "srma" and cfg.srma.complement in COMPLEMENTS and runs.run_key(cfg) not in gamma_keys:
            return gamma[cfg.srma.complement] is None or _waits("SRMA", usable, tuning)
        return _waits(method_name(cfg), usable, tuning)

    return common.progress(plans, waiting, "S3Rec pre-training, complement encoders", results_dir)
