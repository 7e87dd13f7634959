"""The chapter's plan and its choices made on validation records: SAMRec's rho, CL4SRec's representation, the
bf16 check, and each artifact's scope."""
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from seqrec import runs
from seqrec.experiments import samrec as samrec_plan
from seqrec.config import PRETRAIN_EPOCHS, method_name

from .records import store


def test_rho_is_chosen_on_validation_once_the_whole_sweep_ran(tmp_path):
    sweep = samrec_plan.figure3("smoke", [samrec_plan.RHO_SELECTION_DATASET])
    assert sorted(c.sam.rho for c in sweep) == list(samrec_plan.RHOS)
    valid = {0.001: 0.1, 0.01: 0.3, 0.1: 0.2, 1.0: 0.05, 10.0: 0.01}
    for cfg in sweep[:-1]:
        store(cfg, tmp_path, valid[cfg.sam.rho], test=1.0 - valid[cfg.sam.rho])  # test disagrees: it plays no part
    assert samrec_plan.selected_rho("smoke", tmp_path) is None
    store(sweep[-1], tmp_path, valid[sweep[-1].sam.rho])
    assert samrec_plan.selected_rho("smoke", tmp_path) == 0.01


@pytest.mark.parametrize("flat, real, chosen", [
    ([0.050, 0.052, 0.049], [0.0502, 0.0518, 0.0493], "real_slots"),  # within noise
    ([0.050, 0.052, 0.049], [0.040, 0.0415, 0.0392], "flat"),  # flat consistently 25% higher
    ([0.050, 0.052, 0.049], [0.0490, 0.0509, 0.0481], "real_slots"),  # flat significantly higher, by only 2%
    ([0.010, 0.012, 0.011], [0.050, 0.052, 0.049], "real_slots"),  # flat far lower (Toys' flat runs)
    ([0.060, 0.052, 0.049], [0.040, 0.0515, 0.0485], "real_slots"),  # flat 14% higher, but not significantly
])
def test_the_cheaper_representation_is_kept_unless_flat_is_better_on_validation(tmp_path, flat, real, chosen):
    pairs = samrec_plan.representation_runs("smoke")
    for cfg, value in zip(pairs["real_slots"], real[:2]):
        store(cfg, tmp_path, value)
    assert samrec_plan.chosen_representation("smoke", tmp_path) is None  # waits for every real_slots seed
    store(pairs["real_slots"][2], tmp_path, real[2])
    assert samrec_plan.chosen_representation("smoke", tmp_path) == "real_slots"  # provisional: flat can overturn it
    assert not samrec_plan.representation_final("smoke", tmp_path)
    for cfg, value in zip(pairs["flat"], flat):
        store(cfg, tmp_path, value)
    assert samrec_plan.representation_final("smoke", tmp_path)
    assert samrec_plan.chosen_representation("smoke", tmp_path) == chosen
    plan = samrec_plan.chapter("smoke", tmp_path, datasets=["Beauty"], seeds=[1])
    fractions = {c.cl.representation for c in plan if c.contrast == "cl4srec" and c.train_fraction < 1}
    assert fractions == {chosen}  # Figure 2 runs only once the choice is made, with the chosen representation


@pytest.mark.parametrize("first_flat, final", [(0.049, True), (0.0503, True), (0.060, False)])
def test_one_flat_seed_not_above_real_slots_makes_the_choice_final_and_the_other_flat_runs_unneeded(
        tmp_path, first_flat, final):
    """With 3 seeds, one pair where flat is not above real_slots caps the paired t at 2 (< 4.30): flat can no
    longer be chosen, whatever seeds 2 and 3 give (checked below with flat far above real_slots there)."""
    pairs = samrec_plan.representation_runs("smoke")
    for cfg, value in zip(pairs["real_slots"], [0.0503, 0.050, 0.050]):
        store(cfg, tmp_path, value)
    store(pairs["flat"][0], tmp_path, first_flat)
    assert samrec_plan.representation_final("smoke", tmp_path) == final
    check = [runs.run_key(c) for c in samrec_plan.representation_check_runs("smoke", tmp_path)]
    assert check == [runs.run_key(c) for c in (pairs["flat"][:1] if final else pairs["flat"])]
    assert ("final" in samrec_plan.representation_status("smoke", tmp_path)) == final
    for cfg, value in zip(pairs["flat"][1:], [0.0598, 0.0596]):  # the missing runs 19% above real_slots
        store(cfg, tmp_path, value)
    difference = samrec_plan.representation_difference("smoke", tmp_path)
    assert samrec_plan.flat_is_better(difference) == (not final)  # ruled out means no later run could choose flat
    assert samrec_plan.chosen_representation("smoke", tmp_path) == ("real_slots" if final else "flat")


def test_with_three_seeds_one_difference_not_below_zero_never_gives_a_significant_negative_mean():
    """The bound behind flat_ruled_out, by brute force: real_slots minus flat >= 0 on one seed, anything on two."""
    from seqrec import report

    rng = np.random.default_rng(0)
    for _ in range(3000):
        differences = np.concatenate([rng.uniform(0, 0.02, 1) * rng.integers(0, 2), rng.uniform(-0.1, 0.1, 2)])
        scale = rng.choice([1e-3, 1.0])  # near-equal differences too
        test = report.paired_test(dict(enumerate(differences * scale)), {0: 0.0, 1: 0.0, 2: 0.0})
        assert not (test["mean"] < 0 and test["p"] < 0.05), differences


def test_a_chapter_asked_for_other_datasets_or_seeds_still_plans_the_runs_that_decide():
    """rho and the representation are decided on Beauty with seeds 1-3; without those runs in the plan, a queue
    asked for Yelp, seed 1 could never reach SAMRec or CL4SRec."""
    plan = {runs.run_key(c) for c in samrec_plan.chapter("smoke", datasets=["Yelp"], seeds=[1])}
    deciding = samrec_plan.deciding_runs("smoke")
    assert {runs.run_key(c) for c in deciding} <= plan
    assert {c.sam.rho for c in deciding if c.update == "sam"} == set(samrec_plan.RHOS)
    assert {(c.cl.representation, c.seed) for c in deciding if c.contrast == "cl4srec"} == {
        ("real_slots", s) for s in (1, 2, 3)}
    # the flat runs that can overturn the choice are planned too, after the runs that decide
    check = {runs.run_key(c) for c in samrec_plan.representation_check_runs("smoke")}
    assert len(check) == 3 and check <= plan
    assert {c.seed for c in deciding if c.bf16 and c.contrast == "none"} == {1, 2, 3}  # the bf16 check


def test_the_flat_runs_train_after_table1(tmp_path):
    for cfg in samrec_plan.figure3("smoke", [samrec_plan.RHO_SELECTION_DATASET]):  # rho is chosen
        store(cfg, tmp_path, 0.05 if cfg.sam.rho == 1.0 else 0.04)
    for cfg in samrec_plan.representation_runs("smoke")["real_slots"]:  # and, provisionally, the representation
        store(cfg, tmp_path, 0.05)
    order = [runs.run_key(c) for c in samrec_plan.chapter("smoke", tmp_path)]
    table1 = [runs.run_key(c) for c in samrec_plan.table1("smoke", 1.0, representation="real_slots")]
    flat = [runs.run_key(c) for c in samrec_plan.representation_check_runs("smoke")]
    assert max(order.index(k) for k in table1) < min(order.index(k) for k in flat)


def test_the_cheap_runs_of_table1_train_before_the_representation_runs(tmp_path):
    for cfg in samrec_plan.figure3("cpu", [samrec_plan.RHO_SELECTION_DATASET]):  # rho is chosen
        store(cfg, tmp_path, 0.05 if cfg.sam.rho == 1.0 else 0.04)
    plan = samrec_plan.chapter("cpu", tmp_path)
    before = plan[:min(i for i, c in enumerate(plan) if c.contrast == "cl4srec")]
    table1 = {(c.dataset, c.seed) for c in before if c.train_fraction == 1 and method_name(c) == "SAMRec"
              and c.sam.rho == 1.0}
    assert table1 == {(d, s) for d in samrec_plan.DATASETS for s in (1, 2, 3)}
    assert {(c.dataset, c.seed) for c in before if method_name(c) == "SASRec" and not c.bf16} == table1
    assert not [c for c in before if c.pretrain != "none"]


def test_only_the_expensive_methods_train_in_bf16_and_only_on_the_cpu_profiles():
    for profile in ("smoke", "cpu", "paper"):
        for method in ("SASRec", "SAMRec", "S3Rec", "CL4SRec", "S3Rec+SAM", "CL4SRec+SAM"):
            cfg = samrec_plan.method_config(method, profile, "Beauty", 1, rho=0.1)
            expected = profile != "paper" and method.removesuffix("+SAM") == "CL4SRec"
            assert cfg.bf16 == expected, (method, profile)
            if cfg.pretrain != "none":  # S3Rec's pre-training runs in the fine-tuning run's precision
                assert runs.pretraining_config(cfg).bf16 == expected
    # the fp32 side of the check is Table 1's SASRec run itself: no run is trained twice
    fp32 = samrec_plan.precision_runs("cpu")["fp32"]
    assert [runs.run_key(c) for c in fp32] == [
        runs.run_key(samrec_plan.method_config("SASRec", "cpu", samrec_plan.PRECISION_DATASET, s)) for s in (1, 2, 3)]


def test_the_precision_check_pairs_bf16_with_fp32_by_seed(tmp_path):
    pairs = samrec_plan.precision_runs("smoke")
    fp32, bf16 = [0.050, 0.052, 0.049], [0.051, 0.054, 0.049]
    for cfg, value in zip(pairs["fp32"], fp32):
        store(cfg, tmp_path, value)
    assert samrec_plan.precision_difference("smoke", tmp_path) is None  # waits for both sides
    for cfg, value in zip(pairs["bf16"], bf16):
        store(cfg, tmp_path, value)
    result = samrec_plan.precision_difference("smoke", tmp_path)
    assert result["mean"] == pytest.approx(0.001) and result["seeds"] == 3
    assert result["relative"] == pytest.approx(0.001 / (sum(fp32) / 3))
    assert result["p"] == pytest.approx(stats.ttest_rel(bf16, fp32).pvalue)
    assert result["treatment"] == bf16 and result["control"] == fp32


def test_s3rec_pretrains_fewer_epochs_only_on_the_cpu_profile():
    epochs = {p: runs.pretraining_config(samrec_plan.method_config("S3Rec", p, "Yelp", 1)).epochs
              for p in ("cpu", "paper")}
    assert epochs == {"cpu": samrec_plan.CPU_PRETRAIN_EPOCHS, "paper": PRETRAIN_EPOCHS["Yelp"]}
    # the seeds and S3Rec+SAM fine-tune from the same pre-training
    stages = {runs.run_key(runs.pretraining_config(samrec_plan.method_config(m, "cpu", "Yelp", s, rho=0.1)))
              for m in ("S3Rec", "S3Rec+SAM") for s in (1, 2, 3)}
    assert len(stages) == 1


def test_each_artifact_plans_its_scope_and_the_paper_profile_plans_everything():
    assert samrec_plan.scope("table1", "cpu") == (samrec_plan.DATASETS, (1, 2, 3))
    for artifact in ("table2", "figure2", "figure3"):
        cpu_datasets, _ = samrec_plan.scope(artifact, "cpu")
        assert set(cpu_datasets) < set(samrec_plan.DATASETS)
        assert samrec_plan.scope(artifact, "paper")[0] == samrec_plan.DATASETS
    with pytest.raises(ValueError, match="unknown artifact 'table9'"):
        samrec_plan.scope("table9", "cpu")
    plan = samrec_plan.chapter("cpu", Path("/nonexistent"))
    sweep_datasets = {c.dataset for c in plan if c.update == "sam"}  # rho is not chosen: only the sweep plans SAM
    assert sweep_datasets == set(samrec_plan.scope("figure3", "cpu")[0])
    s3rec = {(c.dataset, c.seed) for c in plan if c.pretrain == "s3rec"}
    assert s3rec == {(d, s) for d in samrec_plan.DATASETS for s in (1, 2, 3)}  # Table 1 in full


def test_progress_counts_each_planned_run_once_and_its_hours(tmp_path):
    empty = samrec_plan.progress("cpu", tmp_path)
    assert (empty["finished"] == 0).all() and (empty["hours spent"] == 0).all()
    assert empty.loc["Table 1", "waiting"] > 0  # SAMRec and CL4SRec wait for rho and the representation
    # every run of the chapter's plan appears once (the plan also holds the runs waiting for a choice, which
    # progress counts with a stand-in value, so the progress total is at least the plan's)
    assert empty["runs"].sum() >= len(samrec_plan.chapter("cpu", tmp_path))
    sasrec = samrec_plan.method_config("SASRec", "cpu", "Toys_and_Games", 2)
    store(sasrec, tmp_path, 0.05)
    path = runs.record_path(sasrec, tmp_path)
    record = runs.load_records(tmp_path)[0]
    runs.write_record({**record, "train_seconds": 1800.0}, path)
    after = samrec_plan.progress("cpu", tmp_path)
    assert after.loc["Table 1", "finished"] == 1 and after.loc["Table 1", "hours spent"] == 0.5
    assert after.loc["Table 1", "in progress"] == 0
    unfinished = samrec_plan.method_config("SASRec", "cpu", "Toys_and_Games", 3)
    epoch = {"epoch": 0, "train_seconds": 1500.0, "eval_seconds": 300.0}
    runs.write_progress(unfinished, {"epoch": 2, "best_epoch": 1, "provenance": 1, "history": [epoch, epoch]},
                        tmp_path)
    started = samrec_plan.progress("cpu", tmp_path).loc["Table 1"]
    assert started["in progress"] == 1 and started["hours in progress"] == 1.0 and started["finished"] == 1
    # the other SASRec runs of Table 1 now have an estimate: the hours of the SASRec run on the same dataset
    missing_sasrec = len([c for c in samrec_plan.table1("cpu", None) if method_name(c) == "SASRec"]) - 1
    assert after.loc["Table 1", "estimated"] == missing_sasrec


def test_run_hours_are_the_mean_of_finished_runs_or_the_longest_when_cautious(tmp_path):
    from seqrec.experiments import common

    s1, s2, s3 = (samrec_plan.method_config("SASRec", "cpu", "Toys_and_Games", s) for s in (1, 2, 3))
    other_dataset = samrec_plan.method_config("SASRec", "cpu", "Yelp", 1)
    for cfg, hours in ((s1, 0.5), (s2, 1.0)):
        store(cfg, tmp_path, 0.05)
        record = runs.find_record(cfg, tmp_path)
        runs.write_record({**record, "train_seconds": hours * 3600}, runs.record_path(cfg, tmp_path))
    plan = [s1, s2, s3, other_dataset]
    assert common.run_hours_estimator(plan, str(tmp_path))(s3) == pytest.approx(0.75)  # a path from the CLI
    assert common.run_hours_estimator(plan, tmp_path, cautious=True)(s3) == pytest.approx(1.0)
    # no finished run on Yelp: the method's runs on other datasets stand in
    assert common.run_hours_estimator(plan, tmp_path, cautious=True)(other_dataset) == pytest.approx(1.0)


def test_a_finished_real_slots_run_does_not_estimate_a_flat_one(tmp_path):
    """A flat CL4SRec epoch costs several real_slots epochs: the estimate keeps the representations apart."""
    from seqrec.experiments import common

    real, flat = (samrec_plan.method_config("CL4SRec", "cpu", "Toys_and_Games", 1, representation=r)
                  for r in ("real_slots", "flat"))
    store(real, tmp_path, 0.05)  # one hour
    estimate = common.run_hours_estimator([real, flat], tmp_path)
    assert estimate(samrec_plan.method_config("CL4SRec", "cpu", "Toys_and_Games", 2, representation="real_slots")) \
        == pytest.approx(1.0)
    assert estimate(flat) != pytest.approx(1.0)  # from the benchmarks of flat epochs (NaN without any)


def test_a_killed_runs_estimate_counts_what_its_checkpoint_holds(isolated_cache):
    import torch

    from seqrec.experiments import common

    results = isolated_cache / "results"
    done, killed = (samrec_plan.method_config("SASRec", "cpu", "Toys_and_Games", s) for s in (1, 2))
    store(done, results, 0.05)  # a finished run of one hour
    path = runs.checkpoint_path(killed)
    path.parent.mkdir(parents=True)
    torch.save({"update": {}, "history": [{"train_seconds": 1200.0, "eval_seconds": 240.0}]}, path)  # 0.4 h trained
    assert runs.checkpoint_seconds(killed) == 1440.0
    assert common.run_hours_estimator([done, killed], results)(killed) == pytest.approx(0.6)
    # a page's estimate is the same on a fresh clone: it ignores this machine's checkpoints
    assert common.run_hours_estimator([done, killed], results, checkpoints=False)(killed) == pytest.approx(1.0)
    assert killed in samrec_plan.table1("cpu", None)
    with_checkpoint = samrec_plan.progress("cpu", results)
    path.rename(path.with_suffix(".away"))
    assert samrec_plan.progress("cpu", results).equals(with_checkpoint)
    path.with_suffix(".away").rename(path)
    torch.save({"update": {}, "history": [{"train_seconds": 1200.0, "eval_seconds": 240.0}] * 3}, path)  # 1.2 h
    assert common.run_hours_estimator([done, killed], results)(killed) == pytest.approx(0.1)  # a tenth is left
    torch.save({"history": [{"train_seconds": 1200.0, "eval_seconds": 240.0}]}, path)  # too old to resume from
    assert runs.checkpoint_seconds(killed) == 0.0
    path.write_bytes(b"half a checkpoint")
    assert runs.checkpoint_seconds(killed) == 0.0


def test_a_finished_pre_training_estimates_the_missing_ones(isolated_cache, tmp_path):
    from seqrec.experiments import common

    s3rec = [samrec_plan.method_config("S3Rec", "cpu", d, 1) for d in ("Beauty", "Toys_and_Games")]
    done = runs.pretraining_config(s3rec[0])
    store(done, tmp_path, 0.05)  # a pre-training of one hour (its stage config, not in the plan itself)
    estimate = common.run_hours_estimator(s3rec, tmp_path)
    assert estimate(runs.pretraining_config(s3rec[1])) == pytest.approx(1.0)


def test_a_live_estimate_learns_from_each_record_that_lands(tmp_path):
    from seqrec.experiments import common

    s1, s2, s3 = (samrec_plan.method_config("SASRec", "cpu", "Toys_and_Games", s) for s in (1, 2, 3))
    store(s1, tmp_path, 0.05)  # one hour
    estimate = common.live_run_hours_estimator([s1, s2, s3], tmp_path, cautious=True)
    assert estimate(s3) == pytest.approx(1.0)
    store(s2, tmp_path, 0.05)
    record = runs.find_record(s2, tmp_path)
    runs.write_record({**record, "train_seconds": 3 * 3600.0}, runs.record_path(s2, tmp_path))  # a slow machine
    assert estimate(s3) == pytest.approx(3.0)
