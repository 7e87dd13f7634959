"""The leaderboard: every method the chapters train, on every dataset a chapter trains it on, under the book's one
protocol (leave-one-out, all items ranked, the checkpoint with the best validation NDCG@20).

It trains nothing of its own. A method's runs are those of its chapter's main table (SAMRec's Table 1, SRMA's
Table 1, and SAMRec's Table 2 for the +SAM variants), with that chapter's settings and choices (rho, CL4SRec's
representation, the tuned settings), so every number on the board is also on a chapter page. A method two chapters
share (SASRec, S3Rec, CL4SRec) is one set of runs, found by key. A method still waiting for a choice has no runs yet.
"""
from __future__ import annotations

from pathlib import Path

from .. import runs
from ..config import Config, method_name
from . import samrec, srma

DATASETS = ("Beauty", "Sports_and_Outdoors", "Toys_and_Games", "Yelp")
# sequential encoders first, then self-supervised and contrastive methods, then sharpness-aware training
METHODS = ("GRU4Rec", "Caser", "SASRec", "BERT4Rec", "S3Rec", "CL4SRec", "CoSeRec", "SRMA", "SAMRec", "S3Rec+SAM",
           "CL4SRec+SAM")
BASELINE = "SASRec"  # every chapter trains it on every dataset: the board's common reference


def runs_by_method(profile: str, results_dir: Path = runs.RESULTS_DIR) -> dict[str, list[Config]]:
    """{method: its planned runs on ``profile``}, one per (dataset, seed), in METHODS order (the chapters' scopes on
    that profile); methods that wait for a choice (rho, CL4SRec's representation, a tuned setting) are left out.

    Two chapters may run different methods under one name (on the paper profile SRMA's S3Rec drops the attribute
    terms that SAMRec's keeps): the later chapter's then shows as "S3Rec (SRMA)", right after the first.
    """
    rho, representation = samrec.choices(profile, results_dir)
    tuning = srma.tuned(profile, results_dir)
    planned = [("SAMRec", c) for c in
               (*samrec.table1(profile, rho, *samrec.scope("table1", profile), representation=representation),
                *samrec.table2(profile, rho, *samrec.scope("table2", profile), representation=representation))]
    for configs in srma.table1(profile, representation, tuning, *srma.scope("table1", profile)).values():
        planned += [("SRMA", c) for c in configs]
    by_method: dict[str, dict[tuple, Config]] = {}
    for chapter, cfg in planned:
        name, cell = method_name(cfg), (cfg.dataset, cfg.seed)
        held = by_method.get(name, {}).get(cell)
        if held is not None and runs.run_key(held) != runs.run_key(cfg):
            name = f"{name} ({chapter})"
        by_method.setdefault(name, {})[cell] = cfg
    unknown = {name.split(" (")[0] for name in by_method} - set(METHODS)
    if unknown:  # a chapter gained a method: the board must place it, not drop it silently
        raise ValueError(f"leaderboard.METHODS lacks {sorted(unknown)}")
    order = [name for m in METHODS for name in by_method if name.split(" (")[0] == m]
    return {name: list(by_method[name].values()) for name in order}


def runs_of(profile: str, dataset: str, seed: int, results_dir: Path = runs.RESULTS_DIR) -> dict[str, Config]:
    """{method: its run on ``dataset`` with ``seed``}, for every method the board plans there (METHODS order)."""
    return {method: cfg for method, configs in runs_by_method(profile, results_dir).items()
            for cfg in configs if (cfg.dataset, cfg.seed) == (dataset, seed)}
