"""Tables and figures from run records: our numbers (mean ± 95% CI over seeds) next to the papers'.

Nothing here trains; everything reads records (see runs.py) and the papers' CSVs (papers/*.csv).
Pages show tables with ``table`` (HTML in the book, the same cells as plain text for nbval) and save
figures under ``figures_dir``; later chapters use the same helpers.
"""
from __future__ import annotations

import hashlib
import html
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .config import METRICS, Config, as_dict
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


def computed_precision(record: dict) -> str:
    """"bf16" or "fp32": what a record's run computed in. A config's ``bf16`` asks for bf16 autocast, which a run
    gets only where its CPU computes bf16 natively (train.native_bf16); the record's ``precision`` says which.
    Records older than that field ran bf16 autocast whenever their config asked for it (there was no fallback)."""
    stored = record.get("precision")
    if stored is None:
        return "bf16" if record["config"].get("bf16") else "fp32"
    return "bf16" if stored.startswith("bf16") else "fp32"


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
CAPTION_STYLE = "font-size: 0.84em; text-align: left; margin: 0.5em 0 0.4em 0;"
_TABLE_STYLES = [
    {"selector": "", "props": "font-size: 0.8em; border-collapse: collapse; margin: 0.5em 0 1em 0;"},
    {"selector": "th, td", "props": "padding: 0.15em 0.45em; text-align: right; white-space: nowrap;"},
    # row labels may wrap too (a long quantity name would push the numbers past the page's edge)
    {"selector": "th.row_heading, th.index_name", "props": "text-align: left; vertical-align: top; white-space: normal;"
                                                          " min-width: 8em;"},
    # column headers may wrap, so that a table narrows to the page before it has to scroll
    {"selector": "thead th", "props": "border-bottom: 1px solid #999; text-align: center; vertical-align: bottom;"
                                      " white-space: normal;"},
]


class Table:
    """A table as a page shows it: HTML (a styled DataFrame) for the book, aligned plain text for nbval."""

    def __init__(self, cells: pd.DataFrame, styler, caption: str, index: bool):
        self.cells, self.styler, self.caption, self.index = cells, styler, caption, index

    def _repr_html_(self) -> str:
        # overflow: a wide table scrolls inside the page instead of being cut off at its edge; the caption stays
        # outside the scrolling box, so that it wraps at the page's width and is read whole
        caption = f'<p style="{CAPTION_STYLE}">{html.escape(self.caption)}</p>'
        return f'<div>{caption}<div style="overflow-x: auto;">{self.styler.to_html()}</div></div>'

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
          index: bool = True, missing=()) -> Table:
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
        missing: columns whose NaN and None cells say "missing" (a number without a finished run) instead of
            being blank.
    """
    formats = formats or {}
    cells = pd.DataFrame({c: [_cell_text(v, formats.get(c)) or ("missing" if c in missing else "") for v in frame[c]]
                          for c in frame.columns}, index=frame.index)
    cells.columns = frame.columns
    uuid = hashlib.sha1(caption.encode()).hexdigest()[:8]
    # "mean ± CI" may break before the ± (a no-break space keeps "± CI" together): a table of several such columns
    # then narrows to the page's width instead of scrolling
    shown = cells.map(lambda text: text.replace(" ± ", " ±\u00a0"))
    styler = shown.style.format(escape="html").set_uuid(uuid).set_table_styles(_TABLE_STYLES)
    # a long row label (Sports_and_Outdoors) may break after an underscore
    styler = styler.format_index(lambda label: html.escape(str(label)).replace("_", "_<wbr>"), axis=0)
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
    # and so may an interval "[low, high]" after its comma
    with_ci = [c for c in cells.columns if any(" ± " in t or re.fullmatch(r"\[\S+, \S+\]", t) for t in cells[c])]
    if with_ci:
        styler = styler.set_table_styles({c: [{"selector": "td", "props": "white-space: normal;"}] for c in with_ci},
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


def _grid(n_panels: int, ncols: int, panel_size=(3.6, 2.9), sharey: bool = False):
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, -(-n_panels // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False,
                             sharey=sharey)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, axes.flat[:max(n_panels, 1)]


def _save(fig, path: Path | None, width_used: float = 1.0) -> None:
    """tight_layout within the left ``width_used`` of the figure (the rest holds a legend), then save at 110 dpi."""
    fig.tight_layout(rect=(0, 0, width_used, 1))
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)


LEGEND_WIDTH = 2.8  # inches beside the panels for an "outside" legend


def learning_curves(records: list[dict | None], metric: str = "NDCG@20", path: Path | None = None, ncols: int = 2,
                    panel=lambda r: r["dataset"], label=lambda r: f"seed {r['seed']}", sharey: bool = False,
                    legend: str = "lower right"):
    """Validation ``metric`` per epoch: one panel per ``panel(record)`` (a grid; default the dataset), one line per
    record labelled ``label(record)`` (default its seed), a dotted line at its selected epoch; saved to ``path``.
    ``sharey``: one y scale for every panel (panels of one dataset compared); ``legend``: where the legend goes
    (a matplotlib location, or "outside": right of a single panel, clear of every curve)."""
    records = [r for r in records if r]
    panels = list(dict.fromkeys(panel(r) for r in records))
    if legend == "outside" and len(panels) > 1:
        raise ValueError(f"legend='outside' needs a single panel; these records make {len(panels)}: {panels}")
    with _figure_style():
        fig, axes = _grid(len(panels), ncols, panel_size=(4.4, 3.0), sharey=sharey)
        for ax, name in zip(axes, panels):
            for i, record in enumerate(r for r in records if panel(r) == name):
                values = [e["valid"][metric] for e in record["history"]]
                ax.plot(range(1, len(values) + 1), values, lw=1.2, color=f"C{i}", label=label(record))
                ax.axvline(record["best_epoch"] + 1, color=f"C{i}", lw=0.9, ls=":")  # best_epoch counts from 0
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"validation {metric}")
            if legend != "outside":
                ax.legend(fontsize=9, loc=legend)
        width_used = 1.0
        if legend == "outside":  # a figure legend in LEGEND_WIDTH more inches, which tight_layout leaves alone
            width, height = fig.get_size_inches()
            fig.set_size_inches(width + LEGEND_WIDTH, height)
            width_used = width / (width + LEGEND_WIDTH)
            fig.legend(*axes[0].get_legend_handles_labels(), fontsize=9, loc="center left",
                       bbox_to_anchor=(width_used, 0.5), frameon=False)
        _save(fig, path, width_used)
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


# ---------------------------------------------------------------------------------------------------------------
# Methods side by side (the SAMRec chapter): records with config fields, paired tests across seeds, one table of
# methods by datasets with the paper's numbers, metric-against-parameter panels and per-seed points.

# Our method names -> the rows of the papers' CSVs where those differ (SAMRec Table 2 calls S3Rec+SAM "+ SAMRec").
PAPER_METHOD_NAMES = {"S3Rec+SAM": "S3Rec + SAMRec", "CL4SRec+SAM": "CL4SRec + SAMRec"}
# One colour per method on every figure of a chapter (matplotlib's default cycle); other lines take C6 to C9 in turn
# (colours the SRMA chapter's baselines also use)
METHOD_COLORS = {"SASRec": "C0", "S3Rec": "C1", "CL4SRec": "C2", "SAMRec": "C3", "S3Rec+SAM": "C4",
                 "CL4SRec+SAM": "C5", "CoSeRec": "C6", "GRU4Rec": "C7", "Caser": "C8", "BERT4Rec": "C9",
                 "SRMA": "#e6ab02"}  # the cycle has ten colours; SRMA takes a mustard outside it
# Text sizes in points of the figures drawn below; a figure is FIGURE_WIDTH inches wide, the width of a book page,
# so that the book shows its text at these sizes (never under 9 pt).
FIGURE_WIDTH = 10.0
FIGURE_FONTS = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9,
                "ytick.labelsize": 9, "legend.fontsize": 9, "legend.title_fontsize": 9, "figure.titlesize": 11}


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


def summarize_by(frame: pd.DataFrame, keys) -> pd.DataFrame:
    """Mean, 95% CI half-width and number of seeds per group of ``keys`` (``summarize`` with other keys)."""
    keys = list(keys)
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        mean, half = mean_ci(group["value"])
        rows.append(dict(zip(keys, key), mean=mean, ci95=half, seeds=len(group)))
    return pd.DataFrame(rows, columns=keys + ["mean", "ci95", "seeds"])


def paired_test(a, b, level: float = 0.95) -> dict:
    """Paired t-test of ``a`` − ``b`` across seeds.

    Args:
        a, b: per-seed values, as a mapping seed -> value (a dict or a Series indexed by seed). A seed that only
            one side has, or whose value is NaN on either side, is dropped from both and counted in ``dropped``.
    Returns:
        a dict: ``pairs`` (seeds compared), ``dropped``, ``mean`` (mean of the differences a − b), ``ci_low`` and
        ``ci_high`` (the Student-t interval of that mean at ``level``, pairs − 1 degrees of freedom), ``t`` and
        ``p`` (two-sided; what scipy.stats.ttest_rel gives), and ``base`` (the mean of ``b`` over the pairs, for
        a difference in %). No pairs: everything NaN; one pair: the mean only. Equal differences: a CI of zero
        width, p = 0 (NaN if they are all zero), as ttest_rel.
    """
    a, b = pd.Series(a, dtype=float), pd.Series(b, dtype=float)
    a, b = a[a.notna()], b[b.notna()]
    common = [k for k in a.index if k in set(b.index)]
    dropped = len(set(a.index) ^ set(b.index))
    differences = (a[common].to_numpy() - b[common].to_numpy()) if common else np.array([])
    n = len(differences)
    result = dict(pairs=n, dropped=dropped, mean=float("nan"), ci_low=float("nan"), ci_high=float("nan"),
                  t=float("nan"), p=float("nan"), base=float(b[common].mean()) if n else float("nan"))
    if n == 0:
        return result
    mean = float(differences.mean())
    result["mean"] = mean
    if n < 2:
        return result
    se = float(differences.std(ddof=1)) / np.sqrt(n)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * se
    result.update(ci_low=mean - half, ci_high=mean + half)
    if se > 0:
        t = mean / se
        result.update(t=t, p=float(2 * stats.t.sf(abs(t), n - 1)))
    elif mean != 0:
        result.update(t=float(np.copysign(np.inf, mean)), p=0.0)
    return result


def paired_tests(frame: pd.DataFrame, method: str, baseline: str, datasets, metrics=("HR@10", "NDCG@10"), *,
                 profile: str) -> pd.DataFrame:
    """``method`` against ``baseline`` per (dataset, metric): ``paired_test`` on the per-seed values of ``frame``
    (a ``records_frame``, one profile's rows), matched by dataset and seed. One row per dataset and metric in the
    given orders, also where a side has no record (pairs 0, NaN); ``difference_%`` is the mean difference in %
    of the baseline's mean over the same seeds (NaN where that mean is 0)."""
    frame = frame[frame["profile"] == profile]
    rows = []
    for dataset in datasets:
        for metric in metrics:
            cell = frame[(frame["dataset"] == dataset) & (frame["metric"] == metric)]
            values = {m: cell[cell["method"] == m].set_index("seed")["value"] for m in (method, baseline)}
            for m, v in values.items():
                if v.index.duplicated().any():
                    raise ValueError(f"{m}, {dataset}, {metric}: more than one record for seed(s) "
                                     f"{sorted(set(v.index[v.index.duplicated()]))}")
            test = paired_test(values[method], values[baseline])
            relative = 100 * test["mean"] / test["base"] if test["pairs"] and test["base"] else float("nan")
            rows.append({"method": method, "baseline": baseline, "dataset": dataset, "metric": metric, **test,
                         "difference_%": relative})
    return pd.DataFrame(rows, columns=["method", "baseline", "dataset", "metric", "pairs", "dropped", "mean",
                                       "ci_low", "ci_high", "t", "p", "base", "difference_%"])


def _signed(value: float, digits: int = 4) -> str:
    return f"{value:+.{digits}f}"


def format_p(p: float) -> str:
    """A p-value as a page prints it: three significant digits, "< 0.001" below that ("n/a" when undefined)."""
    if p is None or np.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def paired_table(tests: pd.DataFrame, caption: str) -> Table:
    """``paired_tests`` (one or more comparisons concatenated) as a table, a row per comparison, dataset and
    metric: seed pairs (and seeds dropped for want of a partner), the mean difference, its 95% CI, the difference
    in % of the baseline, and the t-test's p-value. No pairs: "missing"; one pair: the difference with "n/a" for CI and
    p-value."""
    rows = []
    for _, item in tests.iterrows():
        pairs, mean, low, high = int(item["pairs"]), item["mean"], item["ci_low"], item["ci_high"]
        rows.append({
            "comparison": f"{item['method']} − {item['baseline']}", "dataset": item["dataset"],
            "metric": item["metric"],
            "seed pairs": f"{pairs}" + (f" ({item['dropped']} unpaired)" if item["dropped"] else ""),
            "mean Δ": "missing" if pairs == 0 else _signed(mean),
            "95% CI of Δ": ("missing" if pairs == 0 else "n/a" if np.isnan(low)
                            else f"[{_signed(low)}, {_signed(high)}]"),
            "Δ % of baseline": item["difference_%"],
            "p-value": "missing" if pairs == 0 else format_p(item["p"])})
    shown = pd.DataFrame(rows, columns=["comparison", "dataset", "metric", "seed pairs", "mean Δ", "95% CI of Δ",
                                        "Δ % of baseline", "p-value"]).set_index(["comparison", "dataset", "metric"])
    return table(shown, caption, {"Δ % of baseline": "{:+.1f}"}, diff=["Δ % of baseline"])


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


def method_comparison_table(compared: pd.DataFrame, caption: str) -> Table:
    """``method_comparison`` as a table: per metric, ours as mean ± 95% CI ("missing" without a record), the
    paper's number (blank where it prints none) and Δ % (coloured)."""
    shown = {}
    for metric in dict.fromkeys(compared.columns.get_level_values(0)):
        shown[f"{metric} ours"] = [format_mean_ci(m, h) for m, h in
                                   zip(compared[(metric, "mean")], compared[(metric, "ci95")])]
        shown[f"{metric} paper"] = compared[(metric, "published")].to_numpy()
        shown[f"{metric} Δ %"] = compared[(metric, "difference_%")].to_numpy()
    frame = pd.DataFrame(shown, index=compared.index)
    deltas = [c for c in frame.columns if c.endswith("Δ %")]
    return table(frame, caption, {c: "{:+.1f}" for c in deltas}, diff=deltas)


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


def _method_color(name: str, order: list[str]) -> str:
    if name in METHOD_COLORS:
        return METHOD_COLORS[name]
    others = [n for n in order if n not in METHOD_COLORS]
    return f"C{6 + others.index(name) % 4}" if name in others else "C7"


@contextmanager
def _page_figure_style():
    import matplotlib
    import matplotlib.pyplot as plt
    import seaborn as sns

    with sns.axes_style("whitegrid"), plt.rc_context(FIGURE_FONTS):
        yield
        # A kernel's inline backend loads at its first figure, drawn in here, and switches interactive mode on;
        # leaving rc_context would switch it off again, and then the page would show none of its later figures.
        interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


def _page_grid(n_panels: int, ncols: int, panel_height: float, width: float):
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, -(-n_panels // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, panel_height * nrows + 0.6), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:max(n_panels, 1)])


def _shared_legend(fig, axes) -> None:
    """One legend below the panels with every label any panel drew (once each)."""
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=min(len(handles), 4),
                   frameon=False)


def _save_page_figure(fig, path: Path | None) -> None:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)


def _no_runs(ax) -> None:
    ax.text(0.5, 0.5, "no runs yet", transform=ax.transAxes, ha="center", va="center", color="0.4")


def _mark_off_scale(ax, points, low: float, high: float):
    """Points (x, y, colour, neighbours) drawn apart from their line: inside [low, high] as a dot, outside as a
    triangle on the bottom or top edge pointing away with the value beside it; dotted links to the neighbours."""
    for x, y, color, beside in points:
        if not np.isfinite(y):
            continue
        inside = low <= y <= high
        edge, marker, va = (y, "o", None) if inside else (low, "v", "bottom") if y < low else (high, "^", "top")
        for nx, ny in beside:
            if np.isfinite(ny):
                ax.plot([nx, x], [ny, edge], color=color, lw=1.6 if inside else 1.1, ls="-" if inside else ":")
        ax.plot([x], [edge], marker=marker, ms=4.5 if inside else 8, color=color, clip_on=False, zorder=5)
        if inside:
            continue
        ax.annotate(f"{y:.3g}", (x, edge), xytext=(-6, 4 if va == "bottom" else -4), textcoords="offset points",
                    ha="right", va=va, color=color, fontsize=9, bbox=dict(fc="white", ec="none", pad=1), zorder=6)


def parameter_panels(points: pd.DataFrame, *, x: str, xlabel: str, ylabel: str, panels=None, lines=None,
                     panel: str = "dataset", line: str = "method", logx: bool = False, xticks=None, xticklabels=None,
                     levels: pd.DataFrame | None = None, marks: dict | None = None, mark_label: str = "selected",
                     off_scale=(), path: Path | None = None, ncols: int = 2, panel_height: float = 3.2,
                     width: float = FIGURE_WIDTH):
    """A metric against a parameter: one panel per ``panel`` value (e.g. dataset), one line per ``line`` value
    (e.g. method) through its points ``mean`` (a band of ± ``ci95`` where it exists), one legend for the figure.

    Args:
        points: rows (panel, line, x, mean, ci95), e.g. ``summarize_by`` of one metric.
        panels, lines: the panels and lines to draw, in order (default: as they occur); a panel without points
            says "no runs yet", so a figure exists before its runs do.
        logx, xticks, xticklabels: a log x axis and the ticks to label (default: the x values present).
        levels: rows (panel, line, value): a dashed horizontal line per panel in the line's colour, labelled
            "<line> (level)" (e.g. SASRec's HR@10 beside SAMRec's curve over rho).
        marks: panel -> x: a dotted vertical line labelled ``mark_label`` (e.g. the selected rho).
        off_scale: x values whose points do not set the y limits (e.g. a radius where training collapses, which
            would flatten the rest of the curve); such a point outside the limits is drawn as a triangle on the
            panel's edge with its value written beside it.
        path: where to save the PNG. The figure is ``width`` inches wide (a book page), its text at least 9 pt.
    """
    panels = list(panels) if panels is not None else list(dict.fromkeys(points[panel]))
    lines = list(lines) if lines is not None else list(dict.fromkeys(points[line]))
    level_lines = list(dict.fromkeys(levels[line])) if levels is not None and len(levels) else []
    order = lines + [n for n in level_lines if n not in lines]
    with _page_figure_style():
        fig, axes = _page_grid(len(panels), ncols, panel_height, width)
        for ax, name in zip(axes, panels):
            here = points[points[panel] == name]
            shown_y = []  # every y value drawn, for limits that include the levels
            beyond = []  # (x, y, colour) of points at off_scale x values
            off_x = np.asarray(list(off_scale), dtype=float)
            for method in lines:
                rows = here[here[line] == method].sort_values(x)
                if rows.empty:
                    continue
                color = _method_color(method, order)
                if xticks is not None:  # a tick without a point breaks the line there: nothing is drawn across it
                    grid = sorted(set(np.asarray(xticks, dtype=float)) | set(rows[x].astype(float)))
                    rows = rows.assign(**{x: rows[x].astype(float)}).set_index(x).reindex(grid).reset_index()
                xs, ys = rows[x].to_numpy(dtype=float), rows["mean"].to_numpy(dtype=float)
                scaled = ~np.isin(xs, off_x)
                ax.plot(xs, np.where(scaled, ys, np.nan), marker="o", ms=4.5, lw=1.6, color=color, label=method)
                for i in np.flatnonzero(~scaled):  # with the points beside it, for a dotted link to the edge
                    beside = [(xs[j], ys[j]) for j in (i - 1, i + 1) if 0 <= j < len(xs) and scaled[j]]
                    beyond.append((xs[i], ys[i], color, beside))
                shown_y.extend(ys[scaled])
                if "ci95" in rows and rows["ci95"].notna().any():
                    half = rows["ci95"].fillna(0).to_numpy(dtype=float)
                    ax.fill_between(xs, ys - half, ys + half, color=color, alpha=0.15, lw=0)
                    shown_y.extend((ys - half)[scaled])
                    shown_y.extend((ys + half)[scaled])
            if levels is not None and len(levels):
                for item in levels[levels[panel] == name].itertuples():
                    method = getattr(item, line)
                    ax.axhline(item.value, color=_method_color(method, order), lw=1.3, ls="--",
                               label=f"{method} (level)")
                    shown_y.append(item.value)
            finite = [y for y in shown_y if np.isfinite(y)]
            if finite:
                low, high = min(finite), max(finite)
                pad = 0.08 * (high - low) if high > low else 0.1 * abs(high) or 0.01
                ax.set_ylim(low - pad, high + pad)
            _mark_off_scale(ax, beyond, *(ax.get_ylim() if finite else (-np.inf, np.inf)))
            if marks and name in marks and marks[name] is not None:
                ax.axvline(marks[name], color="0.3", lw=1.1, ls=":", label=mark_label)
            if here.empty:
                _no_runs(ax)
            if logx:
                ax.set_xscale("log")
            ticks = xticks if xticks is not None else sorted(set(points[x])) if len(points) else None
            if ticks is not None and len(ticks):
                ax.set_xticks(list(ticks))
                ax.set_xticklabels(xticklabels if xticklabels is not None else [f"{t:g}" for t in ticks])
                ax.minorticks_off()
            ax.set_title(name)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
        _shared_legend(fig, axes)
        _save_page_figure(fig, path)
    return fig


def seed_points(frame: pd.DataFrame, methods, datasets, metric: str, *, papers: pd.DataFrame | None = None,
                paper_names: dict | None = None, path: Path | None = None, ncols: int = 4, panel_height: float = 3.4,
                width: float = FIGURE_WIDTH):
    """Per-seed test values beside the paper's number: one panel per dataset, one column of points per method
    (one dot per seed, a bar for the mean), the published number as a black cross.

    Args:
        frame: a ``records_frame`` (one profile); only rows of ``metric`` are drawn.
        methods, datasets: columns and panels, in order; a method without records leaves its column empty.
        papers: the paper's numbers (``paper_numbers`` of one table), method names via ``paper_names``
            (default PAPER_METHOD_NAMES).
    """
    paper_names = PAPER_METHOD_NAMES if paper_names is None else paper_names
    methods, datasets = list(methods), list(datasets)
    frame = frame[frame["metric"] == metric]
    with _page_figure_style():
        fig, axes = _page_grid(len(datasets), ncols, panel_height, width)
        for ax, dataset in zip(axes, datasets):
            here = frame[frame["dataset"] == dataset]
            for i, method in enumerate(methods):
                values = here[here["method"] == method].sort_values("seed")["value"].to_numpy(dtype=float)
                color = _method_color(method, methods)
                if len(values):
                    offsets = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(1)
                    ax.scatter(i + offsets, values, s=22, color=color, zorder=3)
                    ax.hlines(values.mean(), i - 0.28, i + 0.28, color=color, lw=2.0)
                if papers is not None:
                    published = papers[(papers["dataset"] == dataset) & (papers["metric"] == metric)
                                       & (papers["method"] == paper_names.get(method, method))]["value"]
                    if len(published):
                        ax.scatter([i], [published.iloc[0]], marker="x", s=44, color="black", zorder=4)
            if here.empty:
                _no_runs(ax)
            ax.set_xticks(range(len(methods)))
            ax.set_xticklabels(methods, rotation=35, ha="right", rotation_mode="anchor")
            ax.set_xlim(-0.6, len(methods) - 0.4)
            ax.set_title(dataset)
            ax.set_ylabel(f"test {metric}")
        from matplotlib.lines import Line2D

        keys = [Line2D([], [], ls="", marker="o", ms=5, color="0.45", label="ours, one dot per seed"),
                Line2D([], [], lw=2.0, color="0.45", label="ours, mean over seeds")]
        if papers is not None:
            keys.append(Line2D([], [], ls="", marker="x", ms=7, color="black", label="paper"))
        fig.legend(handles=keys, loc="outside lower center", ncols=len(keys), frameon=False)
        _save_page_figure(fig, path)
    return fig


def paired_counts(tests: pd.DataFrame) -> dict:
    """Over the rows (cells) of ``paired_tests``: ``cells``; ``missing`` (no seed pair); ``one_pair`` (a
    difference but no CI); ``higher``/``lower`` (cells with a pair whose mean difference is above/below zero);
    ``ci_above``/``ci_below`` (cells whose 95% CI lies entirely above/below zero)."""
    paired = tests[tests["pairs"] > 0]
    return {"cells": len(tests), "missing": int((tests["pairs"] == 0).sum()),
            "one_pair": int((tests["pairs"] == 1).sum()),
            "higher": int((paired["mean"] > 0).sum()), "lower": int((paired["mean"] < 0).sum()),
            "ci_above": int((tests["ci_low"] > 0).sum()), "ci_below": int((tests["ci_high"] < 0).sum())}


def paired_counts_text(tests: pd.DataFrame) -> str:
    """``paired_counts`` as a phrase for a page: "higher in 3 of 8 cells (95% CI above zero in 1, below zero in
    0); 4 cells missing" ("missing in all 8 cells" without any pair)."""
    c = paired_counts(tests)
    if c["missing"] == c["cells"]:
        return f"missing in {'all ' if c['cells'] > 1 else ''}{_count(c['cells'], 'cell')}"
    text = (f"higher in {c['higher']} and lower in {c['lower']} of {_count(c['cells'] - c['missing'], 'cell')} with "
            f"runs (95% CI above zero in {c['ci_above']}, below zero in {c['ci_below']}")
    text += f"; {c['one_pair']} with one seed pair, no CI)" if c["one_pair"] else ")"
    return text + (f"; {_count(c['missing'], 'cell')} missing" if c["missing"] else "")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
