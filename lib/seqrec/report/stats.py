"""Paired tests across seeds (a method against a baseline, matched by seed) and how a page counts and words them; a
rank correlation with an exact p for a handful of points."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


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
    tests = pd.DataFrame(rows, columns=["method", "baseline", "dataset", "metric", "pairs", "dropped", "mean",
                                        "ci_low", "ci_high", "t", "p", "base", "difference_%"])
    # one comparison over several datasets and metrics is one family of tests: "significant somewhere" needs the
    # correction, or 1 in 20 true nulls would look significant
    return tests.assign(p_holm=holm(tests["p"].to_numpy()))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values`` (NaN entries are not tests: they stay NaN and do not count).

    The i-th smallest of m p-values becomes max over j <= i of min(1, (m - j + 1) p_(j)); rejecting where the
    adjusted p is below alpha keeps the family-wise error rate at alpha.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = len(order)
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def paired_counts(tests: pd.DataFrame) -> dict:
    """Over the rows (cells) of ``paired_tests``: ``cells``; ``missing`` (no seed pair); ``one_pair`` (a
    difference but no CI); ``two_pairs`` (a CI with one degree of freedom, whose width rests on two differences);
    ``higher``/``lower`` (cells with a pair whose mean difference is above/below zero); ``ci_above``/``ci_below``
    (cells whose 95% CI lies entirely above/below zero); ``tests`` (cells with a p-value) and
    ``holm_higher``/``holm_lower`` (cells whose Holm-adjusted p, ``p_holm`` as ``paired_tests`` adjusted it over its
    comparison's cells, is below 0.05, by the sign of the difference)."""
    paired = tests[tests["pairs"] > 0]
    return {"cells": len(tests), "missing": int((tests["pairs"] == 0).sum()),
            "one_pair": int((tests["pairs"] == 1).sum()), "two_pairs": int((tests["pairs"] == 2).sum()),
            "higher": int((paired["mean"] > 0).sum()), "lower": int((paired["mean"] < 0).sum()),
            "ci_above": int((tests["ci_low"] > 0).sum()), "ci_below": int((tests["ci_high"] < 0).sum()),
            "tests": int(tests["p"].notna().sum()),
            "holm_higher": int(((tests["p_holm"] < 0.05) & (tests["mean"] > 0)).sum()),
            "holm_lower": int(((tests["p_holm"] < 0.05) & (tests["mean"] < 0)).sum())}


def paired_counts_text(tests: pd.DataFrame) -> str:
    """``paired_counts`` as a phrase for a page: "higher in 3 of 8 cells (95% CI above zero in 1, below zero in
    0); 4 cells missing" ("missing in all 8 cells" without any pair)."""
    c = paired_counts(tests)
    if c["missing"] == c["cells"]:
        return f"missing in {'all ' if c['cells'] > 1 else ''}{_count(c['cells'], 'cell')}"
    text = (f"higher in {c['higher']} and lower in {c['lower']} of {_count(c['cells'] - c['missing'], 'cell')} with "
            f"runs (95% CI above zero in {c['ci_above']}, below zero in {c['ci_below']}")
    if c["two_pairs"]:  # two differences that happen to agree give a narrow interval: say how little it rests on
        text += f"; {c['two_pairs']} from only two seed pairs, one degree of freedom"
    if c["tests"] > 1:  # Holm's family is each comparison's cells, which need not be the rows counted here
        text += (f"; Holm-adjusted p < 0.05 in {c['holm_higher'] + c['holm_lower']} of the {c['tests']} tested "
                 f"({c['holm_higher']} higher, {c['holm_lower']} lower)")
    text += f"; {c['one_pair']} with one seed pair, no CI)" if c["one_pair"] else ")"
    return text + (f"; {_count(c['missing'], 'cell')} missing" if c["missing"] else "")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_p(p: float) -> str:
    """A p-value as a page prints it: three significant digits, "< 0.001" below that ("n/a" when undefined)."""
    if p is None or np.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def rank_correlation(x, y) -> tuple[float, float]:
    """Spearman's rank correlation of ``x`` and ``y`` and its two-sided p-value, exact over all n! pairings (n is a
    handful of methods here, where the usual t approximation is far off: 4 points in perfect order get p = 0 from
    it against 1/12 exactly). Needs at least 3 points and at most 9 (9! pairings)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y) or not 3 <= len(x) <= 9:
        raise ValueError(f"rank_correlation needs 3 to 9 pairs of values, got {len(x)} and {len(y)}")
    rho = float(stats.spearmanr(x, y).statistic)
    exact = stats.permutation_test((x, y), lambda a, b: stats.spearmanr(a, b).statistic,
                                   permutation_type="pairings", n_resamples=np.inf)
    return rho, float(exact.pvalue)
