"""``python -m seqrec bench``: seconds per training epoch of every method the chapters train, on one dataset and
this machine, the full-ranking evaluation of every user, and the process's peak memory.

Epochs run exactly as the Trainer runs them, after a few warm-up steps (a process's first steps are slow). Cheap
variants are timed over whole epochs; the expensive ones (SAMPLED) over a random sample of an epoch's batches,
scaled to the epoch. ``bce_random_batches`` trains on the original code's random batches (``bucket=False``,
computed in trimmed passes since commit 019504a); records made before that commit hold ``bce_fixed_length``
instead: the same batches, each padded to max_len (the "before" of the padding-trimming work). Records are
named by dataset and CPU: sessions run on different machines.
"""
from __future__ import annotations

import functools
import json
import platform
import re
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from . import data, runs
from .config import Config, make_config, original_settings
from .errors import ConfigError
from .models import build_model
from .train import Trainer, evaluate, native_bf16, resolve_device

VARIANTS = {  # name -> config overrides; every method the chapters train, on the cpu profile's settings
    "bce": dict(objective="bce"),  # SASRec
    "bce_random_batches": dict(objective="bce", bucket=False),  # the original's batches, in trimmed passes
    "bce_bf16": dict(objective="bce", bf16=True),
    "ce": dict(objective="ce"),
    "sam": dict(update="sam"),  # SAMRec: two forward-backward passes per step
    "looksam": dict(update="sam", sam=dict(period=5)),  # one ascent every 5 steps
    "cl4srec_flat": dict(contrast="cl4srec", bucket=False),  # views: full-width passes (the family's representation)
    "cl4srec_flat_bf16": dict(contrast="cl4srec", bucket=False, bf16=True),
    "cl4srec_real_slots": dict(contrast="cl4srec", bucket=False, cl=dict(representation="real_slots")),
    "cl4srec_real_slots_bf16": dict(contrast="cl4srec", bucket=False, bf16=True, cl=dict(representation="real_slots")),
    # CL4SRec's views plus insert and substitute (offline similarity: a sampled epoch never calls start_epoch)
    "coserec_flat": dict(contrast="coserec", bucket=False),
    "coserec_flat_bf16": dict(contrast="coserec", bucket=False, bf16=True),
    "coserec_real_slots": dict(contrast="coserec", bucket=False, cl=dict(representation="real_slots")),
    "coserec_real_slots_bf16": dict(contrast="coserec", bucket=False, bf16=True, cl=dict(representation="real_slots")),
    # the paper's reading: K=2, M=1, FFN neuron masking, no complement
    "srma_flat": dict(contrast="srma", bucket=False),
    "srma_flat_bf16": dict(contrast="srma", bucket=False, bf16=True),
    "srma_real_slots": dict(contrast="srma", bucket=False, cl=dict(representation="real_slots")),
    "srma_real_slots_bf16": dict(contrast="srma", bucket=False, bf16=True, cl=dict(representation="real_slots")),
    # every prefix a sample, four losses: length-grouped batches, and the random batches the chapter trains
    "s3rec_pretraining": dict(objective="s3rec", batch_size=100),
    "s3rec_pretraining_random_batches": dict(objective="s3rec", batch_size=100, bucket=False),
    "s3rec_pretraining_bf16": dict(objective="s3rec", batch_size=100, bucket=False, bf16=True),
    "gru4rec": original_settings("gru4rec", "Beauty"),  # one GRU layer of 100 units, next-item BCE
    "bert4rec": original_settings("bert4rec", "Beauty"),  # the cloze objective, the paper's settings
    "caser": original_settings("caser", "Beauty"),  # windows of 5 items -> the next 3, the paper's settings
}
# Variants whose epoch is estimated from a random sample of its batches (a whole epoch takes minutes).
SAMPLED = {**{f"{method}_{representation}{bf16}": 16 if representation == "flat" else 24
              for method in ("cl4srec", "coserec", "srma") for representation in ("flat", "real_slots")
              for bf16 in ("", "_bf16")},
           "s3rec_pretraining": 48, "s3rec_pretraining_random_batches": 48,
           "s3rec_pretraining_bf16": 48}
WARM_UP_BATCHES = 3  # a process's first steps run slow


# A queued run trains on one core beside another run, so its epochs take longer than the benchmark's (two threads,
# idle machine). Measured: SASRec on Beauty 5.1-5.5 s per epoch in the queue against 3.3 s benchmarked (training and
# validation); CL4SRec flat bf16 36-45 s against 24.6 s.
QUEUE_SLOWDOWN = 1.6


def variant_of(cfg: Config) -> str:
    """The benchmark variant that times ``cfg``'s epochs (SAM's second pass is a factor: ``estimated_run_hours``)."""
    bf16 = "_bf16" if cfg.bf16 else ""  # timed only where bf16 is native: elsewhere estimates use the fp32 time
    if cfg.objective == "s3rec":
        return "s3rec_pretraining" if cfg.bucket else f"s3rec_pretraining{bf16 or '_random_batches'}"
    if cfg.contrast != "none":  # CL4SRec, CoSeRec, SRMA: the representation sets what the views cost
        return f"{cfg.contrast}_{cfg.cl.representation}{bf16}"
    if cfg.model != "sasrec":
        return cfg.model
    if cfg.objective == "ce":
        return "ce"
    return "bce_random_batches" if not cfg.bucket else f"bce{bf16}"  # no variant for bf16 random batches


@functools.lru_cache(maxsize=None)
def _size(dataset: str) -> tuple[int, int]:
    """(interactions, users x items): what a training epoch and a full-ranking evaluation scale with."""
    ds = data.load(dataset)
    return len(ds.items), ds.n_users * ds.n_items


def stored_records(dataset: str = "Beauty", results_dir: Path = runs.RESULTS_DIR,
                   prefer: str | None = None) -> list[dict]:
    """The stored benchmarks of ``dataset``, newest first; with ``prefer`` (a CPU capability such as "AVX2": the
    machine's own, for a queue deciding what fits), those of such a CPU first. The machines lent differ: an AVX2
    CPU trains about 1.6x slower than an AVX-512 one. Pages leave ``prefer`` out, so that what they print does not
    depend on the machine that executes them."""
    def newest(record: dict) -> str:
        return max([record["measured_at"], *record.get("variants_measured_at", {}).values()])

    records = [json.loads(p.read_text()) for p in sorted((results_dir / "bench").glob(f"{dataset}-*.json"))]
    records.sort(key=newest, reverse=True)
    return records if prefer is None else sorted(records, key=lambda r: _capability(r) != prefer)  # stable


def _capability(record: dict) -> str | None:
    """The CPU capability a benchmark ran with, read from its device ("cpu (x86_64, AVX2, 2 threads)")."""
    found = re.fullmatch(r"cpu \([^,]+, ([A-Z0-9_]+), \d+ threads\)", record.get("device", ""))
    return found.group(1) if found else None


def estimate_from_benchmarks(cfg: Config, records: list[dict], epochs: int) -> float | None:
    """``estimated_run_hours`` from the first of ``records`` (``stored_records``' order) that can give it."""
    return next((h for r in records if (h := estimated_run_hours(cfg, r, epochs)) is not None), None)


def epoch_seconds(cfg: Config, record: dict) -> float | None:
    """A benchmark ``record``'s training epoch for ``cfg``'s variant (Beauty, one update per step); None if it was
    not timed. A bf16 variant exists only where the benchmark's machine has native bf16: elsewhere its fp32 time
    stands in (an over-estimate)."""
    variant = variant_of(cfg)
    seconds = record.get(f"train_epoch_seconds_{variant}")
    if seconds is None and variant.endswith("_bf16"):
        seconds = record.get(f"train_epoch_seconds_{variant.removesuffix('_bf16')}")
    return seconds


def sam_epoch_seconds(cfg: Config, record: dict) -> float | None:
    """``epoch_seconds`` with SAM's ascent: a SAM run's variant times one update per step, so the benchmark's
    SAM / SASRec ratio scales it (None where that ratio was not timed)."""
    seconds = epoch_seconds(cfg, record)
    if cfg.update == "sam" and seconds is not None:
        sam, plain = record.get("train_epoch_seconds_sam"), record.get("train_epoch_seconds_bce")
        seconds = seconds * sam / plain if sam and plain else None
    return seconds


def config_times_sasrec(cfg: Config, record: dict) -> float | None:
    """``cfg``'s training epoch as a multiple of SASRec's in one benchmark ``record`` (``times_sasrec`` for a run's
    config: its variant, SAM's ascent included); None where either was not timed."""
    seconds, sasrec = sam_epoch_seconds(cfg, record), record.get("train_epoch_seconds_bce")
    return None if seconds is None or not sasrec else seconds / sasrec


def times_sasrec(record: dict, variant: str) -> float | None:
    """A benchmark ``record``'s training epoch of ``variant`` as a multiple of SASRec's (``bce``: length-grouped
    trimmed batches, how the trainer runs it); None where either was not timed. Pages quote a method's cost from
    this one ratio of one benchmark, so that they agree with each other and with the compute page's Table 1."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown benchmark variant {variant!r}; known: {', '.join(VARIANTS)}")
    seconds, sasrec = record.get(f"train_epoch_seconds_{variant}"), record.get("train_epoch_seconds_bce")
    return None if seconds is None or not sasrec else seconds / sasrec


def estimated_run_hours(cfg: Config, record: dict, epochs: int) -> float | None:
    """Hours a queued run of ``cfg`` should take from a benchmark ``record``: ``epochs`` epochs of training (SAM's
    ascent as the benchmark's SAM/SASRec ratio) scaled by the dataset's interactions (and the training fraction),
    and of validation scaled by its users x items, against the benchmarked dataset's, times QUEUE_SLOWDOWN. None
    when the record lacks a time it needs (a bf16 variant falls back to its fp32 time, an over-estimate). The
    model's size is the profile's (a 1-layer complement costs less)."""
    seconds = sam_epoch_seconds(cfg, record)
    if seconds is None or "full_evaluation_seconds" not in record:
        return None
    (interactions, ranked), (base_interactions, base_ranked) = _size(cfg.dataset), _size(record["dataset"])
    training = seconds * cfg.train_fraction * interactions / base_interactions
    validation = 0.0 if cfg.objective == "s3rec" else record["full_evaluation_seconds"] * ranked / base_ranked
    return epochs * (training + validation) * QUEUE_SLOWDOWN / 3600


def _cpu_name() -> str:
    """The CPU's model name and torch's capability on it ("AMD EPYC (AVX2)"): machines that share a model name
    differ in their vector instructions, and an epoch's seconds with them (bf16 above all: train.native_bf16)."""
    name = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ({torch.backends.cpu.get_cpu_capability()})"


def _epoch_seconds(split: data.Split, overrides: dict, epochs: int, device: torch.device,
                   sampled: int | None = None) -> tuple[float, int]:
    """Seconds of one training epoch as the Trainer runs it, and how many batches were timed.

    Median over ``epochs`` whole epochs, or, with ``sampled``, the mean step time over that many batches drawn at
    random from an epoch's batches (of all widths alike) times the epoch's number of batches.
    """
    cfg = make_config("cpu", dataset=split.dataset.name, **overrides)
    runs.seed_everything(0)
    trainer = Trainer(cfg, split, build_model(cfg, split.dataset.n_items, split.dataset.n_users), device,
                      progress=False)
    batches = trainer.epoch_batches()
    trainer.train_batches(batches[:WARM_UP_BATCHES])
    if sampled:
        chosen = np.random.default_rng(0).choice(len(batches), min(sampled, len(batches)), replace=False)
        started = time.perf_counter()
        trainer.train_batches([batches[i] for i in chosen])
        return (time.perf_counter() - started) / len(chosen) * len(batches), len(chosen)
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        trainer.train_epoch()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), len(batches) * epochs


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


def run_bench(dataset: str = "Beauty", epochs: int = 3, save: bool = False, parallel: bool = False,
              variants: list[str] | None = None) -> dict:
    unknown = sorted(set(variants or ()) - set(VARIANTS))
    if unknown:
        raise ConfigError(f"unknown bench variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    device = resolve_device("auto")
    split = data.split(data.load(dataset), 50)
    result = {"dataset": dataset, "users": split.dataset.n_users, "items": split.dataset.n_items,
              "device": runs.device_name(device), "cpu": _cpu_name(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "git_commit": runs.git_commit(), "epochs_timed": epochs}
    asked = list(variants or VARIANTS)
    if not native_bf16(device.type):  # they would time fp32 under a bf16 name (train.native_bf16)
        result["bf16_variants_skipped"] = "bf16 is not native on this machine"
        asked = [name for name in asked if not VARIANTS[name].get("bf16")]
        if not asked:
            raise ConfigError(f"every variant asked ({', '.join(variants)}) is bf16, which is not native here "
                              "(seqrec.train.native_bf16): time their fp32 variants instead")
    for name in asked:
        seconds, timed = _epoch_seconds(split, VARIANTS[name], epochs, device, SAMPLED.get(name))
        result[f"train_epoch_seconds_{name}"] = round(seconds, 3)
        result[f"timed_batches_{name}"] = timed
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
        slug = re.sub(r"[^a-z0-9]+", "-", result["cpu"].lower()).strip("-")
        path = runs.RESULTS_DIR / "bench" / f"{dataset}-{slug}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_merged(path, result, asked, partial=bool(variants)), indent=1) + "\n")
    return result


def _merged(path, result: dict, variants: list[str], partial: bool) -> dict:
    """What to store: the whole result, or, for a ``partial`` benchmark of some variants, the stored record of this
    dataset and CPU with those variants (and the evaluation and memory measured with them) replaced, each variant's
    time of measurement kept in ``variants_measured_at``: timing one method never throws the others' numbers away."""
    if not partial or not path.exists():
        return {**result, "variants_measured_at": {v: result["measured_at"] for v in variants}}
    stored = json.loads(path.read_text())
    fresh = {k: v for k, v in result.items() if k not in ("git_commit", "measured_at", "epochs_timed")}
    stamps = {**stored.get("variants_measured_at", {}), **{v: result["measured_at"] for v in variants}}
    return {**stored, **fresh, "variants_measured_at": stamps}
