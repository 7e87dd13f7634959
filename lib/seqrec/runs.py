"""Run records: a Config -> one JSON line in results/, trained at most once.

A record's key hashes the full config and the data files' checksums, so a changed setting or a
changed data file never reuses an old result. Records live in
``results/<profile>/<method>/<dataset>-seed<seed>[-<settings>]-<key>.jsonl``, where ``<method>`` is the
method's name in lower case (``sasrec``, ``samrec``, ``cl4srec-sam``) and ``<settings>`` names the fields that
differ from the profile's defaults (``bucket=False``, ``sam.rho=0.5``). ``run(cfg)`` returns the stored record
when one exists and trains only otherwise; a per-key file lock makes a second process wait for the first
and then reuse its record. results/README.md describes the fields; the queue over many runs is seqrec.queue.
"""
from __future__ import annotations

import dataclasses
import functools
import fcntl
import hashlib
import io
import json
import lzma
import os
import platform
import random
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import data
from .config import (PRETRAIN_EPOCHS, RUN_IDENTITY, Config, SRMAConfig, as_dict, flat_items, live_groups,
                     make_config, method_name)
from .errors import TrainingError
from .models import build_model
from .objectives import build_objective
from .train import Trainer, precision, resolve_device

RESULTS_DIR = data.PROJECT_ROOT / "results"
# Part of every run key. Bump it when a change to the code changes what a run computes (not merely how
# fast), so that records made before the change are never reused for the new code.
#   1: batch losses summed over positions / (B x mean positions per user), not averaged per batch
RESULTS_VERSION = 1
# Config fields added after records existed, each with the value under which those records were made (ties:
# "expected" differs from the old target-wins rule only for the few users whose target ties; a re-trained
# committed run kept its selected epoch and test metrics, see the protocol switches page). A field at that
# value is left out of the key, so adding a switch keeps the records. A group's field goes by its dotted name
# (``srma.inference_layers``). Never change these values.
KEY_NEUTRAL = {"ties": "expected", "repeated_targets": "miss", "train_fraction": 1.0, "update": "plain",
               "contrast": "none", "pretrain": "none", "srma.inference_layers": "all"}
REQUIRED_FIELDS = ("key", "config", "test", "valid", "best_epoch", "history")


def cache_dir() -> Path:
    """Checkpoints and locks (not committed); ``SEQREC_CACHE`` moves them."""
    return Path(os.environ.get("SEQREC_CACHE", data.PROJECT_ROOT / ".cache"))


def run_key(cfg: Config) -> str:
    """Hash of the settings, the data checksum and RESULTS_VERSION; a group (``sam``) counts only when switched on."""
    payload = _keyed_settings(cfg) + data.expected_checksum(cfg.dataset) + f"v{RESULTS_VERSION}"
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# Configs are frozen, so what is derived from their fields (and the module tables KEY_NEUTRAL and the profiles'
# defaults, which nothing changes at run time) is cached: the ledger and the chapters look up the same few hundred
# runs many times. The data checksum is not cached: SEQREC_DATA may move between calls.
@functools.lru_cache(maxsize=4096)
def _keyed_settings(cfg: Config) -> str:
    """The settings that enter the run key, as canonical JSON."""
    live, fields = live_groups(cfg), {}
    for name, value in as_dict(cfg).items():
        if isinstance(value, dict):
            if name in live:
                fields[name] = {k: v for k, v in value.items() if KEY_NEUTRAL.get(f"{name}.{k}", object()) != v}
        elif KEY_NEUTRAL.get(name, object()) != value:
            fields[name] = value
    return json.dumps(fields, sort_keys=True)


@functools.lru_cache(maxsize=4096)
def settings_label(cfg: Config) -> str:
    """The fields that differ from the profile's defaults, e.g. ``bucket=False,lr=0.002`` ('' for none)."""
    defaults = flat_items(make_config(cfg.profile, **{k: getattr(cfg, k) for k in RUN_IDENTITY if k != "profile"}))
    return ",".join(f"{k}={v}" for k, v in flat_items(cfg).items() if v != defaults[k])


def method_dir(cfg: Config) -> str:
    return method_name(cfg).lower().replace("+", "-")


def record_path(cfg: Config, results_dir: Path = RESULTS_DIR) -> Path:
    label = settings_label(cfg)
    name = f"{cfg.dataset}-seed{cfg.seed}{'-' + label if label else ''}-{run_key(cfg)}.jsonl"
    return Path(results_dir) / cfg.profile / method_dir(cfg) / name


def weights_path(cfg: Config, results_dir: Path = RESULTS_DIR) -> Path:
    """Where a run's selected weights are committed (stages: S3Rec pre-training, SRMA complements; models that
    analyses load)."""
    return record_path(cfg, results_dir).with_suffix(".pt.xz")


def _save_xz(obj, path: Path) -> None:
    """``obj`` as an xz-compressed torch file, written atomically."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(lzma.compress(buffer.getvalue(), preset=6))
    os.replace(partial, path)


def save_weights(state: dict, path: Path) -> None:
    """``state`` (a state dict) as an xz-compressed torch file, written atomically."""
    _save_xz({k: v.detach().cpu() for k, v in state.items()}, path)


def load_weights(path: Path) -> dict:
    return torch.load(io.BytesIO(lzma.decompress(Path(path).read_bytes())), map_location="cpu", weights_only=True)


# Fields a pre-training run takes from the run that fine-tunes from it (its architecture and data); the rest are
# the pre-training's own (objective, epochs, batch size, seed from the s3rec group).
STAGE_SHARED = ("model", "dataset", "profile", "d_model", "n_layers", "n_heads", "dropout", "attn_dropout", "max_len",
                "lr", "weight_decay", "bf16", "max_users", "train_fraction", "s3rec")


def pretraining_config(cfg: Config) -> Config | None:
    """The pre-training run whose final weights ``cfg`` starts from (None when it starts from scratch)."""
    if cfg.pretrain == "none":
        return None
    shared = {k: getattr(cfg, k) for k in STAGE_SHARED if k != "profile"}
    # 0: the README's epoch, never more than the run's own epoch budget (the smoke profile pre-trains 2 epochs)
    epochs = cfg.s3rec.epochs or min(PRETRAIN_EPOCHS.get(cfg.dataset, 100), cfg.epochs)
    # random batches of prefixes, as the original (computed in trimmed passes): its losses are sums over the batch,
    # so batches of equal-length prefixes would give steps of another size
    return make_config(cfg.profile, **{**shared, "objective": "s3rec", "seed": cfg.s3rec.seed, "epochs": epochs,
                                       "patience": epochs, "batch_size": cfg.s3rec.batch_size, "bucket": False})


# Fields a complement run (SRMA's encoder complementing) takes from the SRMA run it serves: data, width and budget.
# The rest are the complement model's profile defaults (the SASRec family's), one layer, seed srma.complement_seed.
COMPLEMENT_SHARED = ("dataset", "d_model", "max_len", "lr", "weight_decay", "bf16", "max_users", "train_fraction",
                     "epochs", "patience", "batch_size")


def complement_config(cfg: Config) -> Config | None:
    """The run whose final weights are ``cfg``'s frozen complement encoder (None without encoder complementing).

    "transformer" and "gru" (the paper): a 1-layer SASRec or GRU4Rec trained on next-item BCE, a run of its own.
    "srma" (the code, README step 1): the same SRMA run without complement and without --rec_model_aug.
    """
    if cfg.contrast != "srma" or cfg.srma.complement == "none":
        return None
    seed = cfg.srma.complement_seed
    if cfg.srma.complement == "srma":
        defaults = SRMAConfig()
        step1 = dataclasses.replace(cfg.srma, complement="none", rec_layers=False, gamma=defaults.gamma,
                                    complement_seed=defaults.complement_seed)
        return dataclasses.replace(cfg, seed=seed, srma=step1)
    shared = {k: getattr(cfg, k) for k in COMPLEMENT_SHARED}
    if cfg.srma.complement == "transformer":
        return make_config(cfg.profile, **shared, model="sasrec", n_layers=1, n_heads=cfg.n_heads, seed=seed)
    return make_config(cfg.profile, **shared, model="gru4rec", n_layers=1, seed=seed)


def stage_config(cfg: Config) -> Config | None:
    """The one run ``cfg`` needs first (trained once, found by key, its weights committed): S3Rec's pre-training,
    whose weights the run starts from, or SRMA's complement, whose weights a frozen encoder holds."""
    return pretraining_config(cfg) or complement_config(cfg)


def load_records(results_dir: Path = RESULTS_DIR, pattern: str = "**/*.jsonl") -> list[dict]:
    """Every valid record below ``results_dir``; corrupt or partial lines are reported and skipped."""
    records = []
    for path in sorted(Path(results_dir).glob(pattern)):
        text = path.read_bytes().decode("utf-8", errors="replace")  # a bad byte spoils one line, not the file
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError(f"a JSON {type(record).__name__}, not an object")
                missing = [f for f in REQUIRED_FIELDS if f not in record]
                if missing:
                    raise ValueError(f"missing fields {missing}")
            except ValueError as err:
                warnings.warn(f"{path}, line {line_no}: corrupt run record skipped ({err})", stacklevel=2)
                continue
            records.append(record)
    return records


def find_record(cfg: Config, results_dir: Path = RESULTS_DIR) -> dict | None:
    path = record_path(cfg, results_dir)
    if not path.exists():
        return None
    key = run_key(cfg)
    matches = [r for r in load_records(path.parent, path.name) if r["key"] == key]
    return matches[-1] if matches else None


def progress_path(cfg: Config, results_dir: Path = RESULTS_DIR) -> Path:
    """Where an unfinished run's progress is kept (``write_progress``): beside its record-to-be."""
    return record_path(cfg, results_dir).with_suffix(".progress.json")


def write_progress(cfg: Config, state: dict, results_dir: Path = RESULTS_DIR) -> Path:
    """Keep an unfinished run's epochs so far (validation metrics and times per epoch, the best epoch) for pages
    that show runs in progress; ``state`` is a checkpoint's (``epoch``, ``history``, ``best_epoch``,
    ``provenance``). ``run`` removes the file once the run's record is written."""
    path = progress_path(cfg, results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    progress = {"key": run_key(cfg), "method": method_name(cfg), "dataset": cfg.dataset, "seed": cfg.seed,
                "profile": cfg.profile, "settings": settings_label(cfg), "epochs_run": state["epoch"],
                "best_epoch": state["best_epoch"], "provenance": state["provenance"], "config": as_dict(cfg),
                "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "history": state["history"]}
    temporary = path.with_suffix(".partial")
    temporary.write_text(json.dumps(progress) + "\n")
    os.replace(temporary, path)
    return path


def progress_from_checkpoint(cfg: Config, results_dir: Path = RESULTS_DIR) -> Path | None:
    """``write_progress`` from the run's checkpoint in the cache (a run trained by code that did not keep its
    progress); None when there is no checkpoint."""
    checkpoint = checkpoint_path(cfg)
    if not checkpoint.exists():
        return None
    return write_progress(cfg, torch.load(checkpoint, map_location="cpu", weights_only=False), results_dir)


def find_progress(cfg: Config, results_dir: Path = RESULTS_DIR) -> dict | None:
    """An unfinished run's kept progress (``write_progress``), if it is of this run's current key and the run has
    no record yet (a record trained elsewhere can arrive without the progress file going)."""
    path = progress_path(cfg, results_dir)
    if not path.exists() or record_path(cfg, results_dir).exists():
        return None
    progress = json.loads(path.read_text())
    return progress if progress.get("key") == run_key(cfg) else None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def git_commit() -> str:
    """HEAD (with -dirty if lib/ has changes); ``SEQREC_GIT_COMMIT`` names it where the copy has no .git."""
    if os.environ.get("SEQREC_GIT_COMMIT"):
        return os.environ["SEQREC_GIT_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=data.PROJECT_ROOT, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lib"], cwd=data.PROJECT_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def checkpoint_path(cfg: Config) -> Path:
    """Where a run's checkpoint lives while it trains (cache: a new machine starts without it)."""
    return cache_dir() / "checkpoints" / f"{run_key(cfg)}.pt"


def parked_checkpoint_path(cfg: Config, results_dir: Path = RESULTS_DIR) -> Path:
    """Where ``park`` keeps an unfinished pre-training's checkpoint between machines: beside its record-to-be."""
    return record_path(cfg, results_dir).with_suffix(".checkpoint.pt.xz")


def park(cfg: Config, results_dir: Path = RESULTS_DIR) -> Path | None:
    """Keep the cache checkpoint of an unfinished pre-training in ``results_dir`` (xz-compressed, to commit), so that
    a later session on a new machine resumes it: a pre-training takes 2-4 hours on one core, longer than a session,
    and the cache does not outlive the machine. Other runs fit in a session and are never parked (the repository
    keeps weights only where a later step needs them). None when there is nothing to park."""
    if cfg.objective != "s3rec":
        raise TrainingError(f"only pre-training runs are parked ({run_key(cfg)} is a {method_name(cfg)} run)")
    checkpoint, path = checkpoint_path(cfg), parked_checkpoint_path(cfg, results_dir)
    if not checkpoint.exists() or find_record(cfg, results_dir):
        return None
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    # A pre-training selects its last epoch, so its best state is the model's own: kept once (a quarter less to commit)
    model, best = state["model"], state["best_state"]
    if best is not None and best.keys() == model.keys() and all(torch.equal(best[k], model[k]) for k in model):
        state["best_state"] = "model"
    _save_xz(state, path)
    if find_record(cfg, results_dir):  # the run finished while this was written: run() had nothing to delete yet
        path.unlink(missing_ok=True)
        return None
    return path


def unpark(cfg: Config, results_dir: Path = RESULTS_DIR) -> bool:
    """Put a parked checkpoint (``park``) into the cache unless the cache holds as many epochs already (a cache that
    outlives the machine); True if it did."""
    parked, checkpoint = parked_checkpoint_path(cfg, results_dir), checkpoint_path(cfg)
    if not parked.exists():
        return False
    try:
        state = _load_parked(parked)
    except Exception as error:  # noqa: BLE001 -- lzma, pickle and key errors alike: the file is not a checkpoint
        raise TrainingError(f"{parked} is not a readable parked checkpoint ({type(error).__name__}: {error}); "
                            f"delete it (git rm) to train the run from its start") from error
    if checkpoint.exists() and _checkpoint_epoch(checkpoint) >= state["epoch"]:
        return False
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    partial = checkpoint.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, checkpoint)
    return True


def _resumable(path: Path, load: Callable[[Path], dict]) -> dict | None:
    """The checkpoint at ``path`` as ``load`` reads it, or None when the Trainer would not resume from it
    (missing, unreadable, half-written, or older than the update-rule state)."""
    if not path.exists():
        return None
    try:
        state = load(path)
    except Exception:  # noqa: BLE001 -- torch raises pickle, zip, lzma and OS errors alike: nothing to resume from
        return None
    return state if "update" in state else None


def _load_cached(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def _checkpoint_epoch(path: Path) -> int:
    """The epochs a cache checkpoint holds; -1 when the Trainer would not resume from it."""
    state = _resumable(path, _load_cached)
    return -1 if state is None else state["epoch"]


def _load_parked(path: Path) -> dict:
    state = torch.load(io.BytesIO(lzma.decompress(path.read_bytes())), map_location="cpu", weights_only=False)
    if state["best_state"] == "model":
        state["best_state"] = state["model"]  # never trained in place: the Trainer copies it into the model
    return state


def park_unfinished(results_dir: Path = RESULTS_DIR) -> list[Path]:
    """``park`` every unfinished pre-training in ``results_dir`` (one with a progress file) whose checkpoint is in
    this machine's cache, and delete parked files of runs that have finished; the parked files, to commit with the
    progress files. A run that cannot be parked is warned about and the others are still parked."""
    parked = []
    for stale in Path(results_dir).glob("**/*.checkpoint.pt.xz"):
        if stale.with_name(stale.name.removesuffix(".checkpoint.pt.xz") + ".jsonl").exists():
            stale.unlink()
    for progress in sorted(Path(results_dir).glob("**/*.progress.json")):
        try:
            kept = json.loads(progress.read_text())
            if kept["config"].get("objective") != "s3rec":
                continue
            cfg = make_config(kept["profile"], **{k: v for k, v in kept["config"].items() if k != "profile"})
            if run_key(cfg) == kept["key"] and (path := park(cfg, results_dir)):
                parked.append(path)
        except FileNotFoundError:  # the run finished meanwhile and its progress file went
            continue
        except Exception as error:  # noqa: BLE001 -- one bad run must not keep the others from being parked
            warnings.warn(f"{progress.name}: not parked ({type(error).__name__}: {error})", stacklevel=2)
    return parked


def checkpoint_seconds(cfg: Config, results_dir: Path = RESULTS_DIR) -> float:
    """Seconds of training and validation that the run's checkpoint already holds: the cache's or the parked one
    (``park``), whichever holds more, as ``unpark`` chooses; 0 without one the Trainer would resume from."""
    states = (_resumable(checkpoint_path(cfg), _load_cached),
              _resumable(parked_checkpoint_path(cfg, results_dir), _load_parked))
    return max([0.0] + [float(sum(e["train_seconds"] + e["eval_seconds"] for e in state["history"]))
                        for state in states if state is not None])


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's architecture, vector instructions (torch's CPU capability: AVX2, AVX512; the
    machines lent differ, and with them the speed of an epoch) and torch threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    arch = platform.processor() or platform.machine()
    return f"cpu ({arch}, {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads)"


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; process peak


def train_record(cfg: Config, device: str = "auto", progress: bool = True,
                 on_epoch: Callable[[dict], None] | None = None, results_dir: Path = RESULTS_DIR) -> dict:
    """Train one run (resuming from its checkpoint if one exists) and build its record."""
    started, commit = time.time(), git_commit()  # the code as it was when training started
    key, torch_device = run_key(cfg), resolve_device(device)
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    seed_everything(cfg.seed)
    model = build_model(cfg, dataset.n_items, dataset.n_users)
    parent, objective = stage_config(cfg), None
    if parent is not None:  # the stage's record and weights exist: run() trains stages in order
        stage_weights = weights_path(parent, results_dir)
        if not stage_weights.exists():
            raise TrainingError(f"{record_path(parent, results_dir).name} has a record but no weights file "
                                f"{stage_weights.name} (trained on another machine?): copy it there, or retrain "
                                f"the stage with --force")
        if cfg.pretrain != "none":
            model.load_state_dict(load_weights(stage_weights))
        else:  # SRMA's frozen complement encoder
            complement = build_model(parent, dataset.n_items, dataset.n_users)
            complement.load_state_dict(load_weights(stage_weights))
            objective = build_objective(cfg, dataset)
            objective.set_complement(complement)
    checkpoint = checkpoint_path(cfg)

    def epoch_done(entry: dict) -> None:  # the run's progress so far, for pages that show unfinished runs
        try:
            write_progress(cfg, {"epoch": trainer.epoch, "history": trainer.history,
                                 "best_epoch": trainer.best_epoch, "provenance": trainer.provenance}, results_dir)
        except OSError as error:  # a page's convenience: never worth a run
            warnings.warn(f"{progress_path(cfg, results_dir)}: progress not kept ({error})", stacklevel=2)
        if on_epoch is not None:
            on_epoch(entry)

    trainer = Trainer(cfg, data.split(dataset, cfg.max_len), model, torch_device, checkpoint, progress,
                      objective=objective, on_epoch=epoch_done)
    computed_in = precision(torch_device, cfg.bf16)
    result = trainer.fit(provenance=f"commit {commit}, torch {torch.__version__}, {device_name(torch_device)}, "
                                    f"{computed_in}")
    # Fine-tuning runs start from a pre-training's weights: those are committed. Every run's selected weights also
    # stay in the cache, for analyses (loss landscapes) to load or commit (keep_weights).
    weights = result.pop("weights")
    save_weights(weights, weights_path(cfg, results_dir) if cfg.objective == "s3rec" else cached_weights_path(cfg))
    epochs = result["history"]
    return {
        "key": key, "results_version": RESULTS_VERSION, "config": as_dict(cfg), "seed": cfg.seed, "profile": cfg.profile,
        "model": cfg.model, "method": method_name(cfg), "dataset": cfg.dataset, "settings": settings_label(cfg),
        "data_checksum": data.expected_checksum(cfg.dataset), **result,
        "initialized_from": None if parent is None or cfg.pretrain == "none" else run_key(parent),
        "complemented_by": None if parent is None or cfg.pretrain != "none" else run_key(parent),
        "epochs_run": len(epochs),
        "seconds_per_epoch": float(np.mean([e["train_seconds"] for e in epochs])),
        "seconds_per_eval": float(np.mean([e["eval_seconds"] for e in epochs])),
        "train_seconds": float(sum(e["train_seconds"] + e["eval_seconds"] for e in epochs)),
        "session_seconds": time.time() - started,  # this process only; a resumed run counts from its resume
        "peak_memory_mb": peak_memory_mb(torch_device), "device": device_name(torch_device), "precision": computed_in,
        "torch": torch.__version__, "python": sys.version.split()[0], "git_commit": commit,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def run(cfg: Config, results_dir: Path = RESULTS_DIR, force: bool = False, device: str = "auto",
        progress: bool = True, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """The record of ``cfg``: the stored one, or a freshly trained one (``force`` retrains).

    While another process trains the same run (it holds the run's lock), this one waits and then returns
    that process's record; if that process died, this one resumes the run from its last checkpoint.
    ``on_epoch`` is called with each epoch's history entry (the queue's progress display).
    """
    if not force and (record := find_record(cfg, results_dir)):
        return record
    if (parent := stage_config(cfg)) is not None:
        run(parent, results_dir, device=device, progress=progress)  # reused when it exists; never forced
        if not weights_path(parent, results_dir).exists() and cached_weights_path(parent).exists():
            keep_weights(parent, results_dir)  # a stage's weights are committed (a complement run's were cached)
    lock_path = cache_dir() / "locks" / f"{run_key(cfg)}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released by the OS when a holder dies
        if not force and (record := find_record(cfg, results_dir)):  # finished while we waited
            return record
        if force:
            checkpoint_path(cfg).unlink(missing_ok=True)
            parked_checkpoint_path(cfg, results_dir).unlink(missing_ok=True)
        unpark(cfg, results_dir)
        record = train_record(cfg, device, progress, on_epoch, results_dir)
        write_record(record, record_path(cfg, results_dir))
        progress_path(cfg, results_dir).unlink(missing_ok=True)
        parked_checkpoint_path(cfg, results_dir).unlink(missing_ok=True)
        return record


def cached_weights_path(cfg: Config) -> Path:
    return cache_dir() / "weights" / f"{run_key(cfg)}.pt.xz"


def keep_weights(cfg: Config, results_dir: Path = RESULTS_DIR) -> Path:
    """Commit a finished run's weights beside its record (for analyses a fresh clone must be able to redo)."""
    target = weights_path(cfg, results_dir)
    if not target.exists():
        source = cached_weights_path(cfg)
        if not source.exists():
            raise FileNotFoundError(f"no weights of {record_path(cfg, results_dir).name} here: they are kept only "
                                    f"in the cache of the machine that trained it; retrain it with --force")
        target.write_bytes(source.read_bytes())
    return target


def model_weights(cfg: Config, results_dir: Path = RESULTS_DIR) -> dict:
    """A finished run's selected weights: committed ones first, else this machine's cache."""
    for path in (weights_path(cfg, results_dir), cached_weights_path(cfg)):
        if path.exists():
            return load_weights(path)
    raise FileNotFoundError(f"no weights of {record_path(cfg, results_dir).name}: train it here first")


# A record's fields in the order they are written: the summary a reader looks for first, the per-epoch
# history last (results/README.md describes each field).
SUMMARY_FIELDS = ("method", "model", "dataset", "seed", "profile", "settings", "test", "valid", "best_epoch", "epochs_run",
                  "stopped_early", "train_seconds", "seconds_per_epoch", "seconds_per_eval", "device", "key")


def write_record(record: dict, path: Path) -> None:
    """Write ``record`` as one JSON line, summary first, history last (atomically)."""
    ordered = {k: record[k] for k in SUMMARY_FIELDS if k in record}
    ordered.update(sorted((k, v) for k, v in record.items() if k not in ordered and k != "history"))
    ordered["history"] = record["history"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(ordered) + "\n")
    os.replace(partial, path)


def collect(cfgs: list[Config], results_dir: Path = RESULTS_DIR, train_missing: bool = False,
            device: str = "auto") -> list[dict | None]:
    """Records for ``cfgs`` in order; a missing one is trained if ``train_missing``, else None."""
    if train_missing:
        return [run(c, results_dir, device=device, progress=False) for c in cfgs]
    return [find_record(c, results_dir) for c in cfgs]
