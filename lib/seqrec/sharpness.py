"""Sharpness of trained runs: the loss landscapes of Figure 1 and curvature numbers, kept as records.

The loss is the next-item BCE (the SAMRec paper's Eq. 2, the loss every method of its Figure 1 shares), on a fixed
subset of training users with one fixed negative per position (drawn once from ``seed``), dropout off, averaged
over the subset's target positions. ``analyse(cfg)`` loads the run's selected weights (committing them beside
its record, so a fresh clone can redo the analysis), computes

    surface      the loss on a GRID x GRID grid along two filter-normalised random directions (Li et al., 2018)
    eigenvalues  the largest Hessian eigenvalue (Lanczos, with its error bound), for each of several start seeds
    traces       Hutchinson estimates of the Hessian trace, for each of several seeds

and writes them to ``results/sharpness/<profile>/<method>/<dataset>-seed<seed>-<key>.json``.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from . import data, landscape, runs
from .config import Config, method_name
from .data import length_batches
from .models import build_model
from .objectives import TrainingRows, next_item_bce

SHARPNESS_DIR = runs.RESULTS_DIR / "sharpness"
GRID = np.linspace(-1.0, 1.0, 21)  # step sizes along each direction (units: the filter-normalised direction)
SMOKE_GRID = np.linspace(-1.0, 1.0, 5)  # the smoke profile's notebooks only check that the pipeline runs
LANCZOS_STEPS = 80  # at most; each step is one Hessian product (stops once the error bound is 0.1%)
SUBSET_USERS = 2048
SEEDS = (0, 1, 2)
# bump when the analysis computes something else (2: the largest, not the dominant, eigenvalue, by shifted power
# iteration; 3: by Lanczos, whose estimate comes with an error bound)
ANALYSIS_VERSION = 3


def loss_fn(model: torch.nn.Module, split: data.Split, users: int = SUBSET_USERS, seed: int = 0):
    """The closure landscape.* differentiates: next-item BCE of ``model`` on a fixed subset of training users."""
    rows = TrainingRows(split, np.random.default_rng(seed), next(model.parameters()).device)
    chosen = np.random.default_rng(seed).permutation(np.flatnonzero(rows.lengths > 0))[:users]
    normalizer = float((rows.targets[chosen] > 0).sum())
    batches = [rows.next_item_batch(chosen[index], normalizer, negatives=True)
               for index in length_batches(rows.lengths[chosen], 256, rng=None)]
    model.eval()

    def closure() -> torch.Tensor:
        with sdpa_kernel(SDPBackend.MATH):  # the fused CPU kernel has no double backward (Hessian products)
            return sum(next_item_bce(model, batch) for batch in batches)

    return closure


@torch.no_grad()
def _value(closure) -> float:
    return float(closure())


def record_path(cfg: Config, results_dir: Path = runs.RESULTS_DIR) -> Path:
    run_path = runs.record_path(cfg, results_dir)
    return results_dir / "sharpness" / run_path.relative_to(results_dir).with_suffix(".json")


def analyse(cfg: Config, results_dir: Path = runs.RESULTS_DIR, grid: np.ndarray | None = None, seeds=SEEDS,
            users: int = SUBSET_USERS, force: bool = False) -> dict:
    """The sharpness record of a finished run (computed once; ``force`` recomputes)."""
    if grid is None:
        grid = SMOKE_GRID if cfg.profile == "smoke" else GRID
    path = record_path(cfg, results_dir)
    if path.exists() and not force:
        stored = json.loads(path.read_text())
        if stored.get("analysis_version") == ANALYSIS_VERSION and stored.get("grid") == list(map(float, grid)):
            return stored
    record = runs.find_record(cfg, results_dir)
    if record is None:
        raise FileNotFoundError(f"no record for {runs.record_path(cfg, results_dir).name}: train the run first")
    started = time.perf_counter()
    if cfg.profile != "smoke":
        runs.keep_weights(cfg, results_dir)
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    model = build_model(cfg, dataset.n_items, dataset.n_users)
    model.load_state_dict(runs.model_weights(cfg, results_dir))
    closure = loss_fn(model, data.split(dataset, cfg.max_len), users)
    directions = landscape.random_directions(model, n=2, seed=0)
    surface = landscape.loss_surface(model, closure, directions, grid, grid)
    eigenvalues = [landscape.largest_eigenvalue(model, closure, iters=LANCZOS_STEPS, seed=s) for s in seeds]
    traces = [landscape.hessian_trace(model, closure, samples=10, seed=s) for s in seeds]
    result = {"key": record["key"], "method": method_name(cfg), "dataset": cfg.dataset, "seed": cfg.seed,
              "profile": cfg.profile, "analysis_version": ANALYSIS_VERSION, "users": users,
              "grid": list(map(float, grid)), "surface": surface.tolist(), "loss_at_minimum": _value(closure),
              "eigenvalues": eigenvalues, "traces": traces, "seconds": time.perf_counter() - started,
              "git_commit": runs.git_commit(), "threads": torch.get_num_threads()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(result) + "\n")
    os.replace(partial, path)
    return result
