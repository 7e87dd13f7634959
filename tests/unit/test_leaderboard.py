"""The leaderboard: the chapters' runs, each once, and its tables (missing versus not planned, the best of each
dataset, paired differences from SASRec)."""
import re
from collections import Counter

import pandas as pd
import pytest

from seqrec import report, runs
from seqrec.experiments import leaderboard
from seqrec.experiments import samrec as samrec_plan
from seqrec.experiments import srma as srma_plan

from .records import store
from .test_srma_plan import decide_representation


def _decide_everything(results):
    """Records that make every choice the chapters wait for: CL4SRec's representation, rho, the tuned settings."""
    decide_representation(results)
    for cfg in samrec_plan.figure3("smoke", [samrec_plan.RHO_SELECTION_DATASET]):
        store(cfg, results, valid=0.05 if cfg.sam.rho == 0.1 else 0.04)
    for configs in srma_plan.tuning_runs("smoke").values():
        for value, cfg in enumerate(configs):
            store(cfg, results, valid=0.01 * (value + 1))


def test_the_board_holds_every_chapters_runs_once_and_waits_with_them(tmp_path):
    before = leaderboard.runs_by_method("smoke", tmp_path)  # nothing chosen: the waiting methods are absent
    assert list(before) == ["Caser", "SASRec", "S3Rec"]
    _decide_everything(tmp_path)
    board = leaderboard.runs_by_method("smoke", tmp_path)
    assert list(board) == list(leaderboard.METHODS)
    keys = [runs.run_key(c) for configs in board.values() for c in configs]
    assert len(keys) == len(set(keys))  # SASRec, S3Rec, CL4SRec: one set of runs for both chapters
    assert [runs.run_key(c) for c in board["CL4SRec"]] == [  # the SAMRec chapter's, which the SRMA chapter shares
        runs.run_key(c) for c in samrec_plan.table1("smoke", 0.1, *samrec_plan.scope("table1", "smoke"),
                                                    representation="real_slots") if c.contrast == "cl4srec"]
    per_method = {m: {(c.dataset, c.seed) for c in configs} for m, configs in board.items()}
    assert per_method["SASRec"] == {(d, s) for d in leaderboard.DATASETS for s in (1, 2, 3)}
    assert per_method["SRMA"] == {(d, s) for d in srma_plan.DATASETS for s in (1, 2, 3)}
    assert per_method["CL4SRec+SAM"] == {("Beauty", s) for s in (1, 2, 3)}  # SAMRec Table 2's scope
    srma_table1 = srma_plan.table1("smoke", "real_slots", srma_plan.tuned("smoke", tmp_path), srma_plan.DATASETS)
    assert {runs.run_key(c) for c in srma_table1["BERT4Rec"]} == {runs.run_key(c) for c in board["BERT4Rec"]}


def test_the_runs_of_one_dataset_and_seed_are_one_per_method_that_trains_there(tmp_path):
    _decide_everything(tmp_path)
    board = leaderboard.runs_by_method("smoke", tmp_path)
    sports = leaderboard.runs_of("smoke", "Sports_and_Outdoors", 2, tmp_path)
    assert list(sports) == [m for m in leaderboard.METHODS if m not in ("S3Rec+SAM", "CL4SRec+SAM")]  # Beauty only
    for method, cfg in sports.items():
        assert (cfg.dataset, cfg.seed) == ("Sports_and_Outdoors", 2) and cfg in board[method]
    assert list(leaderboard.runs_of("smoke", "Beauty", 1, tmp_path)) == [
        "SASRec", "S3Rec", "CL4SRec", "SAMRec", "S3Rec+SAM", "CL4SRec+SAM"]  # the SRMA paper has no Beauty


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_each_method_has_one_run_per_dataset_and_seed_and_a_name_two_chapters_use_apart(profile, monkeypatch):
    monkeypatch.setattr(samrec_plan, "choices", lambda *_: (0.1, "real_slots"))  # every choice made
    monkeypatch.setattr(srma_plan, "tuned", lambda *_: {m: {s: v[0]} for m, (s, v) in srma_plan.TUNING.items()})
    board = leaderboard.runs_by_method(profile)
    for method, configs in board.items():
        cells = Counter((c.dataset, c.seed) for c in configs)
        assert max(cells.values()) == 1, f"{method}: {cells.most_common(1)}"
    if profile == "paper":  # SRMA's S3Rec drops the attribute terms: another method, not more seeds of S3Rec
        assert list(board).index("S3Rec (SRMA)") == list(board).index("S3Rec") + 1
        assert {c.s3rec.aap for c in board["S3Rec (SRMA)"]} == {0.0} and 0.0 not in {c.s3rec.aap for c in board["S3Rec"]}
    else:
        assert "S3Rec (SRMA)" not in board


def test_a_method_the_board_cannot_place_is_an_error_not_a_dropped_row(tmp_path, monkeypatch):
    monkeypatch.setattr(leaderboard, "METHODS", tuple(m for m in leaderboard.METHODS if m != "S3Rec"))
    with pytest.raises(ValueError, match=r"lacks \['S3Rec'\]"):
        leaderboard.runs_by_method("smoke", tmp_path)


def _record(method, dataset, seed, ndcg10):
    test = {m: ndcg10 for m in report.METRICS}
    return {"method": method, "model": "sasrec", "dataset": dataset, "seed": seed, "profile": "cpu", "test": test,
            "valid": test, "best_epoch": 1, "epochs_run": 2, "train_seconds": 1.0, "config": {}}


def test_the_board_tells_missing_from_not_planned_and_marks_each_datasets_best():
    records = [_record("SASRec", d, s, v + 0.001 * s) for d, v in (("Beauty", 0.030), ("Yelp", 0.014))
               for s in (1, 2, 3)] + [_record("CL4SRec", "Beauty", s, 0.038 + 0.001 * s) for s in (1, 2)]
    summary = report.summarize(report.records_frame(records))
    planned = {("SASRec", "Beauty"): 3, ("SASRec", "Yelp"): 3, ("CL4SRec", "Beauty"): 2, ("CL4SRec", "Yelp"): 3,
               ("GRU4Rec", "Yelp"): 3}
    records.append(_record("GRU4Rec", "Yelp", 1, 0.9))  # far above all, from one seed of three: not the best yet
    summary = report.summarize(report.records_frame(records))
    board = report.leaderboard_table(summary, ["SASRec", "CL4SRec", "GRU4Rec"], ["Beauty", "Yelp"], "NDCG@10",
                                     "Table 1.", profile="cpu", planned=planned)
    cells = board.cells
    assert cells.loc["SASRec", "Beauty"] == "0.0320 ± 0.0025" and cells.loc["CL4SRec", "Beauty"].startswith("0.0395 ± ")
    assert cells.loc["GRU4Rec", "Yelp"] == "0.9000 (1 of 3 seeds)"
    assert cells.loc["CL4SRec", "Yelp"] == "missing" and cells.loc["GRU4Rec", "Beauty"] == "not planned"
    html = board._repr_html_()
    amber = re.search(r"([^}]*)\{\s*background-color: rgba\(255, 193, 7", html).group(1)  # its cells' CSS ids
    marked = set(re.findall(r"_row(\d)_col(\d)", amber))
    assert marked == {("1", "0"), ("0", "1")}  # the best complete cell of each: CL4SRec on Beauty, SASRec on Yelp


def test_the_grid_against_sasrec_shows_each_cells_difference_pairs_and_holm_p():
    records = ([_record("SASRec", "Beauty", s, 0.030 + 0.001 * s) for s in (1, 2, 3)]
               + [_record("SAMRec", "Beauty", s, 0.033 + 0.0012 * s) for s in (1, 2, 3)]
               + [_record("CL4SRec", "Beauty", 1, 0.040)])
    frame = report.records_frame(records)
    tests = pd.concat([report.paired_tests(frame, m, "SASRec", ["Beauty", "Yelp"], ("NDCG@10",), profile="cpu")
                       for m in ("SAMRec", "CL4SRec")], ignore_index=True)
    tests = tests[~((tests["method"] == "SAMRec") & (tests["dataset"] == "Yelp"))]  # not planned there
    grid = report.paired_grid_table(tests.assign(p_holm=report.holm(tests["p"])), ["SAMRec", "CL4SRec"],
                                    ["Beauty", "Yelp"], "Table 3.").cells
    samrec = grid.loc["SAMRec"]
    assert samrec[("Beauty", "Δ %")] == f"{100 * (0.0354 - 0.032) / 0.032:+.1f}"
    assert samrec[("Beauty", "Holm p (pairs)")].endswith(" (3)") and samrec[("Yelp", "Holm p (pairs)")] == "not planned"
    cl4srec = grid.loc["CL4SRec"]
    assert cl4srec[("Beauty", "Holm p (pairs)")] == "n/a (1)" and cl4srec[("Yelp", "Holm p (pairs)")] == "missing"
