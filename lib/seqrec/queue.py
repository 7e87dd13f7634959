"""The run queue: many configs -> their records, trained on Dask workers, each run at most once.

By default the queue starts a ``LocalCluster`` of single-threaded worker processes, one per core (two runs
side by side use a 2-core machine better than one run on both cores: see the compute page). With
``scheduler="tcp://HOST:PORT"`` (or the ``SEQREC_SCHEDULER`` variable) the same runs go to a running Dask
cluster instead, e.g. GPU nodes started with dask-jobqueue (``slurm_cluster`` below; the README shows how).

A run is trained at most once: finished runs are reused from ``results/``; every run is a Dask task whose
key is the run key, so two queues on one scheduler share one training; on one file system the run's file
lock (seqrec.runs) makes a second process wait and reuse the record. A worker that dies loses only its run:
Dask retries it on another worker, and it resumes from its last checkpoint. Ctrl-C or SIGTERM stops the
workers; the runs that finished keep their records and a later call resumes the others.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
from tqdm import tqdm

from . import runs
from .config import Config, method_name
from .errors import ConfigError
from .train import resolve_device

SCHEDULER_ENV = "SEQREC_SCHEDULER"
MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"  # Dask's workers set it; ours do not (see _client)
PROGRESS_TOPIC = "seqrec-epoch"


@dataclass
class Outcome:
    """What the queue did with one config: ``status`` is trained, reused, failed, or skipped (it would not have
    finished before the queue's deadline)."""

    cfg: Config
    status: str
    record: dict | None = None
    error: str | None = None
    path: Path | None = None


def run_queue(cfgs: list[Config], results_dir: Path = runs.RESULTS_DIR, jobs: int | None = None,
              device: str = "auto", force: bool = False, scheduler: str | None = None, threads: int = 0,
              progress: bool = True, deadline: float | None = None,
              estimate: Callable[[Config], float] | None = None,
              window_hours: float | None = None) -> list[Outcome]:
    """Train every config without a record (all of them with ``force``); one Outcome per distinct config.

    Args:
        jobs: worker processes of the local cluster (default: one per core); ignored with ``scheduler``.
        scheduler: address of a running Dask scheduler; default ``$SEQREC_SCHEDULER``, else a local cluster.
        threads: torch threads per run (0: the local cluster's cores divided among its workers; a remote
            worker keeps torch's default).
        progress: a progress bar over the runs and a line per finished run (on stderr).
        deadline: a ``time.time()`` by which every run should have finished: a run starts only when ``estimate``
            (its hours) says it ends before it, and the next one in order that fits goes first; the others are
            skipped, for a later call. A session that ends mid-run loses the run's progress where the next
            session starts on a new machine (the checkpoints are cache). An estimate of NaN never fits.
        window_hours: the length of a whole session. A run estimated longer than that could never fit before any
            deadline (S3Rec's pre-training on one core takes 2.6-4 h): it starts when its turn comes (before the
            deadline), and carries over to the next session by its checkpoint (its estimate shrinks by what the
            checkpoint holds, so it fits a later deadline normally). A cache that outlives the session
            (SEQREC_CACHE) keeps that checkpoint; elsewhere ``seqrec park`` keeps a pre-training's in results/
            before the machine ends (``runs.park``), and any other such run starts over every session.
    """
    if deadline is not None and estimate is None:
        raise ConfigError("a deadline needs an estimate of each run's hours")
    results_dir = Path(results_dir)
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if scheduler is None:
        resolve_device(device)  # a bad --device fails here, in one line, not inside every worker
    # A config asked for twice is one run. A stage (S3Rec's pre-training, SRMA's complement) without a record goes
    # right before the first run that needs it; one with a record is left alone, even with ``force`` (the runs that
    # need it name its key).
    def with_stage(cfg: Config) -> list[Config]:
        stage = runs.stage_config(cfg)
        return [stage, cfg] if stage is not None and runs.find_record(stage, results_dir) is None else [cfg]

    # ``force`` retrains the runs asked for, never a stage added here: an unfinished pre-training keeps its checkpoint
    forced = {runs.run_key(c) for c in cfgs} if force else set()
    cfgs = list({runs.run_key(c): c for cfg in cfgs for c in with_stage(cfg)}.values())
    outcomes = {runs.run_key(c): Outcome(c, "reused", record, path=runs.record_path(c, results_dir))
                for c in cfgs if runs.run_key(c) not in forced and (record := runs.find_record(c, results_dir))}
    todo = [c for c in cfgs if runs.run_key(c) not in outcomes]
    if todo:
        def fits(cfg: Config) -> bool:
            if deadline is None:
                return True
            hours = estimate(cfg)
            now = time.time()
            return now + hours * 3600 <= deadline or (window_hours is not None and hours > window_hours and now < deadline)
        outcomes.update(_train_on_dask(todo, results_dir, jobs, device, forced, scheduler, threads, progress,
                                       fits, already_done=len(outcomes), total=len(cfgs)))
    return [outcomes[runs.run_key(c)] for c in cfgs]


def _train_on_dask(todo, results_dir, jobs, device, forced, scheduler, threads, progress, fits, already_done, total):
    """Train ``todo`` in its order, as many at a time as there are workers; skip the runs that do not ``fit``.

    The queue hands Dask one run per free worker, the first in ``todo`` that fits and whose stage (if any) has
    finished:
    Dask given every run at once starts them in an order of its own (a chapter's queue of 51 runs started its
    last run first, ahead of the runs that decide the chapter's choices)."""
    from distributed import wait

    cores = os.cpu_count() or 1
    workers = max(1, min(jobs or cores, len(todo)))
    if scheduler is None:
        threads = threads or max(1, cores // workers)
    bar = tqdm(total=total, initial=already_done, unit="run", desc="runs", disable=not progress, dynamic_ncols=True)
    running: dict[str, str] = {}  # run key -> "Beauty s1 e12" (the runs in training and their epochs)
    outcomes: dict[str, Outcome] = {}
    keys = {runs.run_key(c) for c in todo}
    stages = {runs.run_key(s) for c in todo if (s := runs.stage_config(c)) is not None} & keys  # stages it trains

    def on_epoch(event) -> None:
        message = event[1]
        running[message["key"]] = f"{message['label']} e{message['epoch'] + 1}"
        bar.set_postfix_str(" | ".join(running.values()))

    def stage_of(cfg: Config) -> str | None:
        parent = runs.stage_config(cfg)
        return runs.run_key(parent) if parent is not None and runs.run_key(parent) in stages else None

    def finish(cfg: Config, outcome: Outcome, message: str) -> None:
        outcomes[runs.run_key(cfg)] = outcome
        running.pop(runs.run_key(cfg), None)
        bar.write(message)
        bar.update(1)

    with _stop_on_sigterm(), _client(scheduler, workers) as client:
        client.subscribe_topic(PROGRESS_TOPIC, on_epoch)
        capacity = (lambda: workers) if scheduler is None else (lambda: max(1, len(client.scheduler_info()["workers"])))
        waiting, in_flight = list(todo), {}
        while waiting or in_flight:
            for cfg in list(waiting):  # a run whose stage failed fails too (a skipped stage's runs are skipped below)
                stage = stage_of(cfg)
                if stage in outcomes and outcomes[stage].status == "failed":
                    waiting.remove(cfg)
                    error = f"its stage {stage} (pre-training or complement) failed"
                    finish(cfg, Outcome(cfg, "failed", error=error), f"FAILED {_label(cfg)}: {error}")
            while len(in_flight) < capacity():
                ready = next((c for c in waiting if (stage_of(c) is None or stage_of(c) in outcomes) and fits(c)),
                             None)
                if ready is None:
                    break
                waiting.remove(ready)
                forcing = runs.run_key(ready) in forced
                future = client.submit(train_on_worker, ready, str(results_dir), device, forcing, threads,
                                       key=f"seqrec-run-{runs.run_key(ready)}", pure=False)
                in_flight[future] = ready
            if not in_flight:  # nothing left that fits before the deadline (without one: nothing left)
                for cfg in waiting:
                    outcomes[runs.run_key(cfg)] = Outcome(cfg, "skipped", error="would not finish before the deadline")
                if waiting:
                    bar.write(f"skipped {len(waiting)} runs that would not finish before the deadline")
                break
            done = wait(list(in_flight), return_when="FIRST_COMPLETED").done
            for future in done:
                cfg = in_flight.pop(future)
                try:
                    record = future.result()
                except Exception as err:  # a diverged run, a dead worker: this run fails, the others go on
                    error = f"{type(err).__name__}: {err}"
                    finish(cfg, Outcome(cfg, "failed", error=error), f"FAILED {_label(cfg)}: {error}")
                    continue
                path = runs.record_path(cfg, results_dir)
                if not path.exists():  # trained on another machine: keep a copy here
                    runs.write_record(record, path)
                result = (f"test NDCG@10 {record['test']['NDCG@10']:.4f}, best epoch {record['best_epoch'] + 1} of "
                          f"{record['epochs_run']}" if record["test"] else f"pre-trained {record['epochs_run']} epochs")
                finish(cfg, Outcome(cfg, "trained", record, path=path),
                       f"{_label(cfg)}: {result}, {record['train_seconds'] / 60:.1f} min -> {path}")
        client.unsubscribe_topic(PROGRESS_TOPIC)
    bar.close()
    return outcomes


def train_on_worker(cfg: Config, results_dir: str, device: str, force: bool, threads: int) -> dict:
    """The Dask task: train (or reuse) one run on this worker and return its record."""
    import torch
    from distributed import get_worker

    if threads:
        torch.set_num_threads(threads)
    worker, key, label = get_worker(), runs.run_key(cfg), f"{cfg.dataset} s{cfg.seed}"

    def publish(epoch: dict) -> None:
        worker.log_event(PROGRESS_TOPIC, {"key": key, "label": label, "epoch": epoch["epoch"]})

    return runs.run(cfg, Path(results_dir), force=force, device=device, progress=False, on_epoch=publish)


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int):
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as err:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler!r} ({err})") from None
        with client:
            yield client
        return
    # One process per worker, one task at a time: each run owns its core(s). No dashboard (no port clashes).
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers to hand memory back to the OS. Setting it also
    # switches off glibc's adaptive mmap threshold, so every large tensor a training step allocates is a fresh
    # mmap whose pages fault in again: a CL4SRec epoch took 77 s with it and 33 s without (one thread, Beauty;
    # measured outside Dask). Training allocates the same sizes every step, so the workers keep glibc's defaults.
    os.environ.pop(MALLOC_TRIM, None)  # a cluster started earlier in this process put it here
    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{MALLOC_TRIM}": None}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                         silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


@contextlib.contextmanager
def _stop_on_sigterm():
    """Turn SIGTERM into KeyboardInterrupt, so that leaving the cluster's context stops its workers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _label(cfg: Config) -> str:
    settings = runs.settings_label(cfg)
    return f"{method_name(cfg)}/{cfg.dataset} seed {cfg.seed}" + (f" [{settings}]" if settings else "")


def outcome_table(outcomes: list[Outcome]) -> pd.DataFrame:
    """One row per run asked for: what happened, its best epoch and test metrics, minutes, record file."""
    rows = []
    for o in outcomes:
        r = o.record or {}
        rows.append({
            "run": _label(o.cfg), "status": o.status,
            "best epoch": f"{r['best_epoch'] + 1} of {r['epochs_run']}" if r else "",
            "test HR@10": round(r["test"]["HR@10"], 4) if r and r["test"] else None,
            "test NDCG@10": round(r["test"]["NDCG@10"], 4) if r and r["test"] else None,
            "minutes": round(r["train_seconds"] / 60, 1) if r else None,
            "record": str(o.path) if o.path else (o.error or ""),
        })
    return pd.DataFrame(rows)


def slurm_cluster(gpus_per_job: int = 1, cores_per_job: int = 4, memory: str = "32GB",
                  walltime: str = "04:00:00", queue: str | None = None, python: str = ".venv/bin/python", **kwargs):
    """A dask-jobqueue SLURMCluster whose workers each hold one job's GPU and train one run at a time.

    ``cluster = slurm_cluster(queue="gpu"); cluster.scale(jobs=8)``, then give ``cluster.scheduler_address`` to
    ``python -m seqrec train --scheduler ...`` (or run_queue). Extra keyword arguments go to SLURMCluster.
    """
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(
        # cores=1: one task (run) per worker at a time; job_cpu: the CPUs SLURM gives the job, for torch
        queue=queue, cores=1, job_cpu=cores_per_job, processes=1, memory=memory, walltime=walltime, python=python,
        job_extra_directives=[f"--gres=gpu:{gpus_per_job}"] if gpus_per_job else [], **kwargs)

