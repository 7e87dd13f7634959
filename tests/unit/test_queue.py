"""The run queue on Dask: a 2-worker LocalCluster, reuse, failures that stay local, stopping, SLURM config."""
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from seqrec import queue, runs
from seqrec.config import make_config


def smoke(**overrides):
    return make_config("smoke", **{"dataset": "Beauty", **overrides})


def test_a_smoke_queue_trains_on_two_workers_then_reuses(isolated_cache):
    results = isolated_cache / "results"
    cfgs = [smoke(seed=1), smoke(seed=2), smoke(seed=1)]  # the repeated config is one run
    first = queue.run_queue(cfgs, results, jobs=2, progress=False)
    assert [o.status for o in first] == ["trained", "trained"]
    assert all(o.path.exists() and o.record["test"] == runs.find_record(o.cfg, results)["test"] for o in first)
    again = queue.run_queue(cfgs, results, jobs=2, progress=False)
    assert [o.status for o in again] == ["reused", "reused"]
    assert [o.record for o in again] == [o.record for o in first]
    table = queue.outcome_table(again)
    assert list(table["status"]) == ["reused", "reused"]
    assert table["test NDCG@10"].tolist() == [round(o.record["test"]["NDCG@10"], 4) for o in first]


def test_the_queue_starts_the_runs_in_the_order_asked(isolated_cache):
    """A chapter's plan puts the runs that decide its choices first: the queue must keep that order, a
    pre-training stage right before the first run that starts from it (Dask alone does not: a queue of 51 runs
    started its last one first)."""
    results = isolated_cache / "results"
    plain = [smoke(seed=s) for s in range(11, 19)]
    cfgs = plain[:3] + [smoke(seed=s, pretrain="s3rec") for s in (1, 2)] + plain[3:]
    queue.run_queue(cfgs, results, jobs=1, progress=False)
    asked = cfgs[:3] + [runs.pretraining_config(cfgs[3])] + cfgs[3:]
    started = [runs.record_path(c, results).stat().st_mtime - runs.find_record(c, results)["train_seconds"]
               for c in asked]
    assert started == sorted(started)


def test_a_deadline_starts_only_the_runs_that_fit_skipping_ahead_in_order(isolated_cache):
    """A session that ends mid-run loses it on a new machine: before a deadline, start the next run in order
    whose estimate fits, skip the ones that do not (and whatever starts from a skipped stage), keep order."""
    results = isolated_cache / "results"
    long, short, after_long = smoke(seed=21), smoke(seed=22), smoke(seed=23)
    unknown, staged = smoke(seed=24), smoke(seed=25, pretrain="s3rec")
    hours = {runs.run_key(long): 5.0, runs.run_key(short): 0.01, runs.run_key(after_long): 0.02,
             runs.run_key(unknown): float("nan"), runs.run_key(runs.pretraining_config(staged)): 5.0,
             runs.run_key(staged): 0.01}
    cfgs = [long, short, after_long, unknown, staged]
    outcomes = queue.run_queue(cfgs, results, jobs=1, progress=False, deadline=time.time() + 3600,
                               estimate=lambda cfg: hours[runs.run_key(cfg)])
    status = {runs.run_key(o.cfg): o.status for o in outcomes}
    assert [status[runs.run_key(c)] for c in cfgs] == ["skipped", "trained", "trained", "skipped", "skipped"]
    assert status[runs.run_key(runs.pretraining_config(staged))] == "skipped"
    assert runs.find_record(long, results) is None and runs.find_record(short, results) is not None
    first, second = (runs.record_path(c, results).stat().st_mtime for c in (short, after_long))
    assert first <= second
    with pytest.raises(queue.ConfigError, match="deadline needs an estimate"):
        queue.run_queue(cfgs, results, deadline=time.time() + 60)


def test_a_run_longer_than_any_session_starts_in_its_turn_and_carries_over(isolated_cache):
    """S3Rec's pre-training outlasts a session on one core: skipping it before every deadline would leave it, and
    every run that starts from it, untrained forever. Longer than the whole window, it starts in its turn."""
    results = isolated_cache / "results"
    longest, fits_late, unknown = smoke(seed=26), smoke(seed=27), smoke(seed=28)
    hours = {runs.run_key(longest): 5.0, runs.run_key(fits_late): 1.5, runs.run_key(unknown): float("nan")}
    outcomes = queue.run_queue([longest, fits_late, unknown], results, jobs=1, progress=False,
                               deadline=time.time() + 3600, estimate=lambda cfg: hours[runs.run_key(cfg)],
                               window_hours=2.0)
    # 5 h > the 2 h window: started; 1.5 h fits a 2 h window but not the hour left: skipped; NaN never fits
    assert [o.status for o in outcomes] == ["trained", "skipped", "skipped"]
    late = smoke(seed=29)
    outcome, = queue.run_queue([late], results, jobs=1, progress=False, deadline=time.time() - 1,
                               estimate=lambda cfg: 5.0, window_hours=2.0)
    assert outcome.status == "skipped"  # never after the deadline


def test_two_queues_asking_for_the_same_runs_train_each_once(isolated_cache):
    results, cfgs, outcomes = isolated_cache / "results", [smoke(seed=3), smoke(seed=4)], []
    queues = [threading.Thread(target=lambda: outcomes.append(queue.run_queue(cfgs, results, jobs=1, progress=False)))
              for _ in range(2)]
    for q in queues:
        q.start()
    for q in queues:
        q.join(timeout=300)
    assert len(outcomes) == 2
    for a, b in zip(*outcomes):  # the same record, written by one training (one provenance entry)
        assert a.record == b.record and len(a.record["provenance"]) == 1
    for cfg in cfgs:
        assert len(runs.record_path(cfg, results).read_text().splitlines()) == 1


def test_a_failing_run_fails_alone(synthetic_dir):
    results = synthetic_dir.parent / "results"
    cfgs = [smoke(max_users=0, d_model=8), smoke(dataset="Yelp")]  # the synthetic data folder has no Yelp
    outcomes = queue.run_queue(cfgs, results, jobs=2, progress=False)
    assert [o.status for o in outcomes] == ["trained", "failed"]
    assert "Yelp.txt is missing" in outcomes[1].error


def test_a_run_whose_pretraining_failed_fails_with_it_and_the_others_go_on(synthetic_dir):
    results = synthetic_dir.parent / "results"
    cfgs = [smoke(dataset="Yelp", pretrain="s3rec"), smoke(max_users=0, d_model=8)]  # no Yelp data here
    outcomes = queue.run_queue(cfgs, results, jobs=1, progress=False)
    assert [(o.record or {}).get("method") or o.status for o in outcomes] == ["failed", "failed", "SASRec"]
    assert "Yelp.txt is missing" in outcomes[0].error and "pre-training" in outcomes[1].error


def test_sigterm_stops_the_queue_and_its_workers(isolated_cache):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "seqrec", "train", "--profile", "smoke", "--seed", "1", "2", "--jobs", "2",
               "--set", "epochs=100000", "--set", "patience=100000", "--results", str(isolated_cache / "results")]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    checkpoints = isolated_cache / "cache" / "checkpoints"
    deadline = time.monotonic() + 120
    while len(list(checkpoints.glob("*.pt"))) < 2:  # both workers are training
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()[-2000:]
        time.sleep(0.5)
    descendants = psutil.Process(proc.pid).children(recursive=True)
    assert len(descendants) >= 2
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    gone, alive = psutil.wait_procs(descendants, timeout=30)
    assert not alive, f"workers left running: {[p.cmdline() for p in alive]}"
    assert "the same command resumes the rest" in proc.stdout.read().decode()


def test_the_slurm_cluster_asks_one_gpu_per_job_and_runs_one_run_per_worker():
    pytest.importorskip("dask_jobqueue")
    cluster = queue.slurm_cluster(gpus_per_job=1, cores_per_job=8, memory="16GB", queue="gpu")
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH --cpus-per-task=8" in script and "#SBATCH -p gpu" in script
    assert "--nthreads 1" in script and ".venv/bin/python -m distributed.cli.dask_worker" in script


def test_a_killed_worker_loses_only_its_progress_since_the_last_checkpoint(isolated_cache):
    results, cfg, outcomes = isolated_cache / "results", smoke(epochs=25, patience=25), []
    runner = threading.Thread(target=lambda: outcomes.extend(queue.run_queue([cfg], results, jobs=1, progress=False)))
    runner.start()
    checkpoint = isolated_cache / "cache" / "checkpoints" / f"{runs.run_key(cfg)}.pt"
    deadline = time.monotonic() + 600  # a worker's start and first epoch took over 2 min on a loaded machine
    while not checkpoint.exists():
        assert time.monotonic() < deadline and runner.is_alive()
        time.sleep(0.1)
    # A LocalCluster's nannies live in this process; each spawns its worker as a child process.
    workers = [p for p in psutil.Process().children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
    assert workers, "no worker process found"
    for worker in workers:
        worker.kill()  # as the OOM killer would: no chance to clean up
    runner.join(timeout=900)  # 25 smoke epochs took 4.8 min on a machine busy with two trainings
    assert [o.status for o in outcomes] == ["trained"]
    record = outcomes[0].record
    assert len(record["history"]) == 25 and len(record["provenance"]) == 2  # resumed once, from a checkpoint
    assert not record["provenance"][1].endswith("from epoch 0")


def test_local_workers_keep_the_allocators_defaults(monkeypatch):
    """Dask's MALLOC_TRIM_THRESHOLD_ made every training step map fresh pages (2.3x slower epochs here)."""
    monkeypatch.setenv(queue.MALLOC_TRIM, "65536")  # as an earlier cluster in this process leaves it
    with queue._client(None, 1) as client:
        assert client.submit(os.environ.get, queue.MALLOC_TRIM, "unset", pure=False).result() == "unset"
        assert client.submit(os.environ.get, "OMP_NUM_THREADS", pure=False).result() == "1"  # the rest stays
