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


def test_missing_runs_show_as_missing():
    summary = report.summarize(report.records_frame([None, None]))
    table = report.ours_vs_papers(summary, report.paper_numbers("SAMRec", method="SASRec"), ["Beauty"], ["HR@10"])
    assert table.loc[0, "ours"] == "missing" and table.loc[0, "SAMRec Table 1"] == "0.0563"


def test_relative_to_papers_by_hand():
    records = [{"model": "sasrec", "dataset": "Beauty", "seed": s, "profile": "cpu", "best_epoch": 1, "epochs_run": 2,
                "train_seconds": 1.0, "test": {m: v for m in report.METRICS}} for s, v in ((1, 0.05), (2, 0.07))]
    summary = report.summarize(report.records_frame(records))
    papers = report.paper_numbers("SAMRec", method="SASRec", dataset="Beauty", metric="HR@10")  # 0.0563
    row = report.relative_to_papers(summary, papers).iloc[0]
    assert row["ours"] == 0.06 and row["seeds"] == 2
    assert row["difference_%"] == round(100 * (0.06 - 0.0563) / 0.0563, 1)
    assert row["published_inside_our_ci"]  # t(0.975, 1) * 0.01414 / sqrt(2) = 0.127 half-width
