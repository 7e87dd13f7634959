"""Tables for the book: ``table(frame, caption, formats)`` and the builders that shape a comparison into one.

Jupyter stores both the HTML and the text/plain form of a displayed object; the book renders the HTML, and nbval
compares every stored form except images. A bare pandas Styler would not do in a ``# NBVAL_CHECK_OUTPUT`` cell: its
text/plain is "<Styler at 0x7f…>" (an address that changes every run) and its HTML ids are random. A Table fixes the
ids (from the caption) and makes its text/plain the caption and the formatted cells, so nbval checks the numbers
exactly as shown.
"""
from __future__ import annotations

import hashlib
import html
import re

import numpy as np
import pandas as pd

from .records import format_mean_ci
from .stats import format_p, holm

DIFF_FULL_SCALE = 20.0  # a difference of ±20% or more gets the full colour
# what a column of numbers says where a number is not there yet: it does not make the column one of words
PLACEHOLDERS = {"missing", "not planned", "n/a"}
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
    # and so may an interval "[low, high]" after its comma, and a "not planned" between its words
    wrapping = [c for c in cells.columns
                if any(" ± " in t or re.fullmatch(r"\[\S+, \S+\]", t) or t in PLACEHOLDERS for t in cells[c])]
    if wrapping:
        styler = styler.set_table_styles({c: [{"selector": "td", "props": "white-space: normal;"}] for c in wrapping},
                                         overwrite=False)
    if not index:
        styler = styler.hide(axis="index")
    return Table(cells, styler, caption, index)


def _is_text(cells: pd.Series) -> bool:
    """A column of words (left-aligned) rather than of numbers: most of its non-blank cells contain letters, not
    counting the placeholders of a missing number."""
    # "0.036 (3)" and "n/a (1)": a number and its count of seeds or pairs; the count says nothing of the kind
    filled = [text for text in (re.sub(r" \(\d+\)$", "", c) for c in cells if c) if text not in PLACEHOLDERS]
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


def _signed(value: float, digits: int = 4) -> str:
    return f"{value:+.{digits}f}"


def paired_table(tests: pd.DataFrame, caption: str) -> Table:
    """``paired_tests`` (one or more comparisons concatenated) as a table, a row per comparison, dataset and
    metric: seed pairs (and seeds dropped for want of a partner), the mean difference, its 95% CI, the difference
    in % of the baseline, the t-test's p-value and that p adjusted by Holm's method over the comparison's cells (one
    ``paired_tests`` call: every dataset and metric). No pairs: "missing"; one pair: the difference with "n/a" for
    CI and p-values."""
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
            "p-value": "missing" if pairs == 0 else format_p(item["p"]),
            "Holm p": "missing" if pairs == 0 else format_p(item["p_holm"])})
    shown = pd.DataFrame(rows, columns=["comparison", "dataset", "metric", "seed pairs", "mean Δ", "95% CI of Δ",
                                        "Δ % of baseline", "p-value", "Holm p"]
                         ).set_index(["comparison", "dataset", "metric"])
    return table(shown, caption, {"Δ % of baseline": "{:+.1f}"}, diff=["Δ % of baseline"])


def method_comparison_table(compared: pd.DataFrame, caption: str) -> Table:
    """``method_comparison`` as a table: the seeds behind our numbers (rows may differ: a mean of three seeds
    beside one run reads differently), then per metric ours as mean ± 95% CI ("missing" without a record), the
    paper's number (blank where it prints none) and Δ % (coloured)."""
    metrics = list(dict.fromkeys(compared.columns.get_level_values(0)))
    shown = {"seeds": compared[[(metric, "seeds") for metric in metrics]].max(axis=1).astype(int).to_numpy()}
    for metric in metrics:
        shown[f"{metric} ours"] = [format_mean_ci(m, h) for m, h in
                                   zip(compared[(metric, "mean")], compared[(metric, "ci95")])]
        shown[f"{metric} paper"] = compared[(metric, "published")].to_numpy()
        shown[f"{metric} Δ %"] = compared[(metric, "difference_%")].to_numpy()
    frame = pd.DataFrame(shown, index=compared.index)
    deltas = [c for c in frame.columns if c.endswith("Δ %")]
    return table(frame, caption, {c: "{:+.1f}" for c in deltas}, diff=deltas)


def leaderboard_table(summary: pd.DataFrame, methods, datasets, metric: str, caption: str, *, profile: str,
                      planned: dict[tuple[str, str], int]) -> Table:
    """Methods by datasets on one metric: ours as mean ± 95% CI over the finished seeds, "(k of n seeds)" after it
    while only k of the n planned (``planned``: (method, dataset) -> seeds) have finished; "missing" where none has,
    "not planned" where no chapter trains the method on that dataset. Amber: the highest mean of each dataset among
    its complete cells (every planned seed finished), so that one lucky seed does not lead the board."""
    ours = summary[(summary["profile"] == profile) & (summary["metric"] == metric)].set_index(["method", "dataset"])

    def complete(m, d) -> bool:
        return (m, d) in planned and (m, d) in ours.index and ours.loc[(m, d), "seeds"] >= planned[(m, d)]

    def cell(m, d):
        if (m, d) not in planned:
            return "not planned"
        if (m, d) not in ours.index:
            return "missing"
        row = ours.loc[(m, d)]
        text = format_mean_ci(row["mean"], row["ci95"])
        return text if complete(m, d) else f"{text} ({int(row['seeds'])} of {planned[(m, d)]} seeds)"

    index = pd.Index(methods, name="method")
    shown = pd.DataFrame({d: [cell(m, d) for m in methods] for d in datasets}, index=index)
    ranked = pd.DataFrame({d: [ours.loc[(m, d), "mean"] if complete(m, d) else np.nan for m in methods]
                           for d in datasets}, index=index)
    best = ranked.eq(ranked.max(axis=0), axis=1) & ranked.notna()
    return table(shown, caption, flag=best)


def paired_grid_table(tests: pd.DataFrame, methods, datasets, caption: str) -> Table:
    """``paired_tests`` of several methods against one baseline on one metric (concatenated), as methods by
    datasets: the mean paired difference in % of the baseline (coloured), and the p-value adjusted by Holm over all
    of ``tests`` (redone here: each ``paired_tests`` call adjusted over its own cells only) with the seed pairs behind
    it, "0.036 (3)" ("n/a (1)" with fewer than two pairs). A (method, dataset) without a row in ``tests`` is one no
    chapter plans: its cell says so. Rows and column groups follow ``methods`` and ``datasets``."""
    tests = tests.assign(p_holm=holm(tests["p"].to_numpy()))
    cell = {(r["method"], r["dataset"]): r for r in tests.to_dict("records")}
    columns = {(d, q): [] for d in datasets for q in ("Δ %", "Holm p (pairs)")}
    for m in methods:
        for d in datasets:
            r = cell.get((m, d))
            pairs = 0 if r is None else int(r["pairs"])
            columns[(d, "Δ %")].append(r["difference_%"] if pairs else np.nan)
            columns[(d, "Holm p (pairs)")].append("not planned" if r is None else "missing" if pairs == 0
                                                  else f"{format_p(r['p_holm'])} ({pairs})")
    frame = pd.DataFrame(columns, index=pd.Index(methods, name="method"))
    deltas = [c for c in frame.columns if c[1] == "Δ %"]
    return table(frame, caption, {c: "{:+.1f}" for c in deltas}, diff=deltas)
