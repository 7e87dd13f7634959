"""Tables and figures from run records: our numbers (mean ± 95% CI over seeds) next to the papers'.

Nothing here trains; everything reads records (see runs.py) and the papers' CSVs (papers/*.csv).

- records: record frames and their summaries (mean ± CI, seeds, precision)
- published: the papers' numbers, and ours beside them
- stats: paired tests across seeds, and their counts as a page words them
- tables: ``table`` (HTML in the book, the same cells as plain text for nbval) and the comparison tables
- figures: every figure, one page wide, saved under ``figures_dir``

Pages and other modules use ``report.<name>``; every name they use is re-exported here. A test that monkeypatches
a module-level name must patch it in the module that reads it (``report.figures.PROJECT_ROOT``), not here.
"""
from ..config import METRICS
from ..data import PROJECT_ROOT
from .figures import (FIGURE_FONTS, FIGURE_WIDTH, METHOD_COLORS, _method_color, _page_figure_style, figures_dir,
                      learning_curves, length_histograms, parameter_panels, seed_points)
from .published import (PAPER_FILES, PAPER_METHOD_NAMES, PAPERS_DIR, STAT_ALIASES, agreement_by_paper,
                        inconsistent_numbers, method_comparison, ours_vs_papers, paper_dataset_stats, paper_numbers,
                        relative_improvement, relative_to_papers, stats_vs_papers)
from .records import (COMMITTED_PROFILES, capped_text, computed_precision, device_text, format_mean_ci, mean_ci, precision_text,
                      record_method, records_frame, records_frame_with, runs_per_point, seeds_text, summarize,
                      summarize_by)
from .stats import format_p, holm, paired_counts, paired_counts_text, paired_test, paired_tests, rank_correlation
from .tables import (CAPTION_STYLE, DIFF_FULL_SCALE, Table, comparison_table, leaderboard_table,
                     method_comparison_table, paired_grid_table, paired_table, table)

__all__ = [
    # from elsewhere in seqrec, used as report.METRICS and report.PROJECT_ROOT
    "METRICS", "PROJECT_ROOT",
    # records
    "COMMITTED_PROFILES", "capped_text", "computed_precision", "device_text", "format_mean_ci", "mean_ci", "precision_text", "record_method",
    "records_frame", "records_frame_with", "runs_per_point", "seeds_text", "summarize", "summarize_by",
    # published
    "PAPER_FILES", "PAPER_METHOD_NAMES", "PAPERS_DIR", "STAT_ALIASES", "agreement_by_paper", "inconsistent_numbers",
    "method_comparison", "ours_vs_papers", "paper_dataset_stats", "paper_numbers", "relative_improvement",
    "relative_to_papers", "stats_vs_papers",
    # stats
    "format_p", "holm", "paired_counts", "paired_counts_text", "paired_test", "paired_tests", "rank_correlation",
    # tables
    "CAPTION_STYLE", "DIFF_FULL_SCALE", "Table", "comparison_table", "leaderboard_table", "method_comparison_table",
    "paired_grid_table", "paired_table",
    "table",
    # figures (the two underscore names: tests use them)
    "FIGURE_FONTS", "FIGURE_WIDTH", "METHOD_COLORS", "_method_color", "_page_figure_style",
    "figures_dir", "learning_curves", "length_histograms", "parameter_panels", "seed_points",
]
