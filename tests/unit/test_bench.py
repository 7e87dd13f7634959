"""The benchmark record: timing some methods again keeps the others' numbers."""
import json

import pytest

from seqrec import bench, runs
from seqrec.config import make_config


def test_saving_a_subset_of_the_variants_keeps_the_rest_of_the_record(tmp_path):
    path = tmp_path / "Beauty-cpu.json"
    full = {"dataset": "Beauty", "measured_at": "2026-01-01", "git_commit": "a", "train_epoch_seconds_bce": 2.0,
            "train_epoch_seconds_srma_flat": 30.0, "full_evaluation_seconds": 1.5}
    first = bench._merged(path, full, list(bench.VARIANTS), partial=False)
    assert first["variants_measured_at"] == {v: "2026-01-01" for v in bench.VARIANTS}
    path.write_text(json.dumps(first))
    subset = {"dataset": "Beauty", "measured_at": "2026-02-02", "git_commit": "b", "train_epoch_seconds_srma_flat": 20.0,
              "full_evaluation_seconds": 1.4}
    merged = bench._merged(path, subset, ["srma_flat"], partial=True)
    assert merged["train_epoch_seconds_srma_flat"] == 20.0 and merged["train_epoch_seconds_bce"] == 2.0
    assert merged["measured_at"] == "2026-01-01" and merged["git_commit"] == "a"  # the full run's stamp stays
    assert merged["variants_measured_at"]["srma_flat"] == "2026-02-02"
    assert merged["variants_measured_at"]["bce"] == "2026-01-01"
    assert bench._merged(tmp_path / "none.json", subset, ["srma_flat"], partial=True)["variants_measured_at"] == {
        "srma_flat": "2026-02-02"}


def test_every_run_the_chapters_plan_has_a_benchmark_variant():
    from seqrec import runs
    from seqrec.experiments import samrec, srma


    planned = samrec.table1("cpu", 0.1, samrec.DATASETS, (1,), representation="real_slots") + samrec.figure3("cpu")
    planned += [c for configs in srma.table1("cpu", "real_slots", {}, srma.DATASETS, (1,)).values() for c in configs]
    planned += srma.deciding_runs("cpu")  # GRU4Rec and BERT4Rec tuning
    planned += [s for c in planned if (s := runs.stage_config(c)) is not None]
    assert {bench.variant_of(c) for c in planned} <= set(bench.VARIANTS)
    assert {bench.variant_of(c) for c in planned} >= {"bce", "cl4srec_real_slots_bf16", "s3rec_pretraining_random_batches",
                                                      "gru4rec", "caser", "bert4rec", "srma_real_slots_bf16",
                                                      "coserec_real_slots_bf16"}
    # a benchmark from a machine without native bf16 has no bf16 variant: a bf16 run trains in fp32 there
    srma_run = next(c for c in planned if bench.variant_of(c) == "srma_real_slots_bf16")
    record = {"dataset": "Beauty", "full_evaluation_seconds": 1.0, "train_epoch_seconds_srma_real_slots": 20.0,
              "train_epoch_seconds_srma_flat": 50.0}
    assert bench.epoch_seconds(srma_run, record) == 20.0  # the fp32 time of its own representation
    assert bench.estimated_run_hours(srma_run, record, 10) == bench.estimated_run_hours(
        srma_run, {**record, "train_epoch_seconds_srma_real_slots_bf16": 20.0}, 10)
    assert bench.epoch_seconds(srma_run, {"train_epoch_seconds_srma_flat": 50.0}) is None


def test_a_run_is_estimated_from_its_variant_its_epochs_and_its_data():
    from seqrec import data

    record = {"dataset": "Beauty", "train_epoch_seconds_bce": 2.0, "train_epoch_seconds_sam": 5.0,
              "full_evaluation_seconds": 1.0}
    hours = bench.estimated_run_hours(make_config("cpu", dataset="Beauty"), record, epochs=100)
    assert hours == pytest.approx(100 * (2.0 + 1.0) * bench.QUEUE_SLOWDOWN / 3600)
    sam = bench.estimated_run_hours(make_config("cpu", dataset="Beauty", update="sam"), record, epochs=100)
    assert sam == pytest.approx(100 * (5.0 + 1.0) * bench.QUEUE_SLOWDOWN / 3600)  # the ascent: SAM / SASRec
    half = bench.estimated_run_hours(make_config("cpu", dataset="Beauty", train_fraction=0.5), record, epochs=100)
    assert half == pytest.approx(100 * (1.0 + 1.0) * bench.QUEUE_SLOWDOWN / 3600)  # validation keeps every user
    beauty, sports = data.load("Beauty"), data.load("Sports_and_Outdoors")
    training = len(sports.items) / len(beauty.items)
    ranking = sports.n_users * sports.n_items / (beauty.n_users * beauty.n_items)
    assert ranking > training > 1.4
    estimate = bench.estimated_run_hours(make_config("cpu", dataset="Sports_and_Outdoors"), record, epochs=100)
    assert estimate == pytest.approx(100 * (2.0 * training + 1.0 * ranking) * bench.QUEUE_SLOWDOWN / 3600)
    assert bench.estimated_run_hours(make_config("cpu", dataset="Beauty", model="gru4rec"), record, 100) is None
    partial = {k: v for k, v in record.items() if k != "train_epoch_seconds_sam"}
    assert bench.estimated_run_hours(make_config("cpu", dataset="Beauty", update="sam"), partial, 100) is None


def test_progress_estimates_a_method_without_a_finished_run_from_the_newest_benchmark(tmp_path):
    from seqrec.experiments import samrec

    (tmp_path / "bench").mkdir()
    old = {"dataset": "Beauty", "measured_at": "2026-01-01", "train_epoch_seconds_bce": 2.0,
           "train_epoch_seconds_sam": 5.0, "full_evaluation_seconds": 1.0,
           "train_epoch_seconds_s3rec_pretraining_random_batches": 100.0}
    newer = {**old, "train_epoch_seconds_bce": 4.0, "variants_measured_at": {"bce": "2026-02-01"}}
    (tmp_path / "bench" / "Beauty-a.json").write_text(json.dumps(newer))
    (tmp_path / "bench" / "Beauty-b.json").write_text(json.dumps({**old, "measured_at": "2026-01-15"}))
    assert bench.stored_records("Beauty", tmp_path)[0]["train_epoch_seconds_bce"] == 4.0  # the newest first
    table = samrec.progress("cpu", tmp_path)
    # a pre-training runs its own epochs
    expected = sum(bench.estimated_run_hours(runs.pretraining_config(
        samrec.method_config("S3Rec", "cpu", d, 1)), newer, samrec.CPU_PRETRAIN_EPOCHS) for d in samrec.DATASETS)
    assert table.loc["S3Rec pre-training", "estimated"] == 4
    assert table.loc["S3Rec pre-training", "hours left (est.)"] == pytest.approx(expected)
    # no run has finished: the rho sweep's five SAMRec runs are estimated at their epoch cap, the bf16 check's three
    # SASRec runs from the fp32 time (no bf16 variant in these records); CL4SRec has no variant at all: no estimate
    sweep = [bench.estimated_run_hours(c, newer, c.epochs) for c in samrec.figure3("cpu", ["Beauty"])]
    check = [bench.estimated_run_hours(c, newer, c.epochs) for c in samrec.precision_runs("cpu")["bf16"]]
    assert check[0] == bench.estimated_run_hours(samrec.precision_runs("cpu")["fp32"][0], newer, 300)
    assert table.loc["deciding runs", "estimated"] == 8
    assert table.loc["deciding runs", "hours left (est.)"] == pytest.approx(sum(sweep) + sum(check))


def test_a_queue_prefers_benchmarks_of_its_own_cpu_kind_and_pages_the_newest(tmp_path):

    (tmp_path / "bench").mkdir()
    here = "AVX2"
    base = {"dataset": "Beauty", "full_evaluation_seconds": 1.0}
    same = {**base, "device": f"cpu (x86_64, {here}, 2 threads)", "measured_at": "2026-01-01",
            "train_epoch_seconds_bce": 3.0}
    other = {**base, "device": "cpu (x86_64, OTHER, 2 threads)", "measured_at": "2026-03-01",
             "train_epoch_seconds_bce": 2.0, "train_epoch_seconds_srma_flat": 20.0}
    unnamed = {**base, "device": "cpu (x86_64, 2 threads)", "measured_at": "2026-02-01", "train_epoch_seconds_bce": 1.0}
    for name, record in (("a", other), ("b", same), ("c", unnamed)):
        (tmp_path / "bench" / f"Beauty-{name}.json").write_text(json.dumps(record))
    assert [r["measured_at"] for r in bench.stored_records("Beauty", tmp_path, prefer=here)] == [
        "2026-01-01", "2026-03-01", "2026-02-01"]
    assert [r["measured_at"] for r in bench.stored_records("Beauty", tmp_path)] == [  # pages: machine-independent
        "2026-03-01", "2026-02-01", "2026-01-01"]
    records = bench.stored_records("Beauty", tmp_path, prefer=here)
    sasrec, srma = make_config("cpu", dataset="Beauty"), make_config("cpu", dataset="Beauty", contrast="srma",
                                                                      bucket=False)
    assert bench.estimate_from_benchmarks(sasrec, records, 10) == bench.estimated_run_hours(sasrec, same, 10)
    # a variant only another machine timed comes from that machine
    assert bench.estimate_from_benchmarks(srma, records, 10) == bench.estimated_run_hours(srma, other, 10)
    assert bench.estimate_from_benchmarks(make_config("cpu", dataset="Beauty", model="caser"), records, 10) is None


def test_a_method_cost_is_quoted_against_sasrec_of_the_same_benchmark():
    record = {"train_epoch_seconds_bce": 2.0, "train_epoch_seconds_cl4srec_real_slots": 5.8,
              "train_epoch_seconds_cl4srec_flat": None}
    assert bench.times_sasrec(record, "cl4srec_real_slots") == pytest.approx(2.9)
    assert bench.times_sasrec(record, "cl4srec_flat") is None  # not timed on that machine
    assert bench.times_sasrec({"train_epoch_seconds_caser": 3.0}, "caser") is None  # no SASRec epoch to divide by
    with pytest.raises(ValueError, match="unknown benchmark variant 'cl4rec'"):
        bench.times_sasrec(record, "cl4rec")


def test_a_runs_cost_against_sasrec_counts_sams_second_pass():
    record = {"train_epoch_seconds_bce": 2.0, "train_epoch_seconds_sam": 3.6}
    samrec = make_config("cpu", dataset="Beauty", update="sam")
    assert bench.config_times_sasrec(samrec, record) == pytest.approx(1.8)
    assert bench.config_times_sasrec(make_config("cpu", dataset="Beauty"), record) == pytest.approx(1.0)
    assert bench.config_times_sasrec(samrec, {"train_epoch_seconds_bce": 2.0}) is None  # SAM not timed there
