"""Run records (see runs.py) as frames, one row per record and metric, and their summaries: mean ± 95% CI over
seeds; also what a record says of itself (its method, the precision it computed in)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats

from ..config import METRICS, Config, as_dict

# Profiles whose records and figures are committed and shown in the book; smoke runs are scratch.
COMMITTED_PROFILES = ("cpu", "paper")


def record_method(record: dict) -> str:
    """The method a record trained (records made before methods were named are SASRec's)."""
    return record.get("method") or {"sasrec": "SASRec"}[record["model"]]


def computed_precision(record: dict) -> str:
    """"bf16" or "fp32": what a record's run computed in. A config's ``bf16`` asks for bf16 autocast, which a run
    gets only where its CPU computes bf16 natively (train.native_bf16); the record's ``precision`` says which.
    Records older than that field ran bf16 autocast whenever their config asked for it (there was no fallback)."""
    stored = record.get("precision")
    if stored is None:
        return "bf16" if record["config"].get("bf16") else "fp32"
    return "bf16" if stored.startswith("bf16") else "fp32"


def device_text(device: str) -> str:
    """A record's device as a page prints it: "1 threads" in the singular, and, for a CPU recorded before records
    named its vector instructions (AVX2, AVX-512), a word that they are unknown (such machines differ several-fold
    in speed)."""
    text = re.sub(r"\b1 threads\b", "1 thread", device)
    if text.startswith("cpu (") and "AVX" not in text:
        text = text[:-1] + "; vector instructions not recorded)" if text.endswith(")") else text
    return text


def precision_text(records: list[dict | None]) -> str:
    """What the finished runs that ask for bf16 computed in, as a page states it."""
    asked = [r for r in records if r and r["config"].get("bf16")]
    if not asked:
        return "no finished run asks for bf16 yet"
    in_bf16 = sum(computed_precision(r) == "bf16" for r in asked)
    if in_bf16 == len(asked):
        return f"all {len(asked)} finished runs that ask for it ran under bf16 autocast"
    fallback = f"{len(asked) - in_bf16} in fp32 (bf16 not native on their CPU)"
    return f"{in_bf16} of the {len(asked)} finished runs that ask for it ran under bf16 autocast, {fallback}"


def capped_text(records: list[dict | None]) -> str:
    """The finished runs that trained to their epoch cap without stopping early, as a page states them: their
    validation metric may still have been rising, so their numbers may understate the method."""
    capped = [r for r in records if r and r.get("valid") and not r.get("stopped_early", True)
              and r["epochs_run"] >= r["config"]["epochs"]]
    if not capped:
        return "none of them"
    runs = sorted(capped, key=lambda r: (record_method(r), r["dataset"], r["seed"]))
    listed = ", ".join(f"{record_method(r)} {r['dataset']} seed {r['seed']} (selected epoch {r['best_epoch'] + 1} "
                       f"of {r['epochs_run']})" for r in runs)
    return f"{len(capped)} of them: {listed}"


def records_frame(records: list[dict | None], split: str = "test") -> pd.DataFrame:
    """One row per (record, metric): method, dataset, seed, profile, metric, value, plus cost columns.

    Pre-training records (no validation or test metrics) and missing records (None) are left out.
    """
    rows = []
    for record in (r for r in records if r and r[split]):
        for metric in METRICS:
            rows.append({"method": record_method(record), "dataset": record["dataset"], "seed": record["seed"],
                         "profile": record["profile"], "metric": metric, "value": record[split][metric],
                         "best_epoch": record["best_epoch"], "epochs_run": record["epochs_run"],
                         "train_seconds": record["train_seconds"]})
    return pd.DataFrame(rows, columns=["method", "dataset", "seed", "profile", "metric", "value", "best_epoch",
                                       "epochs_run", "train_seconds"])


def _config_value(config: dict, field: str, default: dict):
    """A field of a record's config; ``group.field`` (``sam.rho``) reads a group's field. A record made before the
    field existed ran with its default (runs.KEY_NEUTRAL), the value in ``default`` (a Config's as_dict)."""
    value = config
    for part in field.split("."):
        if part not in default:
            raise KeyError(f"no config field {field!r}")
        value, default = (value or {}).get(part, default[part]), default[part]
    return value


def records_frame_with(records: list[dict | None], fields=(), split: str = "test") -> pd.DataFrame:
    """``records_frame`` plus one column per config field in ``fields`` (``train_fraction``, ``sam.rho``), read from
    each record's ``config`` (the field's default where a record predates the field): the frame to summarise when
    runs differ in more than method, dataset and seed."""
    kept = [r for r in records if r and r[split]]
    frame = records_frame(kept, split)
    per_record, default = len(METRICS), as_dict(Config())  # records_frame: one row per metric, record by record
    for field in fields:
        frame[field] = [_config_value(r["config"], field, default) for r in kept for _ in range(per_record)]
    return frame


def mean_ci(values, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval (nan half-width for one value)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return float("nan"), float("nan")
    if len(values) == 1:
        return float(values[0]), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, CI half-width and number of seeds per (method, dataset, profile, metric)."""
    return summarize_by(frame, ["method", "dataset", "profile", "metric"])


def summarize_by(frame: pd.DataFrame, keys) -> pd.DataFrame:
    """Mean, 95% CI half-width and number of seeds per group of ``keys`` (``summarize`` with other keys)."""
    keys = list(keys)
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        mean, half = mean_ci(group["value"])
        rows.append(dict(zip(keys, key), mean=mean, ci95=half, seeds=len(group)))
    return pd.DataFrame(rows, columns=keys + ["mean", "ci95", "seeds"])


def seeds_text(summary: pd.DataFrame) -> str:
    """The number of seeds behind a summary's means, for a caption: "3 seeds", "1-3 seeds", "no runs"."""
    counts = sorted(set(int(n) for n in summary["seeds"]))
    if not counts:
        return "no runs"
    span = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return f"{span} seed{'s' if counts[-1] > 1 else ''}"


def runs_per_point(seeds) -> str:
    """What a number over ``seeds`` is, for a caption: "means over seeds 1, 2, 3" or "one run per point (seed 1)"."""
    seeds = list(seeds)
    if len(seeds) == 1:
        return f"one run per point (seed {seeds[0]})"
    return f"means over seeds {', '.join(map(str, seeds))}"


def format_mean_ci(mean: float, half: float, digits: int = 4) -> str:
    if np.isnan(mean):
        return "missing"
    return f"{mean:.{digits}f}" if np.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"
