"""The SRMA chapter's plan: which runs each table and figure needs, what it shares with the SAMRec chapter, and the
choices it waits for (the baselines' tuned settings, CL4SRec's representation)."""
import numpy as np
import pytest

from seqrec import augment, runs
from seqrec.config import method_name
from seqrec.experiments import samrec as samrec_plan
from seqrec.experiments import srma as srma_plan

from .records import store, store_metrics


def decide_representation(results, representation="real_slots"):
    """Records that make samrec_plan.chosen_representation pick ``representation``."""
    pairs = samrec_plan.representation_runs("smoke")
    noise = {"flat": [0.050, 0.052, 0.049], "real_slots": [0.0502, 0.0518, 0.0493]}
    if representation == "flat":
        noise["real_slots"] = [0.040, 0.0415, 0.0392]
    for name, values in noise.items():
        for cfg, value in zip(pairs[name], values):
            store(cfg, results, value)
    assert samrec_plan.chosen_representation("smoke", results) == representation


def test_each_method_is_the_run_its_name_says_and_the_shared_ones_are_the_samrec_chapters():
    configs = {m: srma_plan.method_config(m, "cpu", "Toys_and_Games", 2, representation="real_slots")
               for m in srma_plan.METHODS}
    assert {m: method_name(c) for m, c in configs.items()} == {m: m for m in srma_plan.METHODS}
    assert [configs[m].model for m in ("GRU4Rec", "Caser", "BERT4Rec")] == ["gru4rec", "caser", "bert4rec"]
    assert configs["SRMA"].srma.layers == 2 and configs["SRMA"].srma.drop == 1 and configs["SRMA"].dropout == 0.5
    for method in srma_plan.CONTRASTIVE:  # one representation and precision for the whole family
        assert configs[method].cl.representation == "real_slots" and configs[method].bf16
    for method in ("SASRec", "CL4SRec", "S3Rec"):  # one record serves both chapters on the cpu profile
        shared = samrec_plan.method_config(method, "cpu", "Toys_and_Games", 2, representation="real_slots")
        assert runs.run_key(configs[method]) == runs.run_key(shared)
    paper = srma_plan.method_config("S3Rec", "paper", "Toys_and_Games", 2)  # SRMA's S3Rec: MIP and SP only
    assert paper.s3rec.aap == 0 and paper.s3rec.map == 0 and paper.s3rec.mip > 0 and paper.s3rec.sp > 0
    with pytest.raises(ValueError, match="unknown method 'DuoRec'"):
        srma_plan.method_config("DuoRec", "cpu", "Toys_and_Games", 1)


def test_cl4srec_without_data_augmentation_contrasts_two_copies_of_the_input():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, size=64)
    items = rng.integers(1, 500, size=int(lengths.sum()))
    ends = np.cumsum(lengths)
    view = augment.augment(items, ends - lengths, ends, rng, width=50, **srma_plan.NO_DATA_AUGMENTATION)
    for row, (start, end) in enumerate(zip(ends - lengths, ends)):
        assert list(view[row, 50 - (end - start):]) == list(items[start:end]) and not view[row, :50 - (end - start)].any()
    cfg = srma_plan.table2("smoke", "flat", ["Toys_and_Games"], [1])["CL4SRec w/o D"][0]
    assert (cfg.cl.crop, cfg.cl.mask, cfg.cl.reorder, cfg.dropout) == (1.0, 0.0, 0.0, 0.5)


def test_the_ablation_rows_switch_off_what_their_names_say():
    rows = {row: configs[0] for row, configs in srma_plan.table2("smoke", "flat", ["Toys_and_Games"], [1]).items()}
    assert list(rows) == list(srma_plan.TABLE2_ROWS)
    assert rows["CL4SRec p = 0"].dropout == rows["CL4SRec p = 0"].attn_dropout == 0.0
    assert not rows["SRMA w/o D"].srma.augment and rows["SRMA w/o D"].dropout == 0.5
    without_m = rows["SRMA w/o M"]  # no neuron masking, no layer dropping, the extra layers kept
    assert (without_m.dropout, without_m.srma.drop, without_m.srma.layers) == (0.0, 0, 2)
    table1 = srma_plan.table1("smoke", "flat", {"BERT4Rec": {"lr": 1e-3}, "GRU4Rec": {"dropout": 0.5}},
                              ["Toys_and_Games"], [1])
    assert runs.run_key(rows["SRMA"]) == runs.run_key(table1["SRMA"][0])  # the same run, trained once
    assert runs.run_key(rows["CL4SRec"]) == runs.run_key(table1["CL4SRec"][0])
    table3 = srma_plan.table3("smoke", "flat", ["Toys_and_Games"], [1], gamma={"transformer": 0.5, "gru": 0.05})
    assert runs.run_key(table3["SRMA w/o Enc."][0]) == runs.run_key(rows["SRMA"])
    assert (table3["SRMA-Trans"][0].srma.gamma, table3["SRMA-GRU"][0].srma.gamma) == (0.5, 0.05)
    stages = {row: runs.stage_config(configs[0]) for row, configs in table3.items()}
    assert stages["SRMA w/o Enc."] is None
    assert (stages["SRMA-Trans"].model, stages["SRMA-Trans"].n_layers) == ("sasrec", 1)
    assert stages["SRMA-GRU"].model == "gru4rec"


def test_the_sweeps_cover_their_grids():
    pairs = [(c.srma.layers, c.srma.drop) for c in srma_plan.figure3("smoke", "flat", ["Toys_and_Games"])]
    assert sorted(pairs) == [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2), (4, 0), (4, 1), (4, 2), (4, 3)]
    figure2 = srma_plan.figure2("paper", "flat", ["Toys_and_Games"])
    assert sorted(c.dropout for c in figure2 if c.contrast == "srma") == list(srma_plan.MASKING_PS)
    sasrec = [c for c in figure2 if c.contrast == "none"]
    assert sorted(c.dropout for c in sasrec) == list(srma_plan.MASKING_PS)  # p is the hidden dropout, as the code's
    assert {c.attn_dropout for c in sasrec} == {0.5}  # attention dropout stays at its default
    assert srma_plan.figure3("smoke", None, ["Toys_and_Games"]) == []  # SRMA waits for the representation
    assert {c.contrast for c in srma_plan.figure2("smoke", None, ["Toys_and_Games"])} == {"none"}


def test_a_tuned_setting_is_chosen_on_validation_once_every_value_ran(tmp_path):
    runs_of = srma_plan.tuning_runs("smoke")
    assert srma_plan.tuned("smoke", tmp_path) == {"BERT4Rec": None, "GRU4Rec": None}
    first, second = runs_of["BERT4Rec"]
    store(first, tmp_path, valid=0.02, test=0.9)  # test disagrees: it plays no part
    assert srma_plan.tuned("smoke", tmp_path)["BERT4Rec"] is None
    store(second, tmp_path, valid=0.03, test=0.1)
    assert srma_plan.tuned("smoke", tmp_path)["BERT4Rec"] == {"lr": second.lr} and second.lr == 1e-3


def choose_gammas(results, best: dict, profile="smoke"):
    """Records of Table 3's gamma runs whose validation NDCG@20 peaks at ``best`` ({complement: gamma})."""
    for kind, configs in srma_plan.gamma_runs(profile, "real_slots").items():
        for cfg in configs:
            store(cfg, results, valid=0.03 if cfg.srma.gamma == best[kind] else 0.02, test=0.5)


def test_tables3_gamma_is_chosen_on_validation_for_each_complement_and_its_rows_wait_for_it(tmp_path):
    assert srma_plan.chosen_gammas("smoke", None, tmp_path) == {"transformer": None, "gru": None}
    runs_of = srma_plan.gamma_runs("smoke", "real_slots")
    assert {kind: [c.srma.gamma for c in configs] for kind, configs in runs_of.items()} == {
        kind: list(srma_plan.CPU_GAMMAS) for kind in ("transformer", "gru")}
    assert {(c.dataset, c.seed) for configs in runs_of.values() for c in configs} == {("Toys_and_Games", 1)}
    assert len(srma_plan.gammas("paper")) == 6 and set(srma_plan.CPU_GAMMAS) <= set(srma_plan.GAMMAS)
    # the default gamma's run is the same run (one key) as the complement row before gamma was tuned
    default = srma_plan.method_config("SRMA", "smoke", "Toys_and_Games", 1, representation="real_slots",
                                      srma=dict(complement="gru"))
    assert runs.run_key(runs_of["gru"][0]) == runs.run_key(default)
    with pytest.raises(ValueError, match="needs its gamma"):  # a complement's gamma is chosen, never defaulted
        srma_plan.complemented("smoke", "Toys_and_Games", 2, "real_slots", "gru")
    waiting = srma_plan.table3("smoke", "real_slots", ["Toys_and_Games"], [1, 2],
                               gamma=srma_plan.chosen_gammas("smoke", "real_slots", tmp_path))
    assert list(waiting) == ["SRMA w/o Enc."]  # both complements wait for their gamma
    choose_gammas(tmp_path, {"transformer": 0.05, "gru": 0.5})
    store(runs_of["gru"][-1], tmp_path, valid=0.01)  # overwrite: the GRU's last value is now the worst
    gamma = srma_plan.chosen_gammas("smoke", "real_slots", tmp_path)
    assert gamma == {"transformer": 0.05, "gru": 0.5}
    table = srma_plan.table3("smoke", "real_slots", ["Toys_and_Games"], [1, 2], gamma=gamma)
    assert {row: sorted({c.srma.gamma for c in configs}) for row, configs in table.items() if row != "SRMA w/o Enc."} \
        == {"SRMA-Trans": [0.05], "SRMA-GRU": [0.5]}
    # seed 1 at the chosen gamma is the gamma run itself: trained once
    assert runs.run_key(table["SRMA-Trans"][0]) in {runs.run_key(c) for c in runs_of["transformer"]}


def test_the_chapter_trains_the_deciding_runs_first_and_the_rest_once_their_choices_are_made(tmp_path):
    plan = srma_plan.chapter("smoke", tmp_path, datasets=["Toys_and_Games"], seeds=[1])
    tuning = [runs.run_key(c) for c in srma_plan.deciding_runs("smoke")]  # tuning, then real_slots' three
    assert [runs.run_key(c) for c in plan[:len(tuning)]] == tuning and len(tuning) == 4 + 3
    check = {runs.run_key(c) for c in samrec_plan.representation_check_runs("smoke")}  # flat: planned, not first
    assert check <= {runs.run_key(c) for c in plan[len(tuning):]}
    waiting = {"BERT4Rec", "GRU4Rec", *srma_plan.CONTRASTIVE}
    assert not waiting & {method_name(c) for c in plan[len(tuning):] if runs.run_key(c) not in check}
    decide_representation(tmp_path)
    for configs in srma_plan.tuning_runs("smoke").values():
        for value, cfg in enumerate(configs):
            store(cfg, tmp_path, valid=0.01 * (value + 1))
    plan = srma_plan.chapter("smoke", tmp_path, datasets=["Toys_and_Games"], seeds=[1, 2])
    methods = [method_name(c) for c in plan]
    assert set(methods) >= set(srma_plan.METHODS)
    assert all(c.cl.representation == "real_slots" for c in plan[len(tuning):]
               if c.contrast != "none" and runs.run_key(c) not in check)
    assert {c.lr for c in plan if c.model == "bert4rec" and c.seed == 2} == {1e-3}  # the tuned value
    switches = [runs.run_key(c) for configs in srma_plan.switches("smoke", "real_slots").values() for c in configs]
    assert [runs.run_key(c) for c in plan[len(tuning):len(tuning) + len(switches)]] == switches  # they come next
    assert len({runs.run_key(c) for c in plan}) == len(plan)
    gamma_keys = [runs.run_key(c) for configs in srma_plan.gamma_runs("smoke", "real_slots").values()
                  for c in configs]
    keys = [runs.run_key(c) for c in plan]
    assert set(gamma_keys) <= set(keys)
    def complemented_seeds(plan):  # the complement rows' runs other than the gamma runs
        return [c for c in plan if c.srma.complement in srma_plan.COMPLEMENTS and runs.run_key(c) not in gamma_keys]

    assert not complemented_seeds(plan)  # they wait for gamma
    choose_gammas(tmp_path, {"transformer": 0.5, "gru": 0.005})
    plan = srma_plan.chapter("smoke", tmp_path, datasets=["Toys_and_Games"], seeds=[1, 2])
    assert {(c.srma.complement, c.srma.gamma, c.seed) for c in complemented_seeds(plan)} == {("transformer", 0.5, 2),
                                                                                ("gru", 0.005, 2)}
    table1 = [c for c in plan if c.seed == 2]  # seed 2 plans only Table 1 and Table 2 (the cpu scopes' seeds)
    first_seed2 = next(i for i, c in enumerate(plan) if c.seed == 2)
    assert all(c.seed == 1 for c in plan[len(tuning):first_seed2]) and table1


def test_progress_counts_every_planned_run_once(tmp_path):
    table = srma_plan.progress("cpu", tmp_path)
    plan = srma_plan.chapter("cpu", tmp_path)
    assert table.loc["tuning runs", "runs"] == 4 and table["finished"].sum() == 0
    # 8 methods x 3 datasets x 3 seeds, less the two tuning runs on Toys seed 1, which count as tuning runs
    assert table.loc["Table 1", "runs"] == 72 - 2
    # waiting: BERT4Rec's and GRU4Rec's other 8 runs each (tuning), CL4SRec's, CoSeRec's, SRMA's 9 (representation)
    assert table.loc["Table 1", "waiting"] == 8 + 8 + 3 * 9
    assert table.loc["Table 3's gamma", "runs"] == 2 * len(srma_plan.CPU_GAMMAS)  # each complement's, Toys seed 1
    # Table 3: 3 rows x 3 seeds, less SRMA w/o Enc. (Table 1's SRMA) and seed 1 at the stand-in gamma (a gamma
    # run); the other complement runs wait for gamma
    assert (table.loc["Table 3", "runs"], table.loc["Table 3", "waiting"]) == (2 * 2, 2 * 2)
    assert table["runs"].sum() >= len(plan)


def test_the_switches_are_srmas_readings_and_its_codes_settings_one_of_them_table1s_run():
    table = srma_plan.switches("smoke", "flat")
    assert list(table) == ["SRMA, all layers predict", "SRMA + rec_layers", "SRMA, views-only layers",
                           "SRMA, views-only, code's masking", "SRMA (code)"]
    every_layer, rec, views_only, code_masking, code = (configs[0] for configs in table.values())
    assert (code_masking.srma.neuron_masking, code_masking.attn_dropout, code_masking.srma.inference_layers) == (
        "all", 0.1, "none")
    table1_srma = srma_plan.table1("smoke", "flat", {}, [srma_plan.SWITCHES_DATASET], [1])["SRMA"][0]
    assert runs.run_key(views_only) == runs.run_key(table1_srma)  # the reading best on validation
    assert (code.srma.neuron_masking, code.attn_dropout, code.srma.rec_layers) == ("all", 0.1, True)
    step1 = runs.stage_config(code)  # the code's frozen complement: its README's step 1, an SRMA run of its own
    assert step1.contrast == "srma" and step1.srma.complement == "none" and not step1.srma.rec_layers
    assert rec.srma.rec_layers and rec.srma.neuron_masking == "ffn" and runs.stage_config(rec) is None
    assert views_only.srma.inference_layers == "none" and not views_only.srma.rec_layers
    assert srma_plan.switches("smoke", None) == {}


def test_the_cl4srec_check_holds_our_runs_against_srmas_own_rows(tmp_path):
    from seqrec import report

    paper = report.paper_numbers("SRMA", table="Table 1", dataset=srma_plan.CHECK_DATASET).set_index(
        ["method", "metric"])["value"]
    def passes(representation="flat"):
        return srma_plan.cl4srec_check_passes(srma_plan.cl4srec_check("cpu", tmp_path), representation)

    assert passes() is None  # no record yet
    sasrec = [srma_plan.method_config("SASRec", "cpu", srma_plan.CHECK_DATASET, s) for s in (1, 2, 3)]
    cl4srec = {r: srma_plan.method_config("CL4SRec", "cpu", srma_plan.CHECK_DATASET, 1, representation=r)
               for r in samrec_plan.REPRESENTATIONS}
    at_srma_row(cl4srec["flat"], tmp_path, "CL4SRec", 1.0)  # exactly SRMA's CL4SRec row on every metric
    store_metrics(sasrec[0], tmp_path, 0.049)
    assert passes() is None  # 1 of 3 SASRec seeds
    for cfg, value in zip(sasrec, (0.049, 0.050, 0.051)):  # mean 0.050 on every metric
        store_metrics(cfg, tmp_path, value)
    check = srma_plan.cl4srec_check("cpu", tmp_path)
    assert check.loc[("SASRec", "HR@10"), "seeds"] == 3
    assert check.loc[("SASRec", "HR@10"), "ours"] == pytest.approx(0.050)
    sasrec_off = 100 * (0.050 - paper[("SASRec", "HR@10")]) / paper[("SASRec", "HR@10")]
    assert check.loc[("SASRec", "HR@10"), "difference_%"] == pytest.approx(sasrec_off)
    assert np.allclose(check.loc["CL4SRec flat", "difference_%"], 0.0)
    assert check.loc["CL4SRec real_slots", "ours"].isna().all()  # shown, missing
    assert passes() is True and passes(None) is None and passes("real_slots") is None
    # a CL4SRec far below SRMA's row fails the check for its representation only
    store_metrics(cl4srec["flat"], tmp_path, 0.2 * paper[("CL4SRec", "HR@10")])
    at_srma_row(cl4srec["real_slots"], tmp_path, "CL4SRec", 1.03)
    assert passes() is False and passes("real_slots") is True
    # further off than SASRec (5% above its row) counts against CL4SRec only where it lies lower than that
    for cfg in sasrec:
        at_srma_row(cfg, tmp_path, "SASRec", 1.05)
    for scale, expected in ((1.04, True), (1.08, True), (1.3, True), (0.96, True), (0.92, False)):
        at_srma_row(cl4srec["real_slots"], tmp_path, "CL4SRec", scale)
        assert passes("real_slots") is expected, scale
    # higher on average, but one metric 20% below its row: the average hides a gap
    record = runs.find_record(cl4srec["real_slots"], tmp_path)
    record["test"]["NDCG@5"] = 0.8 * paper[("CL4SRec", "NDCG@5")]
    record["test"]["HR@5"] = 1.5 * paper[("CL4SRec", "HR@5")]
    runs.write_record(record, runs.record_path(cl4srec["real_slots"], tmp_path))
    assert passes("real_slots") is False


def at_srma_row(cfg, results, method, scale, valid=0.05):
    """A record of ``cfg`` whose test metrics are SRMA's Table 1 row of ``method`` on CHECK_DATASET times ``scale``."""
    from seqrec import report

    paper = report.paper_numbers("SRMA", table="Table 1", dataset=srma_plan.CHECK_DATASET, method=method)
    store_metrics(cfg, results, 0.0, valid=valid)
    record = runs.find_record(cfg, results)
    record["test"] = {m: scale * v for m, v in paper.set_index("metric")["value"].items()}
    runs.write_record(record, runs.record_path(cfg, results))


def test_a_failing_cl4srec_check_holds_back_the_contrastive_runs(tmp_path):
    decide_representation(tmp_path, "flat")

    def planned_methods():
        return {method_name(c) for c in srma_plan.chapter("smoke", tmp_path)}

    for s in (1, 2, 3):
        at_srma_row(srma_plan.method_config("SASRec", "smoke", srma_plan.CHECK_DATASET, s), tmp_path, "SASRec", 1.05)
    cl4srec = srma_plan.method_config("CL4SRec", "smoke", srma_plan.CHECK_DATASET, 1, representation="flat")
    at_srma_row(cl4srec, tmp_path, "CL4SRec", 0.98)  # valid as decide_representation's flat seed 1: the choice stands
    assert samrec_plan.chosen_representation("smoke", tmp_path) == "flat"
    assert srma_plan.cl4srec_check_passes(srma_plan.cl4srec_check("smoke", tmp_path), "flat") is True
    assert {"CoSeRec", "SRMA"} <= planned_methods()
    at_srma_row(cl4srec, tmp_path, "CL4SRec", 0.90)  # 10% below SRMA's CL4SRec row, SASRec 5% above its own
    assert srma_plan.cl4srec_check_passes(srma_plan.cl4srec_check("smoke", tmp_path), "flat") is False
    assert not {"CoSeRec", "SRMA"} & planned_methods()


def test_the_chapters_srma_reading_is_the_best_on_validation_of_the_committed_readings():
    """srma_settings("paper") fixes which layers predict; the committed runs of the three readings must bear it out."""
    representation = samrec_plan.chosen_representation("cpu")
    readings = {label: configs[0] for label, configs in srma_plan.switches("cpu", representation).items()
                if label in srma_plan.READINGS}
    records = {label: runs.find_record(cfg) for label, cfg in readings.items()}
    assert all(records.values()), f"a reading has no committed record: {[k for k, r in records.items() if not r]}"
    best = max(records, key=lambda label: records[label]["valid"]["NDCG@20"])
    table1 = srma_plan.method_config("SRMA", "cpu", srma_plan.SWITCHES_DATASET, 1, representation=representation)
    assert runs.run_key(readings[best]) == runs.run_key(table1)
