import math

import pandas as pd
import pytest

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


def test_seeds_text():
    summary = report.summarize(report.records_frame([_record(1, 0.05), _record(2, 0.07),
                                                     _record(1, 0.05, dataset="Yelp")]))
    assert report.seeds_text(summary) == "1–2 seeds"
    assert report.seeds_text(summary.iloc[:0]) == "no runs"


def test_figures_of_ad_hoc_runs_stay_out_of_the_committed_folder(tmp_path):
    assert report.figures_dir("", committed=True) == report.PROJECT_ROOT / "figures"
    assert report.figures_dir("", committed=False) == report.PROJECT_ROOT / ".cache" / "figures"
    assert report.figures_dir(str(tmp_path), committed=True) == tmp_path
