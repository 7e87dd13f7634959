import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from seqrec import data, runs
from seqrec.config import make_config
from seqrec.models import build_model
from seqrec.train import Trainer

from .training import fit_trainer


def smoke(**overrides):
    return make_config("smoke", **{"dataset": "Beauty", **overrides})


def fit(cfg, dataset, checkpoint=None):
    return fit_trainer(cfg, dataset, checkpoint)[0]


def test_same_seed_same_metrics_on_the_smoke_profile(isolated_cache):
    cfg = smoke(epochs=3, patience=3)
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    first, second = fit(cfg, dataset), fit(cfg, dataset)
    assert first["test"] == second["test"] and first["history"][-1]["loss"] == second["history"][-1]["loss"]
    other = fit(smoke(epochs=3, patience=3, seed=2), dataset)
    assert other["history"][-1]["loss"] != first["history"][-1]["loss"]


def test_resume_after_a_kill_gives_the_same_result(isolated_cache, monkeypatch):
    cfg = smoke(epochs=4, patience=4, objective="bce")
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    uninterrupted = fit(cfg, dataset)
    checkpoint = isolated_cache / "run.pt"
    saves = {"n": 0}
    original_save = Trainer._save

    def save_then_die(self):
        original_save(self)
        saves["n"] += 1
        if saves["n"] == 2:
            raise KeyboardInterrupt  # the process is killed right after epoch 2 was checkpointed

    monkeypatch.setattr(Trainer, "_save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        fit(cfg, dataset, checkpoint)
    monkeypatch.setattr(Trainer, "_save", original_save)
    torch.manual_seed(12345)  # a fresh process: the global RNG state is not what it was
    resumed = fit(cfg, dataset, checkpoint)
    assert len(resumed["history"]) == 4
    assert resumed["test"] == uninterrupted["test"]
    assert [e["loss"] for e in resumed["history"]] == [e["loss"] for e in uninterrupted["history"]]


def test_test_items_never_influence_training_or_selection(synthetic_dir):
    cfg = make_config("smoke", dataset="Beauty", max_users=0, epochs=4, patience=4, d_model=8, batch_size=16)
    dataset = data.load("Beauty")
    # Same data except every user's test item (the last one) is replaced by another item.
    last = dataset.offsets[1:] - 1
    changed_items = dataset.items.copy()
    changed_items[last] = (changed_items[last] + 7) % dataset.n_items + 1
    changed = data.Dataset(dataset.name, changed_items, dataset.offsets, dataset.n_items, dataset.attr_items,
                           dataset.attr_offsets, dataset.n_attributes, dataset.checksum)
    a, b = fit(cfg, dataset), fit(cfg, changed)
    assert [e["loss"] for e in a["history"]] == [e["loss"] for e in b["history"]]
    assert [e["valid"] for e in a["history"]] == [e["valid"] for e in b["history"]]
    assert a["best_epoch"] == b["best_epoch"]


def test_early_stopping_keeps_the_best_validation_epoch(isolated_cache):
    cfg = smoke(epochs=6, patience=2, lr=0.05)
    result = fit(cfg, data.load(cfg.dataset).head(cfg.max_users))
    scores = [e["valid"][cfg.select_metric] for e in result["history"]]
    assert result["best_epoch"] == int(np.argmax(scores))  # first maximum: strict improvement only
    assert len(scores) == 6 or len(scores) - 1 - result["best_epoch"] == cfg.patience


def test_test_metrics_come_from_the_best_validation_checkpoint(isolated_cache, monkeypatch):
    import seqrec.train as train_module

    cfg = smoke(epochs=4, patience=4)
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    scripted = iter([0.3, 0.9, 0.1, 0.2])  # validation peaks at epoch 1
    states, real_evaluate = {}, train_module.evaluate

    def fake_evaluate(model, split, role, device, bf16=False, **switches):
        metrics = real_evaluate(model, split, role, device, bf16, **switches)
        if role == "valid":
            metrics["NDCG@20"] = next(scripted)
            states[len(states)] = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            states["tested"] = {k: v.clone() for k, v in model.state_dict().items()}
        return metrics

    monkeypatch.setattr(train_module, "evaluate", fake_evaluate)
    result = fit(cfg, dataset)
    assert result["best_epoch"] == 1
    assert all(torch.equal(states["tested"][k], states[1][k]) for k in states[1])
    assert not all(torch.equal(states["tested"][k], states[3][k]) for k in states[3])


def counting_training(monkeypatch) -> list:
    """Replace runs.train_record with a wrapper that logs each call's seed."""
    calls, real = [], runs.train_record

    def counted(cfg, *args, **kwargs):
        calls.append(cfg.seed)
        return real(cfg, *args, **kwargs)

    monkeypatch.setattr(runs, "train_record", counted)
    return calls


def test_force_retrains_once_and_otherwise_a_record_is_reused(isolated_cache, monkeypatch):
    results, cfg, calls = isolated_cache / "results", smoke(), counting_training(monkeypatch)
    first = runs.run(cfg, results, progress=False)
    reused = runs.run(cfg, results, progress=False)
    forced = runs.run(cfg, results, force=True, progress=False)
    assert calls == [1, 1] and reused == first
    assert forced["finished_at"] >= first["finished_at"] and forced["test"] == first["test"]
    assert len(runs.record_path(cfg, results).read_text().splitlines()) == 1  # replaced, not appended


def test_a_run_locked_by_another_process_waits_and_reuses_its_record(isolated_cache, monkeypatch):
    import fcntl
    import threading

    results, cfg = isolated_cache / "results", smoke(seed=5)
    record = runs.train_record(cfg, progress=False, results_dir=results)  # what the other process is about to write
    lock_path = runs.cache_dir() / "locks" / f"{runs.run_key(cfg)}.lock"
    lock_path.parent.mkdir(parents=True)
    calls = counting_training(monkeypatch)
    with open(lock_path, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        waiter = threading.Thread(target=lambda: calls.append(runs.run(cfg, results, progress=False)))
        waiter.start()
        waiter.join(timeout=1.0)
        assert waiter.is_alive(), "run() must wait while another process trains the run"
        runs.write_record(record, runs.record_path(cfg, results))
    waiter.join(timeout=30)
    assert calls == [record]  # not trained again: the other process's record came back


def test_a_killed_run_leaves_its_progress_and_a_finished_one_only_its_record(isolated_cache, monkeypatch):
    results, cfg = isolated_cache / "results", smoke(epochs=3, patience=3)
    original_save = Trainer._save

    def save_then_die(self):
        original_save(self)
        if self.epoch == 2:
            raise KeyboardInterrupt  # killed right after epoch 2 was checkpointed

    monkeypatch.setattr(Trainer, "_save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        runs.run(cfg, results, progress=False)
    progress = runs.find_progress(cfg, results)
    assert progress["epochs_run"] == 1  # the kill came before the second epoch's progress was kept
    assert [e["epoch"] for e in progress["history"]] == [0] and "NDCG@20" in progress["history"][0]["valid"]
    assert runs.find_record(cfg, results) is None and not list(results.rglob("*.jsonl"))  # pages see no record
    runs.progress_from_checkpoint(cfg, results)  # the checkpoint holds both epochs
    assert runs.find_progress(cfg, results)["epochs_run"] == 2
    assert runs.find_progress(smoke(epochs=3, patience=3, seed=2), results) is None
    monkeypatch.setattr(Trainer, "_save", original_save)
    record = runs.run(cfg, results, progress=False)  # resumes, finishes, and the progress file goes
    assert record["epochs_run"] == 3 and not runs.progress_path(cfg, results).exists()


def test_records_are_named_by_their_settings_and_start_with_the_summary(isolated_cache):
    results = isolated_cache / "results"
    assert runs.record_path(smoke(), results).name == f"Beauty-seed1-{runs.run_key(smoke())}.jsonl"
    cfg = smoke(bucket=False, lr=0.002)
    assert runs.record_path(cfg, results).name.startswith("Beauty-seed1-lr=0.002,bucket=False-")
    runs.run(cfg, results, progress=False)
    line = runs.record_path(cfg, results).read_text()
    assert line.index('"test"') < line.index('"config"') < line.index('"history"')
    assert json.loads(line)["settings"] == "lr=0.002,bucket=False"


def test_a_finished_run_is_reused_not_retrained(isolated_cache, monkeypatch):
    results = isolated_cache / "results"
    cfg = smoke()
    record = runs.run(cfg, results, progress=False)
    assert runs.record_path(cfg, results).exists()
    monkeypatch.setattr(runs, "train_record", lambda *a, **k: pytest.fail("trained twice"))
    assert runs.run(cfg, results) == record
    assert set(record) >= {"key", "config", "history", "best_epoch", "test", "seconds_per_epoch",
                           "peak_memory_mb", "device", "precision", "torch", "git_commit", "data_checksum"}
    assert set(record["test"]) == {f"{m}@{k}" for m in ("HR", "NDCG") for k in (5, 10, 20)} | {"tied_users"}


def test_corrupt_record_lines_are_reported_and_skipped(isolated_cache):
    results = isolated_cache / "results"
    record = runs.run(smoke(), results, progress=False)
    path = runs.record_path(smoke(), results)
    path.write_text(path.read_text() + '{"key": "truncated", "conf\n' + json.dumps({"key": "x"}) + "\n")
    with pytest.warns(UserWarning, match=r"line 2: corrupt run record skipped"):
        records = runs.load_records(results)
    assert records == [record]


def test_replayed_early_stopping_matches_every_committed_run():
    from seqrec.train import replay_early_stopping

    records = runs.load_records(runs.RESULTS_DIR / "cpu")
    assert len(records) >= 12
    for r in records:
        if r["config"]["objective"] == "s3rec":  # a pre-training stage: no validation, every epoch trained
            assert r["epochs_run"] == r["config"]["epochs"] and all(e["valid"] is None for e in r["history"])
            continue
        scores = [e["valid"][r["config"]["select_metric"]] for e in r["history"]]
        assert replay_early_stopping(scores, r["config"]["epochs"], r["config"]["patience"]) == \
            (r["best_epoch"], r["epochs_run"])
    assert replay_early_stopping([0.1, 0.3, 0.2, 0.2, 0.4], epochs=10, patience=2) == (1, 4)
    assert replay_early_stopping([0.1, 0.3, 0.2, 0.2, 0.4], epochs=3, patience=2) == (1, 3)


def test_changed_config_gets_a_new_key():
    assert runs.run_key(smoke()) != runs.run_key(smoke(lr=0.002))
    assert runs.run_key(smoke()) == runs.run_key(smoke())
    assert runs.run_key(smoke()) != runs.run_key(smoke(repeated_targets="rank"))
    assert runs.run_key(smoke()) != runs.run_key(smoke(ties="optimistic"))


def test_switches_added_later_keep_the_keys_of_earlier_records():
    # The committed Beauty seed-1 record was made before `ties` and `repeated_targets` existed.
    committed = runs.load_records(runs.RESULTS_DIR / "cpu" / "sasrec", "Beauty-seed1-*.jsonl")[0]
    assert runs.run_key(make_config("cpu", dataset="Beauty", seed=1)) == committed["key"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_it_is_one_clear_line():
    done = subprocess.run([sys.executable, "-m", "seqrec", "train", "--device", "cuda"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "CUDA is not available here" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args, message", [
    (["train", "--set", "epochs=-3"], "epochs=-3 must be at least 1"),
    (["train", "--set", "dropout=1.2"], "dropout=1.2 must be in [0, 1)"),
    (["train", "--set", "colour=red"], "unknown config key 'colour'"),
    (["train", "--dataset", "Amazon"], "unknown dataset 'Amazon'"),
    (["train", "--set", "seed=3"], "seed is set with --seed, not --set"),
    (["train", "--set", "lr=inf"], "lr=inf must be a positive number"),
    (["train", "--jobs", "0"], "--jobs >= 1"),
    (["bench", "--epochs", "0"], "--epochs=0 must be at least 1"),
    (["train", "--device", "gpu"], "unknown device 'gpu'"),
    (["train", "--device", "cuda:x"], "unknown device 'cuda:x'"),
    (["reproduce", "--chapter", "emkd9"], "unknown chapter 'emkd9'"),
    (["reproduce", "--hours", "-1"], "--hours must be a number > 0"),
    (["reproduce", "--hours", "nan"], "--hours must be a number > 0 (got nan)"),
])
def test_cli_errors_are_one_clear_line(args, message):
    done = subprocess.run([sys.executable, "-m", "seqrec", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("repeated_targets", ["miss", "rank"])
def test_evaluate_matches_a_brute_force_ranking_of_a_trained_model(isolated_cache, repeated_targets):
    from seqrec.train import evaluate
    from tests.unit.test_metrics import brute_force

    # Yelp has targets that repeat the history; max_len=8 leaves history beyond the model's input window.
    cfg = make_config("smoke", dataset="Yelp", max_len=8, epochs=1, patience=1, max_users=120,
                      repeated_targets=repeated_targets)
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    runs.seed_everything(cfg.seed)
    model = build_model(cfg, dataset.n_items)
    split = data.split(dataset, cfg.max_len)
    Trainer(cfg, split, model, torch.device("cpu"), progress=False).fit()
    model.eval()
    repeats = 0
    for role, cut in (("valid", 2), ("test", 1)):
        sequences = [dataset.sequence(u) for u in range(dataset.n_users)]
        history = [s[:len(s) - cut] for s in sequences]  # the whole input: for test it holds the valid item
        targets = [s[len(s) - cut] for s in sequences]
        with torch.no_grad():  # one user at a time, padded to max_len: no batching, no trimming
            scores = torch.stack([model.score(model.encode(torch.from_numpy(split.inputs(role)[u:u + 1]))[0, -1])
                                  for u in range(dataset.n_users)]).numpy()
        expected = brute_force(scores, targets, history, repeated_targets=repeated_targets)
        got = evaluate(model, split, role, torch.device("cpu"), repeated_targets=repeated_targets)
        repeats += sum(t in h for t, h in zip(targets, history))
        assert any(len(h) > cfg.max_len for h in history)
        for metric, value in expected.items():
            assert got[metric] == pytest.approx(value, abs=1e-6), (role, metric)
    assert repeats, "no target repeats its history: the repeated_targets rule was not exercised"


def test_a_training_fraction_removes_training_rows_only():
    """F2 of the SAMRec paper: less training data, the same validation and test inputs for every user."""
    from seqrec.objectives import TrainingRows

    split = data.split(data.load("Beauty").head(1000), 50)
    full = TrainingRows(split, np.random.default_rng(0), torch.device("cpu"), 1.0)
    part = TrainingRows(split, np.random.default_rng(0), torch.device("cpu"), 0.6)
    assert (part.lengths[600:] == 0).all() and (part.lengths[:600] == full.lengths[:600]).all()
    kept = np.concatenate(data.length_batches(part.lengths, 64, np.random.default_rng(0)))
    assert kept.max() < 600 and len(kept) == (full.lengths[:600] > 0).sum()
    # the normaliser is the kept users' mean number of target positions
    assert part.positions_per_user == pytest.approx((full.targets[:600] > 0).sum() / (full.lengths[:600] > 0).sum())
    cfg_full, cfg_part = smoke(), smoke(train_fraction=0.6)
    assert runs.run_key(cfg_full) != runs.run_key(cfg_part)
    assert "train_fraction=0.6" in runs.record_path(cfg_part).name


def test_history_keeps_each_loss_component():
    cfg = smoke(epochs=2, patience=2)
    result = fit(cfg, data.load(cfg.dataset).head(cfg.max_users))
    for entry in result["history"]:
        assert set(entry["losses"]) == {"next_item"}
        assert entry["loss"] == pytest.approx(sum(entry["losses"].values()))


def test_a_checkpoint_of_the_old_format_is_a_clear_error(isolated_cache):
    from seqrec.errors import TrainingError

    cfg = smoke()
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    checkpoint = isolated_cache / "old.pt"
    torch.save({"epoch": 3, "optimizer": {}, "model": {}}, checkpoint)
    trainer = Trainer(cfg, data.split(dataset, cfg.max_len), build_model(cfg, dataset.n_items), torch.device("cpu"),
                      checkpoint, progress=False)
    with pytest.raises(TrainingError, match="older than commit 384752c"):
        trainer.fit()


def test_bf16_is_autocast_only_where_it_is_native_and_the_record_says_which(isolated_cache, monkeypatch):
    from seqrec import train

    layer, x = torch.nn.Linear(4, 4), torch.ones(2, 4)
    cpu = torch.device("cpu")
    monkeypatch.setattr(train, "native_bf16", lambda device_type: True)
    with train.autocast(cpu, True):
        assert layer(x).dtype == torch.bfloat16
    assert train.precision(cpu, True) == "bf16 autocast" and train.precision(cpu, False) == "fp32"
    monkeypatch.setattr(train, "native_bf16", lambda device_type: False)
    with train.autocast(cpu, True):  # a fallback path ~45x slower than fp32: compute in fp32 instead
        assert layer(x).dtype == torch.float32
    record = runs.run(smoke(bf16=True), isolated_cache / "results", progress=False)
    assert record["precision"] == "fp32 (bf16 asked, not native here)"
    assert "fp32 (bf16 asked, not native here) from epoch 0" in record["provenance"][0]


@pytest.mark.parametrize("overrides", [
    dict(bucket=False),  # several passes per batch: several lookups of every table
    dict(objective="ce"),  # the item table is also the output layer: a dense gradient besides the lookups'
    dict(objective="s3rec", epochs=3),
    dict(contrast="cl4srec", bucket=False),
    dict(model="caser", objective="caser"),  # a user table
    dict(model="bert4rec", objective="cloze"),
    dict(model="gru4rec"),
    dict(update="sam"),  # two forward and backward passes per step
    dict(contrast="srma", bucket=False),
])
def test_pooled_lookup_gradients_equal_autograds_own(monkeypatch, overrides):
    from seqrec import train

    cfg = smoke(**overrides)
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    split = data.split(dataset, cfg.max_len)
    gradients, pooled_lookups = {}, []
    add = train.LookupGradientPool.add
    monkeypatch.setattr(train.LookupGradientPool, "add", lambda *a: pooled_lookups.append(1) or add(*a))
    for pooled in (False, True):
        monkeypatch.setattr(train, "POOLED_GRADIENT_MIN_ROWS", 1 if pooled else 10**9)  # 1: every table, positions too
        runs.seed_everything(cfg.seed)
        trainer = Trainer(cfg, split, build_model(cfg, dataset.n_items, dataset.n_users), torch.device("cpu"),
                          progress=False)
        trainer.train_batches(trainer.epoch_batches()[:1])
        assert bool(pooled_lookups) == pooled  # the pooled step did go through the pool, the other did not
        named = [*trainer.model.named_parameters(), *trainer.objective.named_parameters(prefix="objective")]
        gradients[pooled] = {name: p.grad for name, p in named}
        if pooled:  # the step ends with nn.Embedding's own forward back, and the padding rows without gradient
            tables = [m for m in trainer.model.modules() if isinstance(m, torch.nn.Embedding)]
            assert tables and all("forward" not in vars(m) for m in tables)
            for table in tables:
                if table.padding_idx is not None:
                    assert not table.weight.grad[table.padding_idx].any()
    assert gradients[True].keys() == gradients[False].keys()
    for name, dense in gradients[False].items():
        if dense is None:
            assert gradients[True][name] is None, name
        else:
            torch.testing.assert_close(gradients[True][name], dense, rtol=1e-5, atol=1e-7, msg=name)
