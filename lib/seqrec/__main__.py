"""Command line: python -m seqrec train | stats | bench."""
from __future__ import annotations

import argparse
import json
import sys

from .errors import SeqRecError


def _train(args) -> None:
    import torch

    from . import runs
    from .config import make_config, parse_override
    from .errors import ConfigError

    if args.threads < 0 or args.jobs < 1:
        raise ConfigError(f"--threads must be >= 0 and --jobs >= 1 (got {args.threads} and {args.jobs})")
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = dict(parse_override(text) for text in args.set)
    cfgs = [make_config(args.profile, model=args.model, dataset=d, seed=s, **overrides)
            for s in args.seed for d in args.dataset]  # seed-major: a cut-short queue covers every dataset
    runs.run_queue(cfgs, args.results, jobs=args.jobs, device=args.device, force=args.force)


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
    print(json.dumps(run_bench(args.dataset, args.epochs, args.save, args.parallel), indent=1))


def parser() -> argparse.ArgumentParser:
    from .config import DATASETS, MODELS, PROFILES
    from .runs import RESULTS_DIR

    top = argparse.ArgumentParser(prog="python -m seqrec", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train runs that have no record yet (a resumable queue)")
    train.add_argument("--model", default="sasrec", choices=MODELS)
    train.add_argument("--dataset", nargs="+", default=["Beauty"], metavar="NAME",
                       help=f"one or more of: {', '.join(DATASETS)}")
    train.add_argument("--seed", nargs="+", type=int, default=[1])
    train.add_argument("--profile", default="cpu", choices=PROFILES)
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    train.add_argument("--jobs", type=int, default=1, help="runs side by side, one thread each")
    train.add_argument("--threads", type=int, default=0, help="torch threads for --jobs 1 (0 = torch default)")
    train.add_argument("--device", default="auto", help="auto, cpu or cuda")
    train.add_argument("--force", action="store_true", help="retrain even if a record exists")
    train.add_argument("--results", default=RESULTS_DIR, help="results folder")
    train.set_defaults(func=_train)

    stats = sub.add_parser("stats", help="statistics of the datasets")
    stats.add_argument("--dataset", nargs="+", metavar="NAME")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=_stats)

    bench = sub.add_parser("bench", help="seconds per epoch and per full evaluation, peak memory")
    bench.add_argument("--dataset", default="Beauty", metavar="NAME")
    bench.add_argument("--epochs", type=int, default=3, help="timed epochs per objective (after one warm-up)")
    bench.add_argument("--save", action="store_true", help="also write the result to results/bench/")
    bench.add_argument("--parallel", action="store_true",
                       help="also compare one run on all cores with one single-threaded run per core")
    bench.set_defaults(func=_bench)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except SeqRecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
