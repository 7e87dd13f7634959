"""The chapter's choices made on validation records: SAMRec's rho and CL4SRec's representation."""
import pytest

from seqrec import experiments, runs
from seqrec.config import method_name


def store(cfg, results, valid, test=0.05):
    record = {"key": runs.run_key(cfg), "config": {}, "model": cfg.model, "method": method_name(cfg),
              "dataset": cfg.dataset, "seed": cfg.seed, "profile": cfg.profile, "best_epoch": 0, "history": [],
              "valid": {"NDCG@20": valid}, "test": {"NDCG@20": test}}
    runs.write_record(record, runs.record_path(cfg, results))


def test_rho_is_chosen_on_validation_once_the_whole_sweep_ran(tmp_path):
    sweep = experiments.figure3("smoke", [experiments.RHO_SELECTION_DATASET])
    assert sorted(c.sam.rho for c in sweep) == list(experiments.RHOS)
    valid = {0.001: 0.1, 0.01: 0.3, 0.1: 0.2, 1.0: 0.05, 10.0: 0.01}
    for cfg in sweep[:-1]:
        store(cfg, tmp_path, valid[cfg.sam.rho], test=1.0 - valid[cfg.sam.rho])  # test disagrees: it plays no part
    assert experiments.selected_rho("smoke", tmp_path) is None
    store(sweep[-1], tmp_path, valid[sweep[-1].sam.rho])
    assert experiments.selected_rho("smoke", tmp_path) == 0.01


@pytest.mark.parametrize("flat, real, chosen", [
    ([0.050, 0.052, 0.049], [0.0502, 0.0518, 0.0493], "real_slots"),  # within noise
    ([0.050, 0.052, 0.049], [0.040, 0.0415, 0.0392], "flat"),  # consistently 20% lower
])
def test_the_cheaper_representation_is_kept_only_when_it_does_not_move_validation(tmp_path, flat, real, chosen):
    pairs = experiments.representation_runs("smoke")
    assert experiments.chosen_representation("smoke", tmp_path) is None
    for representation, values in (("flat", flat), ("real_slots", real)):
        for cfg, value in zip(pairs[representation], values):
            store(cfg, tmp_path, value)
    assert experiments.chosen_representation("smoke", tmp_path) == chosen
    plan = experiments.samrec_chapter("smoke", tmp_path, datasets=["Beauty"], seeds=[1])
    fractions = {c.cl.representation for c in plan if c.contrast == "cl4srec" and c.train_fraction < 1}
    assert fractions == {chosen}  # Figure 2 runs only once the choice is made, with the chosen representation


def test_a_chapter_asked_for_other_datasets_or_seeds_still_plans_the_runs_that_decide():
    """rho and the representation are decided on Beauty with seeds 1-3; without those runs in the plan, a queue
    asked for Yelp, seed 1 could never reach SAMRec or CL4SRec."""
    plan = {runs.run_key(c) for c in experiments.samrec_chapter("smoke", datasets=["Yelp"], seeds=[1])}
    deciding = experiments.figure3("smoke", [experiments.RHO_SELECTION_DATASET]) + [
        c for cfgs in experiments.representation_runs("smoke").values() for c in cfgs]
    assert {runs.run_key(c) for c in deciding} <= plan
