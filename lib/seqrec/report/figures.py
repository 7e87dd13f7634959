"""Figures for the book, in one style: FIGURE_WIDTH inches wide (a book page, so that the book shows them at their
own size), text at FIGURE_FONTS sizes (never under 9 pt), panels laid out by constrained layout."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import PROJECT_ROOT
from .published import PAPER_METHOD_NAMES

# One colour per method on every figure of a chapter (matplotlib's default cycle); other lines take C6 to C9 in turn
# (colours the SRMA chapter's baselines also use)
METHOD_COLORS = {"SASRec": "C0", "S3Rec": "C1", "CL4SRec": "C2", "SAMRec": "C3", "S3Rec+SAM": "C4",
                 "CL4SRec+SAM": "C5", "CoSeRec": "C6", "GRU4Rec": "C7", "Caser": "C8", "BERT4Rec": "C9",
                 "SRMA": "#e6ab02"}  # the cycle has ten colours; SRMA takes a mustard outside it
# Text sizes in points; a figure is FIGURE_WIDTH inches wide, the width of a book page, so that the book shows its
# text at these sizes (never under 9 pt).
FIGURE_WIDTH = 10.0
FIGURE_FONTS = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9,
                "ytick.labelsize": 9, "legend.fontsize": 9, "legend.title_fontsize": 9, "figure.titlesize": 11}


def figures_dir(explicit: str = "", committed: bool = True) -> Path:
    """Where a page saves its figures: ``explicit`` if given; else figures/ for committed output (the committed
    records, the full dataset list) and .cache/figures (git-ignored scratch) for anything else, such as a
    smoke run, so that an ad-hoc run never overwrites a committed figure."""
    if explicit:
        return Path(explicit)
    return PROJECT_ROOT / "figures" if committed else PROJECT_ROOT / ".cache" / "figures"


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


def _page_grid(n_panels: int, ncols: int, panel_height: float, width: float, sharey: bool = False):
    """A grid of ``n_panels`` panels, ``ncols`` to a row, ``width`` inches wide; the height is ``panel_height`` per
    row plus room for a legend below."""
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, -(-n_panels // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, panel_height * nrows + 0.6), squeeze=False,
                             sharey=sharey, layout="constrained")
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
                     off_scale=(), level_label: str = "level", band_label: str = "range",
                     path: Path | None = None, ncols: int = 2,
                     panel_height: float = 3.2, width: float = FIGURE_WIDTH):
    """A metric against a parameter: one panel per ``panel`` value (e.g. dataset), one line per ``line`` value
    (e.g. method) through its points ``mean`` (a band of ± ``ci95`` where it exists), one legend for the figure.

    Args:
        points: rows (panel, line, x, mean, ci95), e.g. ``summarize_by`` of one metric.
        panels, lines: the panels and lines to draw, in order (default: as they occur); a panel without points
            says "no runs yet", so a figure exists before its runs do.
        logx, xticks, xticklabels: a log x axis and the ticks to label (default: the x values present).
        levels: rows (panel, line, value): a dashed horizontal line per panel in the line's colour, labelled
            "<line> (``level_label``)" (e.g. SASRec's HR@10 beside SAMRec's curve over rho); optional columns low
            and high add a shaded band labelled "<line> (``band_label``)" (e.g. SASRec's range over seeds).
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
                               label=f"{method} ({level_label})")
                    shown_y.append(item.value)
                    low, high = getattr(item, "low", np.nan), getattr(item, "high", np.nan)
                    if np.isfinite(low) and np.isfinite(high):  # e.g. the spread between seeds: the scale of noise
                        ax.axhspan(low, high, color=_method_color(method, order), alpha=0.12, lw=0,
                                   label=f"{method} ({band_label})")
                        shown_y.extend([low, high])
            finite = [y for y in shown_y if np.isfinite(y)]
            if finite:
                low, high = min(finite), max(finite)
                pad = 0.08 * (high - low) if high > low else 0.1 * abs(high) or 0.01
                ax.set_ylim(low - pad, high + pad)
            _mark_off_scale(ax, beyond, *(ax.get_ylim() if finite else (-np.inf, np.inf)))
            if marks and name in marks and marks[name] is not None:
                ax.axvline(marks[name], color="0.3", lw=1.1, ls=":", label=mark_label, zorder=1)  # behind points
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

        # black keys: a grey one would read as the grey method's (GRU4Rec's C7)
        keys = [Line2D([], [], ls="", marker="o", ms=5, color="black", label="ours, one dot per seed"),
                Line2D([], [], lw=2.0, color="black", label="ours, mean over seeds")]
        if papers is not None:
            keys.append(Line2D([], [], ls="", marker="x", ms=7, color="black", label="paper"))
        fig.legend(handles=keys, loc="outside lower center", ncols=len(keys), frameon=False)
        _save_page_figure(fig, path)
    return fig


def learning_curves(records: list[dict | None], metric: str = "NDCG@20", path: Path | None = None, ncols: int = 2,
                    panel=lambda r: r["dataset"], label=lambda r: f"seed {r['seed']}", sharey: bool = False,
                    legend: str = "lower right"):
    """Validation ``metric`` per epoch: one panel per ``panel(record)`` (a grid; default the dataset), one line per
    record labelled ``label(record)`` (default its seed), a dotted line at its selected epoch; saved to ``path``.
    ``sharey``: one y scale for every panel (panels of one dataset compared); ``legend``: where the legend goes
    (a matplotlib location, or "outside": right of a single panel, clear of every curve). The figure is a page
    wide, each row of panels 3 inches high."""
    records = [r for r in records if r]
    panels = list(dict.fromkeys(panel(r) for r in records))
    if legend == "outside" and len(panels) > 1:
        raise ValueError(f"legend='outside' needs a single panel; these records make {len(panels)}: {panels}")
    with _page_figure_style():
        fig, axes = _page_grid(len(panels), ncols, 3.0, FIGURE_WIDTH, sharey=sharey)
        for ax, name in zip(axes, panels):
            for i, record in enumerate(r for r in records if panel(r) == name):
                values = [e["valid"][metric] for e in record["history"]]
                ax.plot(range(1, len(values) + 1), values, lw=1.2, color=f"C{i}", label=label(record))
                ax.axvline(record["best_epoch"] + 1, color=f"C{i}", lw=0.9, ls=":")  # best_epoch counts from 0
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"validation {metric}")
            if legend != "outside":
                ax.legend(loc=legend)
        if legend == "outside":  # constrained layout narrows the panel to make room for it
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", frameon=False)
        _save_page_figure(fig, path)
    return fig


def length_histograms(lengths: dict[str, np.ndarray], path: Path | None = None, cut: int = 50, ncols: int = 3):
    """Histogram of sequence lengths per dataset (a grid of panels, log x axis; bars give users per length, a bin's
    count over its width), the ``cut`` (max_len) marked."""
    with _page_figure_style():
        fig, axes = _page_grid(len(lengths), ncols, 2.7, FIGURE_WIDTH)
        for ax, (name, values) in zip(axes, lengths.items()):
            # log-spaced bins with integer edges, so that no bin holds more distinct lengths than its width
            edges = np.unique(np.round(np.logspace(np.log10(max(values.min(), 1)), np.log10(values.max() + 1), 30)))
            counts, _ = np.histogram(values, bins=edges - 0.5)
            # users per length: the bins widen from one length to many, and raw counts would jump where they do
            ax.bar(edges[:-1] - 0.5, counts / np.diff(edges), width=np.diff(edges), align="edge", color="C0")
            ax.set_xscale("log")
            ax.axvline(cut, color="C3", lw=1.2, ls="--", label=f"input cut ({cut} items)")
            ax.set_title(name)
            ax.set_xlabel("items per user (log scale)")
            ax.set_ylabel("users per length")
        _shared_legend(fig, axes)
        _save_page_figure(fig, path)
    return fig
