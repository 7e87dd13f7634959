"""What the chapters' plans share: paired tests between two lists of runs, and the progress table of a plan."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .. import bench, report, runs
from ..config import Config, method_name


def scope(scopes: dict[str, tuple], artifact: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The (datasets, seeds) of ``artifact`` in a chapter's ``scopes``, with a clear error for an unknown one."""
    if artifact not in scopes:
        raise ValueError(f"unknown artifact {artifact!r}; known: {', '.join(scopes)}")
    return scopes[artifact]


def asked_scope(in_scope: tuple[tuple[str, ...], tuple[int, ...]], datasets=(), seeds=()) -> tuple[list[str], list[int]]:
    """A notebook's ``datasets`` and ``seeds`` parameters, each the artifact's scope where left empty."""
    return list(datasets or in_scope[0]), list(seeds or in_scope[1])


def paired_difference(treatment: list[Config], control: list[Config], results_dir: Path = runs.RESULTS_DIR,
                      split: str = "valid", metric: str = "NDCG@20") -> dict | None:
    """``report.paired_test`` of treatment minus control, paired by seed, plus ``relative`` (the mean difference
    over the control's mean) and both sides' values; None until every run of both has a record."""
    found = [runs.collect(configs, results_dir) for configs in (treatment, control)]
    if any(r is None for records in found for r in records):
        return None
    values = [{c.seed: r[split][metric] for c, r in zip(configs, records)}
              for configs, records in zip((treatment, control), found)]
    test = report.paired_test(*values)
    return {**test, "relative": test["mean"] / test["base"], "treatment": list(values[0].values()),
            "control": list(values[1].values()), "seeds": test["pairs"]}


def _cost_kind(cfg: Config) -> tuple[str, str]:
    """What a run's cost depends on besides its dataset: its method and, for a contrastive one, the representation
    (a flat CL4SRec epoch costs several real_slots epochs: the finished runs of one must not estimate the other)."""
    return method_name(cfg), cfg.cl.representation if cfg.contrast != "none" else ""


def run_hours_estimator(configs: list[Config], results_dir: Path = runs.RESULTS_DIR, cautious: bool = False,
                        prefer: str | None = None, checkpoints: bool = True) -> Callable[[Config], float]:
    """A function giving a queued run's hours (on one core beside another run): the mean hours of the finished runs
    among ``configs`` (and their pre-trainings) of the same method (and representation) and dataset, else of the
    same method, else ``bench.estimate_from_benchmarks`` from the stored benchmarks of Beauty (``prefer``:
    bench.stored_records) for the median epochs of the finished runs (a pre-training: its own epochs); NaN without
    any of these; less the hours a killed run's checkpoint already holds (at least a tenth of the run is left).
    ``cautious`` takes the longest finished run instead of the mean, for deciding whether a run fits before a
    deadline (early stopping makes a run's length vary 2x); the benchmark's estimate stays at the median epochs (the
    longest run of another method, often at the epoch cap, would keep a new method from ever fitting in a
    session)."""
    results_dir, typical = Path(results_dir), (np.max if cautious else np.mean)
    # finished pre-trainings estimate the others (a complement encoder is named as its model: SASRec's own runs
    # stand in for it, and it is left out here so that it does not count as one of them)
    stages = [s for c in configs if (s := runs.stage_config(c)) is not None and s.objective == "s3rec"]
    configs = list({runs.run_key(c): c for c in [*configs, *stages]}.values())
    hours: dict[tuple[str, str, str], list[float]] = {}
    epochs_run = []
    for cfg, record in zip(configs, runs.collect(configs, results_dir)):
        if record:
            hours.setdefault((*_cost_kind(cfg), cfg.dataset), []).append(record["train_seconds"] / 3600)
            if cfg.objective != "s3rec" and record.get("epochs_run") is not None:
                epochs_run.append(record["epochs_run"])
    by_kind: dict[tuple[str, str], list[float]] = {}
    for (*kind, _), values in hours.items():
        by_kind.setdefault(tuple(kind), []).extend(values)
    benchmarks = bench.stored_records("Beauty", results_dir, prefer)
    typical_epochs = int(np.median(epochs_run)) if epochs_run else None

    def whole_run(cfg: Config) -> float:
        same = hours.get((*_cost_kind(cfg), cfg.dataset)) or by_kind.get(_cost_kind(cfg))
        if same:
            return float(typical(same))
        epochs = cfg.epochs if cfg.objective == "s3rec" else min(typical_epochs or cfg.epochs, cfg.epochs)
        from_bench = bench.estimate_from_benchmarks(cfg, benchmarks, epochs)
        return from_bench if from_bench is not None else np.nan

    def estimate(cfg: Config) -> float:  # less what its checkpoint holds, but at least a tenth of a run
        hours_of_run = whole_run(cfg)
        if not checkpoints:
            return hours_of_run
        return max(hours_of_run - runs.checkpoint_seconds(cfg, results_dir) / 3600, hours_of_run / 10)

    return estimate


def live_run_hours_estimator(configs: list[Config], results_dir: Path = runs.RESULTS_DIR,
                             **options) -> Callable[[Config], float]:
    """``run_hours_estimator`` rebuilt whenever a record lands in ``results_dir``: a queue that runs for hours
    learns from the runs it finishes (a run twice as slow on this machine as on the last one, say)."""
    results_dir, built = Path(results_dir), {}

    def estimate(cfg: Config) -> float:
        records = sorted(results_dir.glob("**/*.jsonl"))
        stamp = (len(records), max((p.stat().st_mtime for p in records), default=0.0))
        if built.get("stamp") != stamp:
            built.update(stamp=stamp, estimate=run_hours_estimator(configs, results_dir, **options))
        return built["estimate"](cfg)

    return estimate


def progress(plans: dict[str, list[Config]], waiting: Callable[[Config], bool], stages: str,
             results_dir: Path = runs.RESULTS_DIR) -> pd.DataFrame:
    """Per artifact of a chapter's ``plans`` ({artifact: its runs}): runs planned, finished, ``waiting`` for a choice
    (counted with a stand-in value until it is made), hours of training spent on the finished ones, the unfinished
    runs that have trained some epochs ("in progress", from their progress files: ``runs.find_progress``) and the
    hours those epochs took ("hours in progress"), and how many
    missing runs have an estimate ("estimated") and their estimated hours ("hours left (est.)",
    ``run_hours_estimator``, whole runs: the same on a machine holding a killed run's checkpoint as on a fresh
    clone). Hours are a queued run's, on one core beside another run: the machine's two cores
    finish about twice as many. A run in two artifacts counts in the first. The stages the runs need first (S3Rec's pre-training, SRMA's
    complement encoders: ``runs.stage_config``) are one more artifact, named ``stages``."""
    every = [c for configs in plans.values() for c in configs]
    needed = {}
    for cfg in every:
        stage = runs.stage_config(cfg)
        if stage is not None:
            needed.setdefault(runs.run_key(stage), stage)
    plans = {**plans, stages: list(needed.values())}
    every = [c for configs in plans.values() for c in configs]
    records = {runs.run_key(c): r for c, r in zip(every, runs.collect(every, results_dir))}
    estimate = run_hours_estimator(every, results_dir, checkpoints=False)

    seen, rows = set(), []
    for artifact, configs in plans.items():
        own = [c for c in configs if runs.run_key(c) not in seen]
        seen.update(runs.run_key(c) for c in own)
        finished = [c for c in own if records[runs.run_key(c)]]
        missing = [c for c in own if not records[runs.run_key(c)]]
        estimates = [estimate(c) for c in missing]
        known = [e for e in estimates if not np.isnan(e)]
        started = [p for c in missing if (p := runs.find_progress(c, results_dir))]
        rows.append({"artifact": artifact, "runs": len(own), "finished": len(finished),
                     "waiting": sum(waiting(c) for c in missing),
                     "hours spent": sum(records[runs.run_key(c)]["train_seconds"] for c in finished) / 3600,
                     "in progress": len(started),
                     "hours in progress": sum(e["train_seconds"] + (e.get("eval_seconds") or 0)
                                              for p in started for e in p["history"]) / 3600,
                     "estimated": len(known), "hours left (est.)": float(np.sum(known))})
    return pd.DataFrame(rows).set_index("artifact")
