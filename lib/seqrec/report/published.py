"""The papers' published numbers (papers/*.csv) and ours beside them.

Ours come as a ``summarize`` frame (records.py); a difference is ours minus published, in % of published.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import METRICS

PAPERS_DIR = Path(__file__).parents[1] / "papers"  # seqrec/papers
PAPER_FILES = {"SRMA": "srma.csv", "EMKD": "emkd.csv", "NASR": "nasr.csv", "SAMRec": "samrec.csv"}
# Our method names -> the rows of the papers' CSVs where those differ (SAMRec Table 2 calls S3Rec+SAM "+ SAMRec").
PAPER_METHOD_NAMES = {"S3Rec+SAM": "S3Rec + SAMRec", "CL4SRec+SAM": "CL4SRec + SAMRec"}
# Our dataset_stats() names for the statistics the papers print under another name.
STAT_ALIASES = {"avg_actions_per_user": "avg_length"}


def paper_numbers(paper: str | None = None, **filters) -> pd.DataFrame:
    """The papers' published numbers (columns paper, table, dataset, method, metric, value, source).

    ``filters`` select rows by column value, e.g. ``paper_numbers(method="SASRec", metric="HR@10")``.
    """
    names = [paper] if paper else list(PAPER_FILES)
    unknown = [n for n in names if n not in PAPER_FILES]
    if unknown:
        raise ValueError(f"unknown paper {unknown[0]!r}; known papers: {', '.join(PAPER_FILES)}")
    frame = pd.concat([_paper_file(n) for n in names], ignore_index=True)  # concat copies: the cache stays intact
    if filters:
        frame = frame[np.logical_and.reduce([frame[column].to_numpy() == value for column, value in filters.items()])]
    return frame.reset_index(drop=True)


@functools.cache
def _paper_file(paper: str) -> pd.DataFrame:
    """One paper's CSV, read once per process (the claims look numbers up hundreds of times)."""
    return pd.read_csv(PAPERS_DIR / PAPER_FILES[paper])


def paper_dataset_stats() -> pd.DataFrame:
    return pd.read_csv(PAPERS_DIR / "dataset_stats.csv")


def _printed_precision(value: float) -> int:
    text = np.format_float_positional(value, trim="-")  # 1000209 -> "1000209", 95.81 -> "95.81"
    return len(text.split(".")[1]) if "." in text else 0


def stats_vs_papers(ours: pd.DataFrame) -> pd.DataFrame:
    """Every dataset statistic a paper prints for one of ``ours``' datasets (rows paper, dataset, statistic): the
    printed value and ours, both at the paper's printed precision, and whether they are equal at that precision."""
    printed = paper_dataset_stats()
    printed = printed[printed["dataset"].isin(ours.index)].assign(
        ours_name=lambda f: f["statistic"].map(lambda s: STAT_ALIASES.get(s, s)))
    printed = printed[printed["ours_name"].isin(ours.columns)]
    rows = []
    for item in printed.itertuples():
        digits = _printed_precision(item.value)
        mine = round(float(ours.loc[item.dataset, item.ours_name]), digits)
        rows.append({"paper": f"{item.paper} {item.table}", "dataset": item.dataset, "statistic": item.ours_name,
                     "printed": f"{item.value:,.{digits}f}", "ours": f"{mine:,.{digits}f}", "equal": mine == item.value})
    table = pd.DataFrame(rows, columns=["paper", "dataset", "statistic", "printed", "ours", "equal"])
    order = {name: i for i, name in enumerate([*dict.fromkeys(table["paper"]), *ours.index, *ours.columns])}
    return table.sort_values(["paper", "dataset", "statistic"], key=lambda c: c.map(order), kind="stable",
                             ignore_index=True)


def _ours(summary: pd.DataFrame, method: str, profile: str) -> pd.DataFrame:
    """``summary`` restricted to one method and profile, indexed by (dataset, metric)."""
    for column, value in (("method", method), ("profile", profile)):
        if len(summary) and value not in set(summary[column]):
            raise ValueError(f"the summary has no {column} {value!r}; it has {sorted(set(summary[column]))}")
    ours = summary[(summary["method"] == method) & (summary["profile"] == profile)]
    return ours.set_index(["dataset", "metric"])


def _difference(mean: float, half: float, published: float) -> tuple[float, bool | None]:
    """Ours minus published in % of published, and whether published lies inside our CI (None: one seed)."""
    inside = None if np.isnan(half) else bool(abs(published - mean) <= half)
    return round(100 * (mean - published) / published, 1), inside


def relative_to_papers(summary: pd.DataFrame, papers: pd.DataFrame, *, method: str, profile: str) -> pd.DataFrame:
    """For every published number we have a counterpart for (``method`` under ``profile``): ours, the difference
    in %, and whether the published number lies inside our 95% CI (None with a single seed)."""
    ours = _ours(summary, method, profile)
    rows = []
    for item in papers.itertuples():
        if (item.dataset, item.metric) not in ours.index:
            continue
        o = ours.loc[(item.dataset, item.metric)]
        difference, inside = _difference(o["mean"], o["ci95"], item.value)
        rows.append({"paper": f"{item.paper} {item.table}", "dataset": item.dataset, "metric": item.metric,
                     "published": item.value, "ours": round(o["mean"], 4), "ci95": o["ci95"], "seeds": int(o["seeds"]),
                     "difference_%": difference, "published_inside_our_ci": inside})
    return pd.DataFrame(rows, columns=["paper", "dataset", "metric", "published", "ours", "ci95", "seeds",
                                       "difference_%", "published_inside_our_ci"])


def ours_vs_papers(summary: pd.DataFrame, papers: pd.DataFrame, datasets: list[str], metrics=METRICS, *,
                   method: str, profile: str) -> pd.DataFrame:
    """Index (dataset, metric); columns (source, quantity): ("ours", mean | ci95 | seeds) for ``method`` under
    ``profile`` (NaN where no run finished), and per paper table (e.g. "SRMA Table 1", published |
    difference_% | inside_ci), NaN where the paper prints no number."""
    ours = _ours(summary, method, profile)
    index = pd.MultiIndex.from_product([datasets, list(metrics)], names=["dataset", "metric"])
    columns = {("ours", q): ours[q].reindex(index).astype(float).to_numpy() for q in ("mean", "ci95", "seeds")}
    labelled = papers.assign(column=papers["paper"] + " " + papers["table"])
    for column in dict.fromkeys(labelled["column"]):  # in the order of ``papers``
        published = labelled[labelled["column"] == column].set_index(["dataset", "metric"])["value"].reindex(index)
        compared = [_difference(m, h, p) if not np.isnan(p) else (np.nan, None)
                    for m, h, p in zip(columns[("ours", "mean")], columns[("ours", "ci95")], published)]
        columns[(column, "published")] = published.to_numpy()
        columns[(column, "difference_%")] = [d for d, _ in compared]
        columns[(column, "inside_ci")] = [i for _, i in compared]
    return pd.DataFrame(columns, index=index)


def agreement_by_paper(relative: pd.DataFrame) -> pd.DataFrame:
    """Per paper table (from ``relative_to_papers``): cells compared, the median, smallest and largest difference
    (%), cells where ours is higher, and in how many cells the published number lies inside our CI."""
    grouped = relative.groupby("paper", sort=False)
    table = pd.DataFrame({
        "cells": grouped.size(),
        "median_difference_%": grouped["difference_%"].median(),
        "min_difference_%": grouped["difference_%"].min(),
        "max_difference_%": grouped["difference_%"].max(),
        "ours_higher": grouped["difference_%"].apply(lambda d: int((d > 0).sum())),
        "published_inside_our_ci": grouped["published_inside_our_ci"].apply(lambda s: int((s == True).sum())),  # noqa: E712
        "with_ci": grouped["published_inside_our_ci"].apply(lambda s: int(s.notna().sum())),
    })
    table.index.name = "paper"
    return table


def inconsistent_numbers(papers: pd.DataFrame) -> pd.DataFrame:
    """Published numbers that cannot all be right. With one target per user, HR@k and NDCG@k cannot fall as k
    grows, and NDCG@k cannot exceed HR@k (a hit scores at most 1 in NDCG, exactly 1 in HR).

    Args:
        papers: ``paper_numbers`` rows; metrics other than HR@k and NDCG@k are ignored.
    Returns:
        one row per broken relation: paper, table, dataset, method and ``check`` ("HR@10 0.0094 < HR@5 0.0143"),
        comparing neighbouring k of one metric and NDCG@k with HR@k.
    """
    rows = []
    for (paper, table_, dataset, method), group in papers.groupby(["paper", "table", "dataset", "method"], sort=False):
        values = dict(zip(group["metric"], group["value"]))
        ks = sorted({int(m.split("@")[1]) for m in values if re.fullmatch(r"(HR|NDCG)@\d+", m)})
        checks = [(f"{name}@{b}", "<", f"{name}@{a}") for name in ("HR", "NDCG") for a, b in zip(ks, ks[1:])]
        checks += [(f"NDCG@{k}", ">", f"HR@{k}") for k in ks]
        for left, sign, right in checks:
            if left in values and right in values and (values[left] < values[right] if sign == "<"
                                                       else values[left] > values[right]):
                rows.append({"paper": paper, "table": table_, "dataset": dataset, "method": method,
                             "check": f"{left} {values[left]:g} {sign} {right} {values[right]:g}"})
    return pd.DataFrame(rows, columns=["paper", "table", "dataset", "method", "check"])


def method_comparison(summary: pd.DataFrame, papers: pd.DataFrame, methods, datasets, metrics=("HR@10", "NDCG@10"),
                      *, profile: str, paper_names: dict | None = None) -> pd.DataFrame:
    """Methods by datasets, ours beside one paper table.

    Args:
        summary: ``summarize`` of the records (rows of other profiles are ignored).
        papers: the paper's numbers (``paper_numbers``, one table: at most one row per dataset, method, metric).
        methods, datasets, metrics: the rows and metrics to show, in order; a method without records is kept.
        paper_names: our method name -> the paper's (default PAPER_METHOD_NAMES).
    Returns:
        index (dataset, method); columns (metric, quantity) with quantity ``mean``, ``ci95``, ``seeds`` (ours; NaN
        and 0 seeds where no record exists), ``published`` (NaN where the paper prints none) and
        ``difference_%`` ((ours − published) / published, in %, rounded to 0.1).
    """
    paper_names = PAPER_METHOD_NAMES if paper_names is None else paper_names
    if papers.duplicated(["dataset", "method", "metric"]).any():
        raise ValueError("papers holds more than one number per dataset, method and metric: select one table")
    ours = summary[summary["profile"] == profile].set_index(["dataset", "method", "metric"])
    published = papers.set_index(["dataset", "method", "metric"])["value"]
    index = pd.MultiIndex.from_product([list(datasets), list(methods)], names=["dataset", "method"])
    columns = {}
    for metric in metrics:
        keys = [(d, m, metric) for d, m in index]
        paper_keys = [(d, paper_names.get(m, m), metric) for d, m in index]
        mean = ours["mean"].reindex(keys).astype(float).to_numpy()
        pub = published.reindex(paper_keys).astype(float).to_numpy()
        columns[(metric, "mean")] = mean
        columns[(metric, "ci95")] = ours["ci95"].reindex(keys).astype(float).to_numpy()
        columns[(metric, "seeds")] = ours["seeds"].reindex(keys).fillna(0).astype(int).to_numpy()
        columns[(metric, "published")] = pub
        columns[(metric, "difference_%")] = np.round(100 * (mean - pub) / pub, 1)
    return pd.DataFrame(columns, index=index)


def relative_improvement(compared: pd.DataFrame, method: str, baseline: str) -> pd.DataFrame:
    """From ``method_comparison``: per (dataset, metric), ``method``'s improvement over ``baseline`` in %,
    (method − baseline) / baseline, from our means (``ours_%``) and from the paper's numbers (``paper_%``); NaN
    while either is missing and where the baseline is 0."""
    rows = []
    datasets = dict.fromkeys(compared.index.get_level_values("dataset"))
    for dataset in datasets:
        for metric in dict.fromkeys(compared.columns.get_level_values(0)):
            ours = [compared.loc[(dataset, m), (metric, "mean")] for m in (method, baseline)]
            paper = [compared.loc[(dataset, m), (metric, "published")] for m in (method, baseline)]
            rows.append({"dataset": dataset, "metric": metric, "ours_%": _relative(*ours),
                         "paper_%": _relative(*paper)})
    return pd.DataFrame(rows, columns=["dataset", "metric", "ours_%", "paper_%"]).set_index(["dataset", "metric"])


def _relative(value: float, base: float) -> float:
    return float("nan") if np.isnan(value) or np.isnan(base) or base == 0 else float(100 * (value - base) / base)
