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


def smoke(**overrides):
    return make_config("smoke", **{"dataset": "Beauty", **overrides})


def fit(cfg, dataset, checkpoint=None):
    runs.seed_everything(cfg.seed)
    model = build_model(cfg, dataset.n_items)
    return Trainer(cfg, data.split(dataset, cfg.max_len), model, torch.device("cpu"), checkpoint, progress=False).fit()


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


def test_force_retrains_and_a_locked_run_is_left_alone(isolated_cache, monkeypatch):
    import fcntl

    results, cfg = isolated_cache / "results", smoke()
    first = runs.run(cfg, results, progress=False)
    again = runs.run(cfg, results, force=True, progress=False)
    assert again["finished_at"] >= first["finished_at"] and again["test"] == first["test"]
    lock = runs.cache_dir() / "locks" / f"{runs.run_key(smoke(seed=5))}.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        monkeypatch.setattr(runs, "train_record", lambda *a, **k: pytest.fail("trained a locked run"))
        assert runs.run(smoke(seed=5), results) is None


def test_a_finished_run_is_reused_not_retrained(isolated_cache, monkeypatch):
    results = isolated_cache / "results"
    cfg = smoke()
    record = runs.run(cfg, results, progress=False)
    assert runs.record_path(cfg, results).exists()
    monkeypatch.setattr(runs, "train_record", lambda *a, **k: pytest.fail("trained twice"))
    assert runs.run(cfg, results) == record
    assert set(record) >= {"key", "config", "history", "best_epoch", "test", "seconds_per_epoch",
                           "peak_memory_mb", "device", "torch", "git_commit", "data_checksum"}
    assert set(record["test"]) == {f"{m}@{k}" for m in ("HR", "NDCG") for k in (5, 10, 20)} | {"tied_users"}


def test_corrupt_record_lines_are_reported_and_skipped(isolated_cache):
    results = isolated_cache / "results"
    record = runs.run(smoke(), results, progress=False)
    path = runs.record_path(smoke(), results)
    path.write_text(path.read_text() + '{"key": "truncated", "conf\n' + json.dumps({"key": "x"}) + "\n")
    with pytest.warns(UserWarning, match=r"line 2: corrupt run record skipped"):
        records = runs.load_records(results)
    assert records == [record]


def test_changed_config_gets_a_new_key():
    assert runs.run_key(smoke()) != runs.run_key(smoke(lr=0.002))
    assert runs.run_key(smoke()) == runs.run_key(smoke())
    assert runs.run_key(smoke()) != runs.run_key(smoke(repeated_targets="rank"))
    assert runs.run_key(smoke()) != runs.run_key(smoke(ties="optimistic"))


def test_switches_added_later_keep_the_keys_of_earlier_records():
    # The committed Beauty seed-1 record was made before `ties` and `repeated_targets` existed.
    committed = runs.load_records(runs.RESULTS_DIR / "cpu" / "sasrec", "Beauty-seed1-*.jsonl")[0]
    assert runs.run_key(make_config("cpu", dataset="Beauty", seed=1)) == committed["key"]


@pytest.mark.parametrize("args, message", [
    (["train", "--set", "epochs=-3"], "epochs=-3 must be at least 1"),
    (["train", "--set", "dropout=1.2"], "dropout=1.2 must be in [0, 1)"),
    (["train", "--set", "colour=red"], "unknown config key 'colour'"),
    (["train", "--dataset", "Amazon"], "unknown dataset 'Amazon'"),
    (["train", "--set", "seed=3"], "seed is set with --seed, not --set"),
    (["train", "--set", "lr=inf"], "lr=inf must be a positive number"),
    (["train", "--jobs", "0"], "--jobs >= 1"),
    (["bench", "--epochs", "0"], "--epochs=0 must be at least 1"),
])
def test_cli_errors_are_one_clear_line(args, message):
    done = subprocess.run([sys.executable, "-m", "seqrec", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
