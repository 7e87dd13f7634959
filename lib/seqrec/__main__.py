"""Command line: python -m seqrec train | reproduce | park | stats | bench."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from .errors import SeqRecError


def _train(args) -> int:
    from . import queue
    from .config import make_config, parse_override
    from .errors import ConfigError

    if args.threads < 0 or (args.jobs is not None and args.jobs < 1):
        raise ConfigError(f"--threads must be >= 0 and --jobs >= 1 (got {args.threads} and {args.jobs})")
    overrides = dict(parse_override(text) for text in args.set)
    cfgs = [make_config(args.profile, model=args.model, dataset=d, seed=s, **overrides)
            for s in args.seed for d in args.dataset]  # seed-major: a cut-short queue covers every dataset
    outcomes = queue.run_queue(cfgs, args.results, jobs=args.jobs, device=args.device, force=args.force,
                               scheduler=args.scheduler, threads=args.threads)
    print(queue.outcome_table(outcomes).to_string(index=False, na_rep=""))
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _reproduce(args) -> int:
    """Queue every missing run of a chapter; a plan that waits on a choice (SAMRec's rho) is re-planned after it."""
    import torch

    from . import experiments, queue
    from .errors import ConfigError
    from .experiments import common

    if args.chapter not in experiments.CHAPTERS:
        raise ConfigError(f"unknown chapter {args.chapter!r}; known: {', '.join(experiments.CHAPTERS)}")
    if args.hours is not None and not (math.isfinite(args.hours) and args.hours > 0):
        raise ConfigError(f"--hours must be a number > 0 (got {args.hours})")
    deadline = None if args.hours is None else time.time() + args.hours * 3600
    datasets = args.dataset or experiments.CHAPTER_DATASETS[args.chapter]
    failed, seen = False, set()
    while True:
        plan = experiments.CHAPTERS[args.chapter](args.profile, args.results, datasets=datasets, seeds=args.seed)
        keys = {queue.runs.run_key(c) for c in plan}
        if keys <= seen:
            break
        seen |= keys
        estimate = common.live_run_hours_estimator(plan, args.results, cautious=True,
                                                   prefer=torch.backends.cpu.get_cpu_capability())
        outcomes = queue.run_queue(plan, args.results, jobs=args.jobs, device=args.device, threads=args.threads,
                                   deadline=deadline, estimate=estimate, window_hours=args.hours)
        failed |= any(o.status == "failed" for o in outcomes)
    print(queue.outcome_table(outcomes).to_string(index=False, na_rep=""))
    return 1 if failed else 0


def _park(args) -> None:
    from . import runs

    parked = runs.park_unfinished(Path(args.results))
    for path in parked:
        print(f"parked {path} (commit it with the run's progress file)")
    if not parked:
        print("nothing to park: no unfinished pre-training has a checkpoint in this machine's cache")


def _stats(args) -> None:
    from . import data
    from .config import DATASETS

    rows = [data.dataset_stats(data.load(name)) for name in (args.dataset or DATASETS)]
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for row in rows:
        print("  ".join(str(row[c]).rjust(w) for c, w in zip(columns, widths)))


def _bench(args) -> None:
    from .bench import run_bench
    from .errors import ConfigError

    if args.epochs < 1:
        raise ConfigError(f"--epochs={args.epochs} must be at least 1")
    print(json.dumps(run_bench(args.dataset, args.epochs, args.save, args.parallel, args.variant), indent=1))


def _config_keys_help() -> str:
    import dataclasses

    from .config import RUN_IDENTITY, Config

    keys = [f"  {f.name}={f.default!r}" for f in dataclasses.fields(Config) if f.name not in RUN_IDENTITY]
    return ("keys for --set KEY=VALUE (defaults of the cpu profile; the smoke profile shrinks the model "
            "and data, see seqrec/config.py):\n" + "\n".join(keys))


def parser() -> argparse.ArgumentParser:
    from .config import DATASETS, MODELS, PROFILES
    from .queue import SCHEDULER_ENV
    from .runs import RESULTS_DIR
    from .train import DEVICES

    top = argparse.ArgumentParser(prog="python -m seqrec", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train", help="train runs that have no record yet (a resumable queue on Dask)",
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, max_help_position=32),
        description="Train every (dataset, seed) that has no record yet, side by side on Dask workers, and "
                    "print a table of every run asked for. Finished runs are reused; a killed run resumes.",
        epilog=_config_keys_help())
    train.add_argument("--model", default="sasrec", choices=MODELS, help="(default: %(default)s)")
    train.add_argument("--dataset", nargs="+", default=["Beauty"], metavar="NAME",
                       help=f"one or more of: {', '.join(DATASETS)} (default: Beauty)")
    train.add_argument("--seed", nargs="+", type=int, default=[1], help="one or more seeds (default: 1)")
    train.add_argument("--profile", default="cpu", choices=PROFILES, help="(default: %(default)s)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config field (repeatable; keys below)")
    train.add_argument("--jobs", type=int, default=None,
                       help="local Dask workers, one run each (default: one per core)")
    train.add_argument("--threads", type=int, default=0,
                       help="torch threads per run (default 0: the cores divided among the workers)")
    train.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help=f"send the runs to a running Dask cluster (default: ${SCHEDULER_ENV}, else a "
                            "local cluster)")
    train.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)} (default: %(default)s)")
    train.add_argument("--force", action="store_true", help="retrain even if a record exists")
    train.add_argument("--results", default=RESULTS_DIR, help="results folder (default: %(default)s)")
    train.set_defaults(func=_train)

    reproduce = sub.add_parser(
        "reproduce", help="train every missing run of a chapter (seqrec/experiments/ lists them)",
        description="Train every run a chapter's tables and figures need that has no record yet, in the chapter's "
                    "order (tables first), side by side on Dask workers. Finished runs are reused; killed ones resume.")
    reproduce.add_argument("--chapter", default="samrec", help="(default: %(default)s)")
    reproduce.add_argument("--profile", default="cpu", choices=PROFILES, help="(default: %(default)s)")
    reproduce.add_argument("--dataset", nargs="+", metavar="NAME",
                           help="restrict the chapter to these datasets (default: all of its paper's); the runs that "
                                "make the chapter's choices (rho, a representation, a tuned setting) train first "
                                "whatever datasets and seeds are asked for")
    reproduce.add_argument("--seed", nargs="+", type=int, default=[1, 2, 3],
                           help="restrict the chapter to these seeds, as --dataset (default: 1 2 3)")
    reproduce.add_argument("--jobs", type=int, default=None, help="local Dask workers (default: one per core)")
    reproduce.add_argument("--threads", type=int, default=0, help="torch threads per run (default: cores / jobs)")
    reproduce.add_argument("--device", default="auto", help="(default: %(default)s)")
    reproduce.add_argument("--results", default=RESULTS_DIR, help="results folder (default: %(default)s)")
    reproduce.add_argument("--hours", type=float, default=None, metavar="H",
                           help="start only runs expected to finish within H hours (the longest finished run of "
                                "the same method and dataset, else of the method, else the benchmark's estimate; "
                                "less what a killed run's checkpoint holds); the rest wait for a later call. Use it "
                                "when the machine will not outlive the session. A run longer than H (S3Rec's "
                                "pre-training) starts in its turn and resumes from its checkpoint next time: from the cache if "
                                "it outlives the session, else from what `seqrec park` kept in results/.")
    reproduce.set_defaults(func=_reproduce)

    park = sub.add_parser(
        "park", help="keep unfinished pre-trainings' checkpoints in results/, to commit before a machine ends",
        description="Copy the cache checkpoint of every unfinished pre-training (S3Rec's: longer than a session on "
                    "one core) into results/ as <run>.checkpoint.pt.xz. Commit it with the run's progress file; "
                    "the next session's queue resumes the run from it, on any machine, and deletes it when the run "
                    "finishes. Other runs fit in a session and are never parked.")
    park.add_argument("--results", default=RESULTS_DIR, help="results folder (default: %(default)s)")
    park.set_defaults(func=_park)

    stats = sub.add_parser("stats", help="statistics of the datasets")
    stats.add_argument("--dataset", nargs="+", metavar="NAME")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=_stats)

    bench = sub.add_parser("bench", help="seconds per epoch and per full evaluation, peak memory")
    bench.add_argument("--dataset", default="Beauty", metavar="NAME")
    bench.add_argument("--epochs", type=int, default=3, help="timed epochs per objective (after one warm-up)")
    bench.add_argument("--save", action="store_true", help="also write the result to results/bench/ (with "
                       "--variant: into the stored record, replacing only those variants)")
    bench.add_argument("--variant", nargs="+", metavar="NAME",
                       help="time only these variants (default: all; see seqrec/bench.py VARIANTS)")
    bench.add_argument("--parallel", action="store_true",
                       help="also compare one run on all cores with one single-threaded run per core")
    bench.set_defaults(func=_bench)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except SeqRecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped: finished runs kept their records; the same command resumes the rest", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
