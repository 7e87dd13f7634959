"""Tables and figures from run records: our numbers (mean ± 95% CI over seeds) next to the papers'.

Nothing here trains; everything reads records (see runs.py) and the papers' CSVs (papers/*.csv).
Pages show tables with ``table`` (HTML in the book, the same cells as plain text for nbval) and save
figures under ``figures_dir``; later chapters use the same helpers.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .config import METRICS
from .data import PROJECT_ROOT

PAPERS_DIR = Path(__file__).parent / "papers"
PAPER_FILES = {"SRMA": "srma.csv", "EMKD": "emkd.csv", "NASR": "nasr.csv", "SAMRec": "samrec.csv"}
# Profiles whose records and figures are committed and shown in the book; smoke runs are scratch.
COMMITTED_PROFILES = ("cpu", "paper")


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


def record_method(record: dict) -> str:
    """The method a record trained (records made before methods were named are SASRec's)."""
    return record.get("method") or {"sasrec": "SASRec"}[record["model"]]


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
    keys = ["method", "dataset", "profile", "metric"]
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


def format_mean_ci(mean: float, half: float, digits: int = 4) -> str:
    if np.isnan(mean):
        return "missing"
    return f"{mean:.{digits}f}" if np.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"


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


# ---------------------------------------------------------------------------------------------------------------
# Tables for the book
#
# One way to show a table: ``table(frame, caption, formats)``. Jupyter stores both the HTML and the text/plain
# form of a displayed object; the book renders the HTML, and nbval compares every stored form except images.
# A bare pandas Styler would not do in a ``# NBVAL_CHECK_OUTPUT`` cell: its text/plain is "<Styler at 0x7f…>"
# (an address that changes every run) and its HTML ids are random. A Table fixes the ids (from the caption) and
# makes its text/plain the caption and the formatted cells, so nbval checks the numbers exactly as shown.

DIFF_FULL_SCALE = 20.0  # a difference of ±20% or more gets the full colour
_GREEN, _RED, _AMBER = "26, 152, 80", "215, 48, 31", "255, 193, 7"
_TABLE_STYLES = [
    {"selector": "", "props": "font-size: 0.8em; border-collapse: collapse; margin: 0.5em 0 1em 0;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; padding-bottom: 0.4em; font-size: 1.05em;"},
    {"selector": "th, td", "props": "padding: 0.15em 0.45em; text-align: right; white-space: nowrap;"},
    {"selector": "th.row_heading, th.index_name", "props": "text-align: left; vertical-align: top;"},
    # column headers may wrap, so that a table narrows to the page before it has to scroll
    {"selector": "thead th", "props": "border-bottom: 1px solid #999; text-align: center; vertical-align: bottom;"
                                      " white-space: normal;"},
]


class Table:
    """A table as a page shows it: HTML (a styled DataFrame) for the book, aligned plain text for nbval."""

    def __init__(self, cells: pd.DataFrame, styler, caption: str, index: bool):
        self.cells, self.styler, self.caption, self.index = cells, styler, caption, index

    def _repr_html_(self) -> str:
        # overflow: a wide table scrolls inside the page instead of being cut off at its edge
        return f'<div style="overflow-x: auto;">{self.styler.to_html()}</div>'

    def __repr__(self) -> str:
        return f"{self.caption}\n{self.cells.to_string(index=self.index)}"


def _cell_text(value, spec) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if callable(spec):
        return spec(value)
    if spec is not None:
        return spec.format(value)
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}"
    return str(value)


def _diff_css(value) -> str:
    if value is None or not np.isfinite(value):
        return ""
    strength = 0.12 + 0.6 * min(abs(value) / DIFF_FULL_SCALE, 1.0)
    return f"background-color: rgba({_GREEN if value > 0 else _RED}, {strength:.2f});"


def table(frame: pd.DataFrame, caption: str, formats: dict | None = None, *, diff=(), flag: pd.DataFrame | None = None,
          index: bool = True) -> Table:
    """``frame`` as a book table.

    Args:
        frame: the values to show, one column per quantity; NaN and None show as blank cells.
        caption: what the table shows, with units, profile and number of seeds; it also names the table's HTML
            ids, so two tables on one page need different captions (number them: "Table 2. ...").
        formats: column -> a format string ("{:,.0f}", "{:+.1f}") or a function value -> text. Other cells:
            integers with thousands separators, floats with 4 decimals, booleans as yes/no.
        diff: columns of signed differences in % (ours minus published): green where ours is higher, red where
            lower, the stronger the larger (full colour at ±DIFF_FULL_SCALE).
        flag: a boolean frame like ``frame``: True cells get an amber background (e.g. a number that disagrees).
        index: show the index (row labels).
    """
    formats = formats or {}
    cells = pd.DataFrame({c: [_cell_text(v, formats.get(c)) for v in frame[c]] for c in frame.columns},
                         index=frame.index)
    cells.columns = frame.columns
    uuid = hashlib.sha1(caption.encode()).hexdigest()[:8]
    styler = cells.style.format(escape="html").set_uuid(uuid).set_caption(caption).set_table_styles(_TABLE_STYLES)
    for column in diff:
        styler = styler.apply(lambda _, c=column: [_diff_css(v) for v in frame[c]], subset=[column])
    if flag is not None:
        styler = styler.apply(lambda _: flag.reindex_like(frame).fillna(False).map(
            lambda f: f"background-color: rgba({_AMBER}, 0.45);" if f else "").to_numpy(), axis=None)
    text = [c for c in cells.columns if _is_text(cells[c])]
    if text:  # words: left-aligned and wrapped (a column-specific rule beats the right alignment of every cell)
        styler = styler.set_table_styles({c: [{"selector": "td", "props": "text-align: left; white-space: normal;"}]
                                          for c in text},
                                         overwrite=False)
    if not index:
        styler = styler.hide(axis="index")
    return Table(cells, styler, caption, index)


def _is_text(cells: pd.Series) -> bool:
    """A column of words (left-aligned) rather than of numbers: most of its non-blank cells contain letters."""
    filled = [c for c in cells if c]
    return bool(filled) and sum(any(ch.isalpha() for ch in c) for c in filled) > len(filled) / 2


def comparison_table(compared: pd.DataFrame, caption: str) -> Table:
    """``ours_vs_papers`` as a table with a row per published number (paper, dataset, metric): ours as mean ± 95% CI
    ("missing" without a record), the paper's number, the difference in % (coloured) and whether the published
    number lies inside our CI. Long rather than one column group per paper, so that it fits the page width."""
    papers = [c for c in dict.fromkeys(compared.columns.get_level_values(0)) if c != "ours"]
    rows = []
    for paper in papers:
        for (dataset, metric), row in compared[compared[(paper, "published")].notna()].iterrows():
            rows.append({"paper": paper, "dataset": dataset, "metric": metric,
                         "ours (mean ± 95% CI)": format_mean_ci(row[("ours", "mean")], row[("ours", "ci95")]),
                         "published": row[(paper, "published")], "Δ %": row[(paper, "difference_%")],
                         "in our CI": row[(paper, "inside_ci")]})
    shown = pd.DataFrame(rows, columns=["paper", "dataset", "metric", "ours (mean ± 95% CI)", "published", "Δ %",
                                        "in our CI"]).set_index(["paper", "dataset", "metric"])
    return table(shown, caption, {"Δ %": "{:+.1f}"}, diff=["Δ %"])


# ---------------------------------------------------------------------------------------------------------------
# Figures


def figures_dir(explicit: str = "", committed: bool = True) -> Path:
    """Where a page saves its figures: ``explicit`` if given; else figures/ for committed output (the committed
    records, the full dataset list) and .cache/figures (git-ignored scratch) for anything else, such as a
    smoke run, so that an ad-hoc run never overwrites a committed figure."""
    if explicit:
        return Path(explicit)
    return PROJECT_ROOT / "figures" if committed else PROJECT_ROOT / ".cache" / "figures"


@contextmanager
def _figure_style():
    import seaborn as sns

    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        yield


def _grid(n_panels: int, ncols: int, panel_size=(3.6, 2.9)):
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, -(-n_panels // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, axes.flat[:max(n_panels, 1)]


def _save(fig, path: Path | None) -> None:
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)


def learning_curves(records: list[dict | None], metric: str = "NDCG@10", path: Path | None = None, ncols: int = 2,
                    panel=lambda r: r["dataset"], label=lambda r: f"seed {r['seed']}"):
    """Validation ``metric`` per epoch: one panel per ``panel(record)`` (a grid; default the dataset), one line per
    record labelled ``label(record)`` (default its seed), a dotted line at its selected epoch; saved to ``path``."""
    records = [r for r in records if r]
    panels = list(dict.fromkeys(panel(r) for r in records))
    with _figure_style():
        fig, axes = _grid(len(panels), ncols, panel_size=(4.4, 3.0))
        for ax, name in zip(axes, panels):
            for i, record in enumerate(r for r in records if panel(r) == name):
                values = [e["valid"][metric] for e in record["history"]]
                ax.plot(range(1, len(values) + 1), values, lw=1.2, color=f"C{i}", label=label(record))
                ax.axvline(record["best_epoch"] + 1, color=f"C{i}", lw=0.9, ls=":")  # best_epoch counts from 0
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"validation {metric}")
            ax.legend(fontsize="small", loc="lower right")
        _save(fig, path)
    return fig


# Our dataset_stats() names for the statistics the papers print under another name.
STAT_ALIASES = {"avg_actions_per_user": "avg_length"}


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


def length_histograms(lengths: dict[str, np.ndarray], path: Path | None = None, cut: int = 50, ncols: int = 3):
    """Histogram of sequence lengths per dataset (a grid of panels, log x axis), the ``cut`` (max_len) marked."""
    with _figure_style():
        fig, axes = _grid(len(lengths), ncols)
        for ax, (name, values) in zip(axes, lengths.items()):
            # log-spaced bins with integer edges, so that no bin holds more distinct lengths than its width
            edges = np.unique(np.round(np.logspace(np.log10(max(values.min(), 1)), np.log10(values.max() + 1), 30)))
            ax.hist(values, bins=edges - 0.5, color="C0")
            ax.set_xscale("log")
            ax.axvline(cut, color="C3", lw=1.2, ls="--", label=f"input cut ({cut} items)")
            ax.set_title(name)
            ax.set_xlabel("items per user (log scale)")
            ax.set_ylabel("users per bin")
        axes[0].legend(fontsize="small")
        _save(fig, path)
    return fig
