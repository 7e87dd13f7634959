import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seqrec import report

# REFERENCE.md "Paper targets": cells the study is judged on, read independently of the CSVs.
TARGETS = [
    ("SRMA", "Sports_and_Outdoors", "SRMA", "NDCG@10", 0.0246), ("SRMA", "Toys_and_Games", "SRMA", "NDCG@10", 0.0484),
    ("SRMA", "Yelp", "SRMA", "NDCG@10", 0.0207), ("EMKD", "Beauty", "EMKD", "NDCG@10", 0.0594),
    ("EMKD", "Toys_and_Games", "EMKD", "NDCG@10", 0.0622), ("EMKD", "ML-1M", "EMKD", "NDCG@10", 0.1915),
    ("SAMRec", "Beauty", "SAMRec", "HR@10", 0.0638), ("SAMRec", "Yelp", "SAMRec", "HR@10", 0.0381),
]


def test_paper_csvs_are_tidy_and_traceable():
    frame = report.paper_numbers()
    assert list(frame.columns) == ["paper", "table", "dataset", "method", "metric", "value", "source"]
    assert frame["value"].notna().all() and pd.api.types.is_float_dtype(frame["value"])
    assert frame["source"].str.len().min() > 10  # every cell says where it was read
    assert not frame.duplicated(["paper", "table", "dataset", "method", "metric"]).any()
    assert set(frame["paper"]) == {"SRMA", "EMKD", "NASR", "SAMRec"}


@pytest.mark.parametrize("paper, dataset, method, metric, value", TARGETS)
def test_reference_targets_are_transcribed(paper, dataset, method, metric, value):
    rows = report.paper_numbers(paper, dataset=dataset, method=method, metric=metric)
    assert value in set(rows["value"].round(4))


def test_unknown_paper_is_named():
    with pytest.raises(ValueError, match="unknown paper 'GPT4Rec'"):
        report.paper_numbers("GPT4Rec")


def test_mean_ci_matches_the_t_interval_by_hand():
    mean, half = report.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-6)  # t(0.975, 2) * s / sqrt(n)
    assert math.isnan(report.mean_ci([0.5])[1])
    assert report.format_mean_ci(float("nan"), float("nan")) == "missing"


def _record(seed: int, value: float, method: str = "SASRec", profile: str = "cpu", dataset: str = "Beauty") -> dict:
    return {"model": "sasrec", "method": method, "dataset": dataset, "seed": seed, "profile": profile, "best_epoch": 1, "epochs_run": 2,
            "train_seconds": 1.0, "test": {m: value for m in report.METRICS}}


SAMREC_BEAUTY_HR10 = dict(method="SASRec", dataset="Beauty", metric="HR@10")  # published: 0.0563


def test_missing_runs_show_as_missing():
    summary = report.summarize(report.records_frame([None, None]))
    compared = report.ours_vs_papers(summary, report.paper_numbers("SAMRec", method="SASRec"), ["Beauty"], ["HR@10"],
                                     method="SASRec", profile="cpu")
    assert math.isnan(compared.loc[("Beauty", "HR@10"), ("ours", "mean")])
    assert compared.loc[("Beauty", "HR@10"), ("SAMRec Table 1", "published")] == 0.0563
    text = repr(report.comparison_table(compared, "caption"))
    assert "missing" in text and "0.0563" in text


def test_relative_to_papers_by_hand():
    summary = report.summarize(report.records_frame([_record(1, 0.05), _record(2, 0.07)]))
    papers = report.paper_numbers("SAMRec", **SAMREC_BEAUTY_HR10)
    row = report.relative_to_papers(summary, papers, method="SASRec", profile="cpu").iloc[0]
    assert row["ours"] == 0.06 and row["seeds"] == 2
    assert row["difference_%"] == round(100 * (0.06 - 0.0563) / 0.0563, 1)
    assert row["published_inside_our_ci"]  # t(0.975, 1) * 0.01414 / sqrt(2) = 0.127 half-width


# Records of another method or profile for the same dataset and metric must never stand in for ours.
MIXED = [_record(1, 0.90, profile="smoke"), _record(2, 0.90, profile="smoke"), _record(1, 0.80, method="SAMRec"),
         _record(1, 0.05), _record(2, 0.07)]


@pytest.mark.parametrize("order", [MIXED, MIXED[::-1]], ids=["others first", "others last"])
def test_comparisons_take_only_the_named_method_and_profile(order):
    summary = report.summarize(report.records_frame(order))
    papers = report.paper_numbers("SAMRec", **SAMREC_BEAUTY_HR10)
    relative = report.relative_to_papers(summary, papers, method="SASRec", profile="cpu")
    assert len(relative) == 1 and relative.loc[0, "ours"] == 0.06 and relative.loc[0, "seeds"] == 2
    compared = report.ours_vs_papers(summary, papers, ["Beauty"], ["HR@10"], method="SASRec", profile="cpu")
    assert compared.loc[("Beauty", "HR@10"), ("ours", "mean")] == pytest.approx(0.06)
    smoke = report.relative_to_papers(summary, papers, method="SASRec", profile="smoke")
    assert smoke.loc[0, "ours"] == 0.9 and smoke.loc[0, "seeds"] == 2


def test_method_and_profile_are_required_and_checked():
    summary = report.summarize(report.records_frame(MIXED))
    papers = report.paper_numbers("SAMRec", **SAMREC_BEAUTY_HR10)
    with pytest.raises(TypeError):
        report.relative_to_papers(summary, papers)  # no default method or profile
    with pytest.raises(ValueError, match="no profile 'paper'"):
        report.relative_to_papers(summary, papers, method="SASRec", profile="paper")
    with pytest.raises(ValueError, match="no method 'CL4SRec'"):
        report.ours_vs_papers(summary, papers, ["Beauty"], method="CL4SRec", profile="cpu")


def test_records_made_before_methods_had_names_are_sasrec_and_pretraining_records_are_left_out():
    old = {k: v for k, v in _record(1, 0.05).items() if k != "method"}
    pretraining = {**_record(1, 0.05, method="S3Rec-pretraining"), "test": None}
    frame = report.records_frame([old, pretraining, None])
    assert set(frame["method"]) == {"SASRec"} and len(frame) == len(report.METRICS)


def test_agreement_by_paper_counts_cells():
    summary = report.summarize(report.records_frame([_record(1, 0.05), _record(2, 0.07)]))
    papers = report.paper_numbers(method="SASRec", dataset="Beauty", metric="HR@10")  # EMKD 0.0592, SAMRec 0.0563
    agreement = report.agreement_by_paper(report.relative_to_papers(summary, papers, method="SASRec", profile="cpu"))
    assert agreement.loc["SAMRec Table 1", "cells"] == 1 and agreement.loc["SAMRec Table 1", "ours_higher"] == 1
    assert agreement.loc["EMKD Table 3", "published_inside_our_ci"] == 1


def test_table_shows_numbers_as_html_and_as_plain_text():
    frame = pd.DataFrame({"users": [22363, 1090], "share_%": [81.04, None], "difference_%": [9.7, -14.4]},
                         index=pd.Index(["Beauty", "LastFM"], name="dataset"))
    shown = report.table(frame, "Users (count) and share (%)", {"share_%": "{:.1f}", "difference_%": "{:+.1f}"},
                         diff=["difference_%"])
    text, html = repr(shown), shown._repr_html_()
    assert text.splitlines()[0] == "Users (count) and share (%)"
    assert "22,363" in text and "81.0" in text and "+9.7" in text and "-14.4" in text and "nan" not in text
    assert "<table" in html and "22,363" in html and "rgba(26, 152, 80" in html and "rgba(215, 48, 31" in html
    assert html == report.table(frame, "Users (count) and share (%)", {"share_%": "{:.1f}", "difference_%": "{:+.1f}"},
                                diff=["difference_%"])._repr_html_()  # no random ids: nbval can compare it
    assert "0x" not in text


def test_a_tables_caption_sits_outside_its_scrolling_box_and_mean_ci_cells_may_wrap_before_the_plus_minus():
    frame = pd.DataFrame({"ours": [report.format_mean_ci(0.0616, 0.0044), "missing"], "paper": [0.0563, 0.0574],
                          "95% CI": ["[-0.0020, +0.0064]", "missing"]},
                         index=pd.Index(["Sports_and_Outdoors", "S3Rec<b>"], name="method"))
    shown = report.table(frame, "Table 1. HR@10 <test> & more")
    page = shown._repr_html_()
    caption_at, scroll_at = page.index("Table 1. HR@10 &lt;test&gt; &amp; more"), page.index("overflow-x: auto")
    assert caption_at < scroll_at and "<caption" not in page
    assert "0.0616 ±\u00a00.0044" in page and "0.0616 ± 0.0044" in repr(shown)  # plain text keeps its spaces
    ours_column = re.search(r"#T_\w+ td\.col0 \{\s*white-space: normal;", page)
    assert ours_column is not None and not re.search(r"td\.col1 \{\s*white-space: normal;", page)
    assert re.search(r"td\.col2 \{\s*white-space: normal;", page)  # an interval may break after its comma
    assert "Sports_<wbr>and_<wbr>Outdoors" in page and "S3Rec&lt;b&gt;" in page  # a row label may break, escaped
    assert "<table" in report.table(frame.iloc[:0], "Table 2. No runs yet")._repr_html_()  # an empty table renders


def test_seeds_text():
    summary = report.summarize(report.records_frame([_record(1, 0.05), _record(2, 0.07),
                                                     _record(1, 0.05, dataset="Yelp")]))
    assert report.seeds_text(summary) == "1–2 seeds"
    assert report.seeds_text(summary.iloc[:0]) == "no runs"


def test_figures_of_ad_hoc_runs_stay_out_of_the_committed_folder(tmp_path):
    assert report.figures_dir("", committed=True) == report.PROJECT_ROOT / "figures"
    assert report.figures_dir("", committed=False) == report.PROJECT_ROOT / ".cache" / "figures"
    assert report.figures_dir(str(tmp_path), committed=True) == tmp_path


# ---------------------------------------------------------------------------------------------------------------
# Methods side by side: paired tests, methods-by-datasets tables, figures


def _run(method: str, seed: int, hr10: float, dataset: str = "Beauty", profile: str = "cpu", **config) -> dict:
    """A record with a config (for records_frame_with); NDCG@10 is half of HR@10, every other metric HR@10."""
    test = {m: hr10 for m in report.METRICS} | {"NDCG@10": hr10 / 2}
    return {"model": "sasrec", "method": method, "dataset": dataset, "seed": seed, "profile": profile,
            "best_epoch": 1, "epochs_run": 2, "train_seconds": 1.0, "test": test, "valid": test,
            "config": {"train_fraction": 1.0, "sam": {"rho": 0.1}, **config}}


def test_paired_test_matches_scipy_and_a_hand_computation():
    from scipy import stats

    a, b = {1: 0.060, 2: 0.070, 3: 0.065}, {1: 0.050, 2: 0.062, 3: 0.060}  # differences 0.010, 0.008, 0.005
    result = report.paired_test(a, b)
    mean = 0.023 / 3
    sd = math.sqrt(((0.010 - mean) ** 2 + (0.008 - mean) ** 2 + (0.005 - mean) ** 2) / 2)
    t = mean / (sd / math.sqrt(3))
    p = 1 - t / math.sqrt(2 + t * t)  # two-sided p of Student's t with 2 degrees of freedom, in closed form
    half = 4.302653 * sd / math.sqrt(3)  # t(0.975, 2)
    assert result["pairs"] == 3 and result["dropped"] == 0
    assert result["mean"] == pytest.approx(mean, rel=1e-12)
    assert result["t"] == pytest.approx(t, rel=1e-9) and result["p"] == pytest.approx(p, rel=1e-9)
    assert (result["ci_low"], result["ci_high"]) == (pytest.approx(mean - half, rel=1e-6),
                                                     pytest.approx(mean + half, rel=1e-6))
    reference = stats.ttest_rel(list(a.values()), list(b.values()))
    assert result["p"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert result["t"] == pytest.approx(reference.statistic, rel=1e-9)
    interval = reference.confidence_interval()
    assert (result["ci_low"], result["ci_high"]) == (pytest.approx(interval.low), pytest.approx(interval.high))
    assert result["base"] == pytest.approx((0.050 + 0.062 + 0.060) / 3)


def test_paired_test_drops_unmatched_seeds_pairwise_and_counts_them():
    a = pd.Series({1: 0.06, 2: float("nan"), 3: 0.05, 4: 0.07})
    b = pd.Series({1: 0.05, 2: 0.04, 3: 0.045, 5: 0.02})
    result = report.paired_test(a, b)  # pairs: seeds 1 and 3; dropped: 2 (NaN in a), 4 (only a), 5 (only b)
    assert result["pairs"] == 2 and result["dropped"] == 3
    assert result["mean"] == pytest.approx((0.01 + 0.005) / 2)
    assert result["base"] == pytest.approx((0.05 + 0.045) / 2)
    from scipy import stats
    assert result["p"] == pytest.approx(stats.ttest_rel([0.06, 0.05], [0.05, 0.045]).pvalue)


def test_paired_test_with_too_few_pairs_or_no_spread():
    none = report.paired_test({1: 0.1}, {2: 0.1})
    assert none["pairs"] == 0 and none["dropped"] == 2 and math.isnan(none["mean"]) and math.isnan(none["p"])
    one = report.paired_test({1: 0.3}, {1: 0.1})
    assert one["pairs"] == 1 and one["mean"] == pytest.approx(0.2)
    assert math.isnan(one["ci_low"]) and math.isnan(one["p"])
    same = report.paired_test({1: 0.5, 2: 0.75}, {1: 0.25, 2: 0.5})  # both differences 0.25 (exact in binary)
    assert same["p"] == 0.0 and same["ci_low"] == same["ci_high"] == 0.25
    zero = report.paired_test({1: 0.5, 2: 0.75}, {1: 0.5, 2: 0.75})
    assert zero["mean"] == 0.0 and math.isnan(zero["p"])


def test_paired_tests_match_by_dataset_and_seed_and_keep_missing_cells():
    records = [_run("SAMRec", 1, 0.06), _run("SAMRec", 2, 0.07), _run("SAMRec", 3, 0.065),
               _run("SASRec", 1, 0.05), _run("SASRec", 2, 0.062),
               _run("SASRec", 3, 0.99, dataset="Yelp"),  # another dataset's seed 3: no partner for Beauty's
               _run("SASRec", 3, 0.01, profile="smoke")]  # another profile: ignored
    tests = report.paired_tests(report.records_frame(records), "SAMRec", "SASRec", ["Beauty", "Yelp"], ["HR@10"],
                                profile="cpu")
    beauty, yelp = tests.iloc[0], tests.iloc[1]
    assert (beauty["dataset"], beauty["pairs"], beauty["dropped"]) == ("Beauty", 2, 1)
    assert beauty["mean"] == pytest.approx((0.01 + 0.008) / 2)
    assert beauty["difference_%"] == pytest.approx(100 * 0.009 / ((0.05 + 0.062) / 2))
    assert (yelp["dataset"], yelp["pairs"], yelp["dropped"]) == ("Yelp", 0, 1) and math.isnan(yelp["mean"])
    text = repr(report.paired_table(tests, "Table. SAMRec − SASRec"))
    assert "missing" in text and "+0.0090" in text and "nan" not in text
    assert "2 (1 unpaired)" in text


def test_paired_tests_refuse_two_records_of_one_seed():
    records = [_run("SAMRec", 1, 0.06), _run("SAMRec", 1, 0.07), _run("SASRec", 1, 0.05)]
    with pytest.raises(ValueError, match="more than one record"):
        report.paired_tests(report.records_frame(records), "SAMRec", "SASRec", ["Beauty"], profile="cpu")


def test_format_p():
    assert report.format_p(0.0004) == "< 0.001" and report.format_p(0.0123) == "0.012"
    assert report.format_p(float("nan")) == "n/a"


def test_method_comparison_puts_ours_beside_the_paper_and_keeps_missing_methods():
    records = [_run("SASRec", 1, 0.05), _run("SASRec", 2, 0.07), _run("S3Rec+SAM", 1, 0.0605)]
    summary = report.summarize(report.records_frame(records))
    papers = report.paper_numbers("SAMRec", table="Table 2")
    compared = report.method_comparison(summary, papers, ["S3Rec", "S3Rec+SAM"], ["Beauty"], ["HR@10"],
                                        profile="cpu")
    assert list(compared.index) == [("Beauty", "S3Rec"), ("Beauty", "S3Rec+SAM")]
    assert math.isnan(compared.loc[("Beauty", "S3Rec"), ("HR@10", "mean")])
    assert compared.loc[("Beauty", "S3Rec"), ("HR@10", "seeds")] == 0
    assert compared.loc[("Beauty", "S3Rec"), ("HR@10", "published")] == 0.0574
    plus = compared.loc[("Beauty", "S3Rec+SAM")]  # our name S3Rec+SAM is the paper's "S3Rec + SAMRec" row
    assert plus[("HR@10", "published")] == 0.0605 and plus[("HR@10", "difference_%")] == 0.0
    text = repr(report.method_comparison_table(compared, "Table 2. HR@10"))
    assert "missing" in text and "0.0574" in text and "nan" not in text and "0.0000" not in text

    table1 = report.paper_numbers("SAMRec", table="Table 1")
    both = report.method_comparison(summary, table1, ["SASRec", "SAMRec"], ["Beauty", "Yelp"], profile="cpu")
    sasrec = both.loc[("Beauty", "SASRec")]
    assert sasrec[("HR@10", "mean")] == pytest.approx(0.06) and sasrec[("HR@10", "seeds")] == 2
    assert sasrec[("HR@10", "difference_%")] == round(100 * (0.06 - 0.0563) / 0.0563, 1)
    assert sasrec[("NDCG@10", "mean")] == pytest.approx(0.03)
    improvement = report.relative_improvement(both, "SAMRec", "SASRec")
    assert improvement.loc[("Beauty", "HR@10"), "paper_%"] == pytest.approx(100 * (0.0638 - 0.0563) / 0.0563)
    assert round(improvement.loc[("Yelp", "NDCG@10"), "paper_%"], 2) == 15.48  # the paper's printed Improv.
    assert math.isnan(improvement.loc[("Beauty", "HR@10"), "ours_%"])  # no SAMRec record: not zero


def test_a_comparison_without_any_run_still_renders():
    empty = report.summarize(report.records_frame([None, None]))
    compared = report.method_comparison(empty, report.paper_numbers("SAMRec", table="Table 1"),
                                        ["SASRec", "SAMRec"], ["Beauty"], profile="cpu")
    shown = report.method_comparison_table(compared, "Table 1")
    text = repr(shown)
    assert text.count("missing") == 4 and "0.0638" in text
    assert list(shown.cells["seeds"]) == ["0", "0"]  # the seeds column: no record, no seeds
    tests = report.paired_tests(report.records_frame([]), "SAMRec", "SASRec", ["Beauty"], profile="cpu")
    assert list(tests["pairs"]) == [0, 0]
    assert "missing" in repr(report.paired_table(tests, "Table 3"))
    with pytest.raises(ValueError, match="one table"):
        report.method_comparison(empty, report.paper_numbers("SAMRec"), ["S3Rec"], ["Beauty"], profile="cpu")


def test_records_frame_with_config_fields_and_summaries_by_them():
    records = [_run("SAMRec", 1, 0.04, **{"sam": {"rho": 0.01}}), _run("SAMRec", 2, 0.06, **{"sam": {"rho": 0.01}}),
               _run("SAMRec", 1, 0.05, **{"sam": {"rho": 1.0}}), None]
    frame = report.records_frame_with(records, ["sam.rho", "train_fraction"])
    assert len(frame) == 3 * len(report.METRICS) and set(frame["train_fraction"]) == {1.0}
    hr = frame[frame["metric"] == "HR@10"]
    assert list(hr["sam.rho"]) == [0.01, 0.01, 1.0] and list(hr["value"]) == [0.04, 0.06, 0.05]
    points = report.summarize_by(hr, ["dataset", "method", "sam.rho"])
    assert list(points["seeds"]) == [2, 1] and points.loc[0, "mean"] == pytest.approx(0.05)
    assert points.loc[0, "ci95"] == pytest.approx(12.706205 * math.sqrt(0.0002) / math.sqrt(2), rel=1e-6)
    assert math.isnan(points.loc[1, "ci95"])
    assert list(report.records_frame_with([], ["sam.rho"]).columns)[-1] == "sam.rho"


def _texts(fig):
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_text() and t.get_visible()]


def test_parameter_panels_draw_one_panel_per_dataset_with_one_legend(tmp_path):
    import matplotlib.pyplot as plt

    points = pd.DataFrame({"dataset": ["Beauty"] * 3 + ["Yelp"] * 2, "method": ["SAMRec"] * 5,
                           "rho": [0.01, 0.1, 1.0, 0.1, 1.0], "mean": [0.05, 0.06, 0.055, 0.03, 0.031],
                           "ci95": [0.004, 0.004, float("nan"), float("nan"), float("nan")]})
    levels = pd.DataFrame({"dataset": ["Beauty", "Yelp"], "method": ["SASRec", "SASRec"], "value": [0.052, 0.029]})
    path = tmp_path / "rho.png"
    fig = report.parameter_panels(points, x="rho", xlabel="ρ", ylabel="test HR@10", logx=True,
                                  panels=["Beauty", "Yelp", "Toys_and_Games"], levels=levels,
                                  marks={"Beauty": 0.1, "Yelp": 0.1, "Toys_and_Games": 0.1}, level_label="seed 1",
                                  path=path)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["Beauty", "Yelp", "Toys_and_Games"]
    assert all(ax.get_xscale() == "log" for ax in axes)
    beauty = axes[0].get_lines()[0]
    assert list(beauty.get_xdata()) == [0.01, 0.1, 1.0] and list(beauty.get_ydata()) == [0.05, 0.06, 0.055]
    assert any(line.get_linestyle() == "--" and list(line.get_ydata()) == [0.052, 0.052]
               for line in axes[0].get_lines())
    assert "no runs yet" in [t.get_text() for t in axes[2].texts]
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["SAMRec", "SASRec (seed 1)", "selected"]
    assert fig.get_figwidth() == report.FIGURE_WIDTH
    assert min(t.get_fontsize() for t in _texts(fig)) >= 9
    assert path.exists() and path.stat().st_size > 0
    plt.close(fig)


def test_parameter_panels_break_a_line_at_a_missing_point(tmp_path):
    import matplotlib.pyplot as plt

    points = pd.DataFrame({"dataset": ["Beauty"] * 2, "method": ["SAMRec"] * 2, "fraction": [60, 100],
                           "mean": [0.05, 0.065], "ci95": [float("nan")] * 2})
    fig = report.parameter_panels(points, x="fraction", xlabel="training data (%)", ylabel="test HR@10",
                                  xticks=[60, 80, 100], path=tmp_path / "gap.png")
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [60, 80, 100] and np.isnan(line.get_ydata()[1])  # no segment across 80
    plt.close(fig)


def test_parameter_panels_and_seed_points_draw_without_any_run(tmp_path):
    import matplotlib.pyplot as plt

    empty = pd.DataFrame(columns=["dataset", "method", "fraction", "mean", "ci95"])
    fig = report.parameter_panels(empty, x="fraction", xlabel="training data (%)", ylabel="test HR@10",
                                  panels=["Beauty"], xticks=[60, 80, 100], path=tmp_path / "empty.png")
    assert (tmp_path / "empty.png").exists() and "no runs yet" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    fig = report.seed_points(report.records_frame([]), ["SASRec", "SAMRec"], ["Beauty"], "HR@10",
                             papers=report.paper_numbers("SAMRec", table="Table 1"), path=tmp_path / "seeds.png")
    assert (tmp_path / "seeds.png").exists()
    plt.close(fig)


def test_seed_points_show_every_seed_and_the_paper(tmp_path):
    import matplotlib.pyplot as plt

    records = [_run("SASRec", 1, 0.05), _run("SASRec", 2, 0.07), _run("S3Rec+SAM", 1, 0.06)]
    fig = report.seed_points(report.records_frame(records), ["SASRec", "S3Rec+SAM"], ["Beauty"], "HR@10",
                             papers=report.paper_numbers("SAMRec", table="Table 2"), path=tmp_path / "s.png")
    ax = fig.axes[0]
    from matplotlib.collections import PathCollection

    dots = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]
    ys = sorted(float(y) for offsets in dots for _, y in offsets)
    assert ys == pytest.approx(sorted([0.05, 0.07, 0.06, 0.0605]))  # three seeds and Table 2's "S3Rec + SAMRec"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["SASRec", "S3Rec+SAM"]
    assert min(t.get_fontsize() for t in _texts(fig)) >= 9 and (tmp_path / "s.png").exists()
    plt.close(fig)


def test_paired_counts_count_signs_and_intervals():
    records = [_run("SAMRec", 1, 0.06), _run("SAMRec", 2, 0.07), _run("SAMRec", 3, 0.065),
               _run("SASRec", 1, 0.05), _run("SASRec", 2, 0.062), _run("SASRec", 3, 0.06),
               _run("SAMRec", 1, 0.02, dataset="Yelp"), _run("SASRec", 1, 0.03, dataset="Yelp")]
    tests = report.paired_tests(report.records_frame(records), "SAMRec", "SASRec", ["Beauty", "Yelp", "Toys_and_Games"],
                                ["HR@10"], profile="cpu")
    counts = report.paired_counts(tests)  # Beauty: +0.0077, CI [+0.0014, +0.0139]; Yelp: one pair, -0.01; Toys: none
    assert counts == {"cells": 3, "missing": 1, "one_pair": 1, "two_pairs": 0, "higher": 1, "lower": 1,
                      "ci_above": 1, "ci_below": 0, "tests": 1, "holm_higher": 1, "holm_lower": 0}
    assert report.paired_counts_text(tests) == ("higher in 1 and lower in 1 of 2 cells with runs (95% CI above zero "
                                                "in 1, below zero in 0; 1 with one seed pair, no CI); 1 cell missing")
    two = report.paired_tests(report.records_frame(records[:2] + records[3:5]), "SAMRec", "SASRec", ["Beauty"],
                              ["HR@10"], profile="cpu")  # seeds 1 and 2 only
    assert report.paired_counts(two)["two_pairs"] == 1
    assert report.paired_counts_text(two).endswith("; 1 from only two seed pairs, one degree of freedom)")
    assert report.paired_counts_text(tests.iloc[2:]) == "missing in 1 cell"
    assert report.paired_counts_text(pd.concat([tests.iloc[2:]] * 2)) == "missing in all 2 cells"


def test_table_says_missing_only_in_the_named_columns():
    frame = pd.DataFrame({"ours %": [float("nan"), 1.5], "paper %": [13.32, float("nan")]})
    text = repr(report.table(frame, "caption", {"ours %": "{:+.2f}"}, missing=["ours %"]))
    assert text.splitlines()[1:] == repr(pd.DataFrame({"ours %": ["missing", "+1.50"],
                                                       "paper %": ["13.3200", ""]})).splitlines()


def test_relative_numbers_against_a_zero_baseline_are_undefined_not_errors():
    records = [_run("SAMRec", 1, 0.01), _run("SAMRec", 2, 0.0), _run("SASRec", 1, 0.0), _run("SASRec", 2, 0.0)]
    frame = report.records_frame(records)
    tests = report.paired_tests(frame, "SAMRec", "SASRec", ["Beauty"], ["HR@10"], profile="cpu")
    assert tests.loc[0, "mean"] == pytest.approx(0.005) and math.isnan(tests.loc[0, "difference_%"])
    compared = report.method_comparison(report.summarize(frame), report.paper_numbers("SAMRec", table="Table 1"),
                                        ["SASRec", "SAMRec"], ["Beauty"], profile="cpu")
    assert math.isnan(report.relative_improvement(compared, "SAMRec", "SASRec").loc[("Beauty", "HR@10"), "ours_%"])


def test_config_fields_a_record_predates_take_their_default():
    old = {k: v for k, v in _run("SASRec", 1, 0.05).items() if k != "config"} | {"config": {"d_model": 64}}
    frame = report.records_frame_with([old], ["train_fraction", "sam.rho", "d_model"])
    assert set(frame["train_fraction"]) == {1.0} and set(frame["sam.rho"]) == {0.1} and set(frame["d_model"]) == {64}
    with pytest.raises(KeyError, match="no config field 'fraction'"):
        report.records_frame_with([old], ["fraction"])


def test_parameter_panels_keep_a_level_in_view_without_points():
    import matplotlib.pyplot as plt

    levels = pd.DataFrame({"dataset": ["Beauty"], "method": ["SASRec"], "value": [0.06]})
    empty = pd.DataFrame(columns=["dataset", "method", "rho", "mean", "ci95"])
    fig = report.parameter_panels(empty, x="rho", xlabel="ρ", ylabel="test HR@10", panels=["Beauty"], levels=levels,
                                  logx=True, xticks=[0.1, 1.0])
    low, high = fig.axes[0].get_ylim()
    assert low < 0.06 < high and high - low < 0.05
    plt.close(fig)


def test_parameter_panels_leave_an_off_scale_point_out_of_the_limits_and_mark_it_at_the_edge():
    import matplotlib.pyplot as plt

    points = pd.DataFrame({"dataset": ["Beauty"] * 3, "method": ["SAMRec"] * 3, "rho": [0.1, 1.0, 10.0],
                           "mean": [0.064, 0.063, 0.015], "ci95": [float("nan")] * 3})
    fig = report.parameter_panels(points, x="rho", xlabel="ρ", ylabel="test HR@10", logx=True, off_scale=[10.0])
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert 0.015 < low < 0.063 and high > 0.064  # the collapse at rho = 10 does not flatten the rest
    edge = [line for line in ax.get_lines() if line.get_marker() == "v"]
    assert len(edge) == 1 and list(edge[0].get_xdata()) == [10.0] and list(edge[0].get_ydata()) == [low]
    assert [t.get_text() for t in ax.texts] == ["0.015"]
    plt.close(fig)
    inside = points.assign(mean=[0.064, 0.063, 0.0635])  # an off_scale x inside the limits is drawn as any other
    fig = report.parameter_panels(inside, x="rho", xlabel="ρ", ylabel="test HR@10", logx=True, off_scale=[10.0])
    assert not fig.axes[0].texts and not [line for line in fig.axes[0].get_lines() if line.get_marker() == "v"]
    plt.close(fig)


def test_inconsistent_numbers_flag_metrics_that_fall_with_k_or_ndcg_above_hr():
    rows = [("A", "HR@5", 0.02), ("A", "HR@10", 0.03), ("A", "NDCG@5", 0.01), ("A", "NDCG@10", 0.015),
            ("B", "HR@5", 0.0143), ("B", "HR@10", 0.0094), ("B", "NDCG@5", 0.0123), ("B", "NDCG@10", 0.0391),
            ("B", "MRR", 0.5)]
    papers = pd.DataFrame([{"paper": "P", "table": "Table 1", "dataset": "Toys", "method": m, "metric": k,
                            "value": v, "source": "hand-made"} for m, k, v in rows])
    found = report.inconsistent_numbers(papers)
    assert list(found["method"]) == ["B", "B"]  # A is consistent; MRR is ignored
    assert list(found["check"]) == ["HR@10 0.0094 < HR@5 0.0143", "NDCG@10 0.0391 > HR@10 0.0094"]
    assert report.inconsistent_numbers(papers[papers["method"] == "A"]).empty


def test_the_srma_chapter_methods_have_distinct_colours():
    methods = ["GRU4Rec", "Caser", "SASRec", "BERT4Rec", "S3Rec", "CL4SRec", "CoSeRec", "SRMA"]
    assert len({report._method_color(m, methods) for m in methods}) == len(methods)


def test_a_page_figure_leaves_interactive_mode_as_its_drawing_set_it():
    # In a kernel the inline backend loads at the first figure (drawn inside the style) and switches interactive
    # mode on; if leaving the style switched it off, a page would show only its first figure.
    import matplotlib

    was = matplotlib.is_interactive()
    try:
        matplotlib.interactive(False)
        with report._page_figure_style():
            matplotlib.interactive(True)
        assert matplotlib.is_interactive()
    finally:
        matplotlib.interactive(was)


def _curve_record(dataset: str, seed: int, values: list[float]) -> dict:
    return {"dataset": dataset, "seed": seed, "best_epoch": int(np.argmax(values)),
            "history": [{"epoch": i, "valid": {"NDCG@20": v}} for i, v in enumerate(values)]}


def test_learning_curves_put_an_outside_legend_right_of_the_panel_clear_of_the_curves(tmp_path):
    import matplotlib.pyplot as plt

    records = [_curve_record("Toys", 1, [0.01, 0.03, 0.02]), _curve_record("Toys", 2, [0.02, 0.01, 0.04])]
    fig = report.learning_curves(records, "NDCG@20", path=tmp_path / "curves.png", ncols=1, legend="outside")
    (ax,) = [ax for ax in fig.axes if ax.get_visible()]
    assert ax.get_legend() is None and len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["seed 1", "seed 2"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    panel, legend = ax.get_window_extent(renderer), fig.legends[0].get_window_extent(renderer)
    assert legend.x0 > panel.x1 and legend.x1 <= fig.bbox.x1  # beside the panel, inside the figure
    assert fig.get_figwidth() == report.FIGURE_WIDTH
    assert min(t.get_fontsize() for t in _texts(fig)) >= 9
    assert (tmp_path / "curves.png").stat().st_size > 0
    plt.close(fig)


def test_learning_curves_draw_a_page_wide_grid_with_a_legend_in_each_panel(tmp_path):
    import matplotlib.pyplot as plt

    records = [_curve_record("Toys", 1, [0.01, 0.03, 0.02]), _curve_record("Toys", 2, [0.02, 0.01, 0.04]),
               _curve_record("Yelp", 1, [0.2, 0.3, 0.25])]
    fig = report.learning_curves(records, "NDCG@20", path=tmp_path / "grid.png", sharey=True, legend="best")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["Toys", "Yelp"] and not fig.legends
    assert [[t.get_text() for t in ax.get_legend().get_texts()] for ax in axes] == [["seed 1", "seed 2"], ["seed 1"]]
    assert axes[0].get_ylim() == axes[1].get_ylim()  # sharey: one scale over 0.01 to 0.3
    assert fig.get_figwidth() == report.FIGURE_WIDTH
    assert min(t.get_fontsize() for t in _texts(fig)) >= 9
    assert (tmp_path / "grid.png").stat().st_size > 0
    plt.close(fig)


def test_length_histograms_are_page_wide_with_one_legend_for_the_cut(tmp_path):
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    lengths = {name: rng.integers(3, 400, size=200) for name in ["Beauty", "Yelp", "ML-1M", "LastFM"]}
    fig = report.length_histograms(lengths, tmp_path / "lengths.png", cut=50)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == list(lengths)
    assert all(ax.get_legend() is None for ax in axes) and len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["input cut (50 items)"]
    assert fig.get_figwidth() == report.FIGURE_WIDTH
    assert min(t.get_fontsize() for t in _texts(fig)) >= 9
    assert (tmp_path / "lengths.png").stat().st_size > 0
    plt.close(fig)


def test_learning_curves_refuse_an_outside_legend_for_several_panels():
    records = [_curve_record("Toys", 1, [0.01, 0.02]), _curve_record("Yelp", 1, [0.01, 0.02])]
    with pytest.raises(ValueError, match="single panel"):
        report.learning_curves(records, "NDCG@20", legend="outside")


def test_precision_text_counts_what_the_bf16_runs_computed_in():
    def record(bf16, precision):
        return {"config": {"bf16": bf16}, "precision": precision}

    native, fallback = record(True, "bf16 autocast"), record(True, "fp32 (bf16 asked, not native here)")
    older = {"config": {"bf16": True}}  # before records said their precision: bf16 asked meant bf16 computed
    assert report.computed_precision(older) == "bf16" and report.computed_precision(fallback) == "fp32"
    assert report.precision_text([native, fallback, older, record(False, "fp32"), None]) == (
        "2 of the 3 finished runs that ask for it ran under bf16 autocast, 1 in fp32 (bf16 not native on their CPU)")
    assert report.precision_text([native]) == "all 1 finished runs that ask for it ran under bf16 autocast"
    assert report.precision_text([record(False, "fp32")]) == "no finished run asks for bf16 yet"


def test_capped_text_names_the_runs_that_trained_to_their_epoch_cap():
    capped = _run("S3Rec", 2, 0.07, dataset="Toys_and_Games", epochs=300) | {
        "epochs_run": 300, "best_epoch": 297, "stopped_early": False}
    stopped = _run("S3Rec", 1, 0.07, epochs=300) | {"epochs_run": 140, "stopped_early": True}
    short = _run("S3Rec", 3, 0.07, epochs=300) | {"epochs_run": 120, "stopped_early": False}  # killed, not capped
    pretraining = _run("S3Rec", 1, 0.0, epochs=50) | {"epochs_run": 50, "stopped_early": False, "valid": None}
    assert report.capped_text([capped, stopped, short, pretraining, None]) == (
        "1 of them: S3Rec Toys_and_Games seed 2 (selected epoch 298 of 300)")
    assert report.capped_text([stopped, None]) == "none of them"


def test_runs_per_point_says_one_run_instead_of_a_mean_over_one_seed():
    assert report.runs_per_point([1]) == "one run per point (seed 1)"
    assert report.runs_per_point((1, 2, 3)) == "means over seeds 1, 2, 3"


def test_device_text_says_when_a_cpu_record_lacks_its_vector_instructions():
    assert report.device_text("cpu (x86_64, 1 threads)") == "cpu (x86_64, 1 thread; vector instructions not recorded)"
    assert report.device_text("cpu (x86_64, AVX2, 2 threads)") == "cpu (x86_64, AVX2, 2 threads)"
    assert report.device_text("cuda (NVIDIA H100 80GB HBM3)") == "cuda (NVIDIA H100 80GB HBM3)"


def test_parameter_panels_shade_a_levels_band_and_keep_it_in_view():
    import matplotlib.pyplot as plt

    points = pd.DataFrame({"dataset": ["Toys"] * 2, "method": ["SAMRec"] * 2, "rho": [0.1, 1.0],
                           "mean": [0.0712, 0.0720], "ci95": [float("nan")] * 2})
    levels = pd.DataFrame({"dataset": ["Toys"], "method": ["SASRec"], "value": [0.0730], "low": [0.0692],
                           "high": [0.0730]})
    fig = report.parameter_panels(points, x="rho", xlabel="ρ", ylabel="test HR@10", logx=True, levels=levels,
                                  band_label="seed range")
    low, high = fig.axes[0].get_ylim()
    assert low < 0.0692 and high > 0.0730  # the band sets the scale: the curve is read against seed noise
    assert "SASRec (seed range)" in [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)


def test_a_caller_changing_published_numbers_does_not_change_them_for_the_next():
    numbers = report.paper_numbers("SRMA")
    first = numbers["value"].copy()
    numbers["value"] *= 0  # the CSVs are read once per process: what a caller gets must be its own copy
    numbers.loc[0, "method"] = "changed"
    again = report.paper_numbers("SRMA")
    assert again["value"].equals(first) and "changed" not in set(again["method"])


def test_holm_adjusts_by_hand_and_skips_cells_without_a_test():
    # sorted 0.01, 0.03, 0.04 of m = 3: 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 1 x 0.04) = 0.06
    adjusted = report.holm([0.01, 0.04, 0.03, float("nan")])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adjusted[3])
    assert report.holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_paired_counts_say_how_many_cells_survive_holm():
    records = [_run(m, seed, value, dataset=d) for d, shift in (("Beauty", 0.01), ("Yelp", 0.0005))
               for seed, noise in ((1, 0.0), (2, 0.002), (3, -0.001))
               for m, value in (("SAMRec", 0.05 + shift + noise), ("SASRec", 0.05 + noise * 1.5))]
    tests = report.paired_tests(report.records_frame(records), "SAMRec", "SASRec", ["Beauty", "Yelp"], ["HR@10"],
                                profile="cpu")
    assert list(tests["p_holm"]) == pytest.approx(list(report.holm(tests["p"])))
    assert tests["p"].iloc[0] < 0.05 / 2 and tests["p_holm"].iloc[1] > 0.05
    assert report.paired_counts_text(tests).endswith("; Holm-adjusted p < 0.05 in 1 of the 2 tested (1 higher, 0 lower))")
    assert "Holm p" in repr(report.paired_table(tests, "Table. SAMRec − SASRec"))


def test_a_column_of_numbers_stays_right_aligned_however_many_are_missing():
    shown = report.table(pd.DataFrame({"ours": ["0.0412 (1)", "missing", "missing", "not planned"],
                                       "note": ["a word", "more words", "x", "y"]}), "Table 9.")._repr_html_()
    left = re.findall(r"td\.col(\d) \{\s*text-align: left", shown)  # the columns of words, left-aligned
    assert left == ["1"]


def test_rank_correlation_p_is_exact_over_all_pairings():
    rho, p = report.rank_correlation([1, 2, 3, 4], [10, 20, 30, 40])
    assert rho == pytest.approx(1.0) and p == pytest.approx(2 / 24)  # 1 of 24 orders each way
    pairings = list(itertools.permutations(range(5)))  # brute force: the share of orders at least as extreme
    x, y = [0.3, 0.1, 0.7, 0.2, 0.5], [1.0, 3.0, 2.0, 5.0, 4.0]
    rho, p = report.rank_correlation(x, y)
    brute = [stats.spearmanr(x, [y[i] for i in order]).statistic for order in pairings]
    assert p == pytest.approx(np.mean([abs(b) >= abs(rho) - 1e-12 for b in brute]))
    with pytest.raises(ValueError, match="3 to 9 pairs"):
        report.rank_correlation([1, 2], [2, 1])
