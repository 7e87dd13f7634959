"""``python -m seqrec bench``: training and evaluation speed of SASRec on one dataset, on this machine.

Times whole epochs exactly as the Trainer runs them (one warm-up epoch first), the full-ranking
evaluation of every user, and the process's peak memory. ``bce_random_batches`` trains on the original
code's random batches (``bucket=False``, computed in trimmed passes since commit 019504a); records made before
that commit hold ``bce_fixed_length`` instead: the same batches, each padded to max_len (the "before" of the
padding-trimming work).
"""
from __future__ import annotations

import json
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import torch

from . import data, runs
from .config import make_config
from .models import build_model
from .train import Trainer, evaluate, resolve_device

VARIANTS = {  # name -> config overrides
    "bce": dict(objective="bce"),
    "bce_random_batches": dict(objective="bce", bucket=False),  # the original's batches, in trimmed passes
    "bce_bf16": dict(objective="bce", bf16=True),
    "ce": dict(objective="ce"),
}


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _epoch_seconds(split: data.Split, overrides: dict, epochs: int, device: torch.device) -> tuple[float, float]:
    cfg = make_config("cpu", dataset=split.dataset.name, **overrides)
    runs.seed_everything(0)
    trainer = Trainer(cfg, split, build_model(cfg, split.dataset.n_items), device, progress=False)
    trainer.train_epoch()  # warm-up
    times, losses = [], []
    for _ in range(epochs):
        started = time.perf_counter()
        losses.append(trainer.train_epoch())
        times.append(time.perf_counter() - started)
    return float(np.median(times)), losses[-1]


def _epoch_with_validation_seconds(dataset: str, threads: int, epochs: int) -> float:
    """Median seconds of one training epoch plus its validation, with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    split = data.split(data.load(dataset), 50)
    cfg = make_config("cpu", dataset=dataset)
    runs.seed_everything(0)
    trainer = Trainer(cfg, split, build_model(cfg, split.dataset.n_items), torch.device("cpu"), progress=False)
    trainer.train_epoch()  # warm-up
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        trainer.train_epoch()
        evaluate(trainer.model, split, "valid", torch.device("cpu"))
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def throughput(dataset: str, epochs: int) -> dict:
    """Epochs per hour of the whole machine: one run with all cores, or one single-threaded run per core."""
    cores = torch.get_num_threads()
    one = _epoch_with_validation_seconds(dataset, cores, epochs)
    with ProcessPoolExecutor(max_workers=cores, mp_context=get_context("spawn")) as pool:
        side_by_side = list(pool.map(_epoch_with_validation_seconds, [dataset] * cores, [1] * cores, [epochs] * cores))
    torch.set_num_threads(cores)
    return {"epochs_per_hour_one_run_all_threads": round(3600 / one),
            "epochs_per_hour_one_run_per_core": round(sum(3600 / s for s in side_by_side)),
            "cores": cores}


def run_bench(dataset: str = "Beauty", epochs: int = 3, save: bool = False, parallel: bool = False) -> dict:
    device = resolve_device("auto")
    split = data.split(data.load(dataset), 50)
    result = {"dataset": dataset, "users": split.dataset.n_users, "items": split.dataset.n_items,
              "device": runs.device_name(device), "cpu": _cpu_name(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "git_commit": runs.git_commit(), "epochs_timed": epochs}
    for name, overrides in VARIANTS.items():
        seconds, loss = _epoch_seconds(split, overrides, epochs, device)
        result[f"train_epoch_seconds_{name}"] = round(seconds, 3)
    model = build_model(make_config("cpu", dataset=dataset), split.dataset.n_items).to(device)
    evaluate(model, split, "test", device)  # warm-up
    times = []
    for _ in range(3):
        started = time.perf_counter()
        evaluate(model, split, "test", device)
        times.append(time.perf_counter() - started)
    result["full_evaluation_seconds"] = round(float(np.median(times)), 3)
    result["peak_memory_mb"] = round(runs.peak_memory_mb(device), 1)  # before the side-by-side processes
    if parallel and device.type == "cpu":
        result.update(throughput(dataset, epochs))
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if save:
        path = runs.RESULTS_DIR / "bench" / f"sasrec-{dataset}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1) + "\n")
    return result
