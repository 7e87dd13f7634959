"""Tables and figures from run records: our numbers (mean ± 95% CI over seeds) next to the papers'.

Nothing here trains; everything reads records (see runs.py) and the papers' CSVs (papers/*.csv).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .config import METRICS

PAPERS_DIR = Path(__file__).parent / "papers"
PAPER_FILES = {"SRMA": "srma.csv", "EMKD": "emkd.csv", "NASR": "nasr.csv", "SAMRec": "samrec.csv"}


def paper_numbers(paper: str | None = None, **filters) -> pd.DataFrame:
    """The papers' published numbers (columns paper, table, dataset, method, metric, value, source).

    ``filters`` select rows by column value, e.g. ``paper_numbers(method="SASRec", metric="HR@10")``.
    """
    names = [paper] if paper else list(PAPER_FILES)
    unknown = [n for n in names if n not in PAPER_FILES]
    if unknown:
        raise ValueError(f"unknown paper {unknown[0]!r}; known papers: {', '.join(PAPER_FILES)}")
    frame = pd.concat([pd.read_csv(PAPERS_DIR / PAPER_FILES[n]) for n in names], ignore_index=True)
    for column, value in filters.items():
        frame = frame[frame[column] == value]
    return frame.reset_index(drop=True)


def paper_dataset_stats() -> pd.DataFrame:
    return pd.read_csv(PAPERS_DIR / "dataset_stats.csv")


def records_frame(records: list[dict | None], split: str = "test") -> pd.DataFrame:
    """One row per (record, metric): model, dataset, seed, profile, metric, value, plus cost columns."""
    rows = []
    for record in filter(None, records):
        for metric in METRICS:
            rows.append({"model": record["model"], "dataset": record["dataset"], "seed": record["seed"],
                         "profile": record["profile"], "metric": metric, "value": record[split][metric],
                         "best_epoch": record["best_epoch"], "epochs_run": record["epochs_run"],
                         "train_seconds": record["train_seconds"]})
    return pd.DataFrame(rows, columns=["model", "dataset", "seed", "profile", "metric", "value", "best_epoch",
                                       "epochs_run", "train_seconds"])


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
    """Mean, CI half-width and number of seeds per (model, dataset, profile, metric)."""
    keys = ["model", "dataset", "profile", "metric"]
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        mean, half = mean_ci(group["value"])
        rows.append(dict(zip(keys, key), mean=mean, ci95=half, seeds=len(group)))
    return pd.DataFrame(rows, columns=keys + ["mean", "ci95", "seeds"])


def format_mean_ci(mean: float, half: float, digits: int = 4) -> str:
    if np.isnan(mean):
        return "missing"
    return f"{mean:.{digits}f}" if np.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"


def ours_vs_papers(summary: pd.DataFrame, papers: pd.DataFrame, datasets: list[str],
                   metrics=METRICS) -> pd.DataFrame:
    """Rows (dataset, metric); a column for ours ("mean ± ci (n seeds, profile)") and one per paper table."""
    papers = papers.assign(column=papers["paper"] + " " + papers["table"])
    columns = sorted(papers["column"].unique())
    rows = []
    for dataset in datasets:
        for metric in metrics:
            ours = summary[(summary["dataset"] == dataset) & (summary["metric"] == metric)]
            if len(ours):
                o = ours.iloc[0]
                cell = f"{format_mean_ci(o['mean'], o['ci95'])} ({o['seeds']} seeds, {o['profile']})"
            else:
                cell = "missing"
            row = {"dataset": dataset, "metric": metric, "ours": cell}
            for column in columns:
                hit = papers[(papers["column"] == column) & (papers["dataset"] == dataset) & (papers["metric"] == metric)]
                row[column] = f"{hit['value'].iloc[0]:.4f}" if len(hit) else ""
            rows.append(row)
    return pd.DataFrame(rows)


def learning_curves(records: list[dict | None], metric: str = "NDCG@10", path: Path | None = None):
    """Validation ``metric`` per epoch, one panel per dataset, one line per seed; saved to ``path``."""
    import matplotlib.pyplot as plt

    records = [r for r in records if r]
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    fig, axes = plt.subplots(1, max(len(datasets), 1), figsize=(3.2 * max(len(datasets), 1), 2.8), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        for record in (r for r in records if r["dataset"] == dataset):
            values = [e["valid"][metric] for e in record["history"]]
            ax.plot(values, lw=1, label=f"seed {record['seed']}")
            ax.axvline(record["best_epoch"], color="grey", lw=0.5, ls=":")
        ax.set_title(dataset, fontsize=9)
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel(f"valid {metric}")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


# Our dataset_stats() names for the statistics the papers print under another name.
STAT_ALIASES = {"avg_actions_per_user": "avg_length"}


def _printed_precision(value: float) -> int:
    text = f"{value:.6g}"
    return len(text.split(".")[1]) if "." in text else 0


def stats_vs_papers(ours: pd.DataFrame) -> pd.DataFrame:
    """Per paper table and dataset: ``=`` where the paper's statistic equals ours (at the paper's printed
    precision), the paper's value where it differs, blank where the paper gives none."""
    printed = paper_dataset_stats()
    printed = printed[printed["dataset"].isin(ours.index)].assign(
        ours_name=lambda f: f["statistic"].map(lambda s: STAT_ALIASES.get(s, s)))
    printed = printed[printed["ours_name"].isin(ours.columns)]
    rows = {}
    for item in printed.itertuples():
        mine = round(float(ours.loc[item.dataset, item.ours_name]), _printed_precision(item.value))
        row = rows.setdefault((f"{item.paper} {item.table}", item.dataset), {})
        row[item.ours_name] = "=" if mine == item.value else f"{item.value:g}"
    table = pd.DataFrame.from_dict(rows, orient="index").fillna("")
    table.index.names = ["paper", "dataset"]
    return table


def length_histograms(lengths: dict[str, np.ndarray], path: Path | None = None, cut: int = 50):
    """Histogram of sequence lengths per dataset (log x axis), with the max_len cut marked."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(lengths), figsize=(2.6 * len(lengths), 2.5), squeeze=False)
    for ax, (name, values) in zip(axes[0], lengths.items()):
        ax.hist(values, bins=np.logspace(np.log10(max(values.min(), 1)), np.log10(values.max() + 1), 30))
        ax.set_xscale("log")
        ax.axvline(cut, color="C3", lw=0.8, ls="--")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("items per user")
    axes[0][0].set_ylabel("users")
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


def relative_to_papers(summary: pd.DataFrame, papers: pd.DataFrame) -> pd.DataFrame:
    """For every published number we have a counterpart for: ours, the difference in %, and whether the
    published number lies inside our 95% CI (None with a single seed)."""
    rows = []
    for item in papers.itertuples():
        ours = summary[(summary["dataset"] == item.dataset) & (summary["metric"] == item.metric)]
        if not len(ours):
            continue
        o = ours.iloc[0]
        inside = None if np.isnan(o["ci95"]) else bool(abs(item.value - o["mean"]) <= o["ci95"])
        rows.append({"paper": f"{item.paper} {item.table}", "dataset": item.dataset, "metric": item.metric,
                     "published": item.value, "ours": round(o["mean"], 4), "seeds": int(o["seeds"]),
                     "difference_%": round(100 * (o["mean"] - item.value) / item.value, 1),
                     "published_inside_our_ci": inside})
    return pd.DataFrame(rows, columns=["paper", "dataset", "metric", "published", "ours", "seeds", "difference_%",
                                       "published_inside_our_ci"])
