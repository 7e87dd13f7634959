"""Sharpness of trained runs: the loss landscapes of Figure 1 and curvature numbers, kept as records.

Two losses (LOSSES), each on a fixed subset of training users (drawn once from ``seed``), dropout off:

    next_item_bce  the next-item BCE of the SAMRec paper's Eq. 2, the loss every method of its Figure 1 shares: one
                   fixed negative per position, averaged over the subset's target positions;
    ranking_ce     for comparing every method (Caser and BERT4Rec train other losses): cross-entropy over all items
                   of each user's last training item given the items before it, scored by ``model.predict``, the
                   scores evaluation ranks.

``analyse(cfg, loss=...)`` loads the run's selected weights (by default committing them beside its record, so a
fresh clone can redo the analysis), computes

    surface      the loss on a grid (GRIDS[loss]) along two filter-normalised random directions (Li et al., 2018)
    eigenvalues  the largest Hessian eigenvalue (Lanczos, with its error bound), for each of several start seeds
    traces       Hutchinson estimates of the Hessian trace, for each of several seeds

and writes them to ``results/sharpness/<profile>/<method>/<dataset>-seed<seed>-<key>.json`` (``.ranking_ce.json``
for the ranking loss).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from . import data, landscape, report, runs
from .config import Config, method_name
from .data import length_batches, trim
from .models import build_model
from .objectives import TrainingRows, next_item_bce

SHARPNESS_DIR = runs.RESULTS_DIR / "sharpness"
GRID = np.linspace(-1.0, 1.0, 21)  # step sizes along each direction (units: the filter-normalised direction)
# The page comparing every method draws small panels: 11 x 11 points (a quarter of the loss evaluations) suffice
ACROSS_GRID = np.linspace(-1.0, 1.0, 11)
GRIDS = {"next_item_bce": GRID, "ranking_ce": ACROSS_GRID}  # each loss's grid on the committed profiles
SMOKE_GRID = np.linspace(-1.0, 1.0, 5)  # the smoke profile's notebooks only check that the pipeline runs
LANCZOS_STEPS = 80  # at most; each step is one Hessian product (stops once the error bound is 0.1%)
SUBSET_USERS = 2048
SEEDS = (0, 1, 2)
# bump when the analysis computes something else (2: the largest, not the dominant, eigenvalue, by shifted power
# iteration; 3: by Lanczos, whose estimate comes with an error bound)
ANALYSIS_VERSION = 3


def next_item_bce_loss_fn(model: torch.nn.Module, split: data.Split, users: int = SUBSET_USERS, seed: int = 0):
    """The closure landscape.* differentiates: next-item BCE of ``model`` on a fixed subset of training users
    (``closure.users``, row indices of the split)."""
    rows = TrainingRows(split, np.random.default_rng(seed), next(model.parameters()).device)
    chosen = np.random.default_rng(seed).permutation(np.flatnonzero(rows.lengths > 0))[:users]
    normalizer = float((rows.targets[chosen] > 0).sum())
    batches = [rows.next_item_batch(chosen[index], normalizer, negatives=True)
               for index in length_batches(rows.lengths[chosen], 256, rng=None)]
    model.eval()

    def closure() -> torch.Tensor:
        with sdpa_kernel(SDPBackend.MATH):  # the fused CPU kernel has no double backward (Hessian products)
            return sum(next_item_bce(model, batch) for batch in batches)

    closure.users = chosen
    return closure


def ranking_loss_fn(model: torch.nn.Module, split: data.Split, users: int = SUBSET_USERS, seed: int = 0):
    """The closure for comparing methods: mean cross-entropy, over all items but padding, of each chosen training
    user's last training item given the items before it, from the scores ``model.predict`` gives evaluation
    (Caser's with its user ids). Every model scores that way, whatever loss it trained with. Unlike evaluation, the
    softmax keeps the user's history items (a smooth loss needs every item), and the target is a training item.
    ``closure.users`` holds the chosen users (row indices of the split)."""
    device = next(model.parameters()).device
    inputs, lengths = split.inputs("train"), split.input_lengths("train")
    targets = split.train_targets()[:, -1]  # the item right after each user's training input
    chosen = np.random.default_rng(seed).permutation(np.flatnonzero(lengths > 0))[:users]
    if len(chosen) == 0:
        raise ValueError("no training user has an item before their last training item: nothing to score")
    batches = []
    for index in length_batches(lengths[chosen], 256, rng=None):
        rows = chosen[index]
        batches.append((torch.from_numpy(trim(inputs[rows], lengths[rows])).to(device),
                        torch.from_numpy(rows).to(device), torch.from_numpy(targets[rows] - 1).to(device)))
    with_users = getattr(model, "needs_users", False)
    model.eval()

    def closure() -> torch.Tensor:
        with sdpa_kernel(SDPBackend.MATH):  # as above: Hessian products need the double backward
            total = 0.0
            for seq, rows, target in batches:
                scores = model.predict(seq, rows) if with_users else model.predict(seq)
                total = total + F.cross_entropy(scores[:, 1:], target, reduction="sum")  # column 0 is padding
            return total / len(chosen)

    closure.users = chosen
    return closure


LOSSES = {"next_item_bce": next_item_bce_loss_fn, "ranking_ce": ranking_loss_fn}


@torch.no_grad()
def _value(closure) -> float:
    return float(closure())


def _checked_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"unknown sharpness loss {loss!r}; known: {', '.join(LOSSES)}")
    return loss


def record_path(cfg: Config, results_dir: Path = runs.RESULTS_DIR, loss: str = "next_item_bce") -> Path:
    run_path = runs.record_path(cfg, results_dir)
    suffix = ".json" if _checked_loss(loss) == "next_item_bce" else f".{loss}.json"
    return results_dir / "sharpness" / run_path.relative_to(results_dir).with_suffix(suffix)


def analyse(cfg: Config, results_dir: Path = runs.RESULTS_DIR, grid: np.ndarray | None = None, seeds=SEEDS,
            users: int = SUBSET_USERS, force: bool = False, loss: str = "next_item_bce",
            commit_weights: bool = True) -> dict:
    """The sharpness record of a finished run under ``loss`` (a key of LOSSES; computed once, ``force``
    recomputes). ``commit_weights=False`` leaves the run's weights in this machine's cache (the page comparing
    every method: committing nine models would take about 50 MB of the repository's budget)."""
    path = record_path(cfg, results_dir, loss)  # checks the loss's name first
    if grid is None:
        grid = SMOKE_GRID if cfg.profile == "smoke" else GRIDS[loss]
    stored = None if force else stored_analysis(cfg, results_dir, loss)
    if stored is not None and stored.get("grid") == list(map(float, grid)):
        return stored
    record = runs.find_record(cfg, results_dir)
    if record is None:
        raise FileNotFoundError(f"no record for {runs.record_path(cfg, results_dir).name}: train the run first")
    started = time.perf_counter()
    if cfg.profile != "smoke" and commit_weights:
        runs.keep_weights(cfg, results_dir)
    dataset = data.load(cfg.dataset).head(cfg.max_users)
    model = build_model(cfg, dataset.n_items, dataset.n_users)
    model.load_state_dict(runs.model_weights(cfg, results_dir))
    closure = LOSSES[loss](model, data.split(dataset, cfg.max_len), users)
    directions = landscape.random_directions(model, n=2, seed=0)
    surface = landscape.loss_surface(model, closure, directions, grid, grid)
    eigenvalues = [landscape.largest_eigenvalue(model, closure, iters=LANCZOS_STEPS, seed=s) for s in seeds]
    traces = [landscape.hessian_trace(model, closure, samples=10, seed=s) for s in seeds]
    result = {"key": record["key"], "method": method_name(cfg), "dataset": cfg.dataset, "seed": cfg.seed,
              "profile": cfg.profile, "analysis_version": ANALYSIS_VERSION, "loss": loss, "users": len(closure.users),
              "grid": list(map(float, grid)), "surface": surface.tolist(), "loss_at_minimum": _value(closure),
              "eigenvalues": eigenvalues, "traces": traces, "seconds": time.perf_counter() - started,
              "git_commit": runs.git_commit(), "threads": torch.get_num_threads()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(result) + "\n")
    os.replace(partial, path)
    return result


def curvature(record: dict) -> dict:
    """Largest Hessian eigenvalue and Hessian trace of a sharpness record: mean and 95% CI half-width over the
    estimator seeds (random probe vectors of one trained model, not training seeds); the smallest eigenvalue (mean)
    and the largest eigenvalue's Lanczos error bound (the widest over the seeds)."""
    eigenvalue, eigenvalue_ci = report.mean_ci([e["eigenvalue"] for e in record["eigenvalues"]])
    trace, trace_ci = report.mean_ci([t["trace"] for t in record["traces"]])
    return {"eigenvalue": eigenvalue, "eigenvalue_ci95": eigenvalue_ci, "trace": trace, "trace_ci95": trace_ci,
            "smallest": float(np.mean([e["smallest"] for e in record["eigenvalues"]])),
            "error_bound": float(max(e["residual"] for e in record["eigenvalues"])),
            "converged": sum(bool(e["converged"]) for e in record["eigenvalues"]),
            "estimates": len(record["eigenvalues"]),
            "loss_at_minimum": record["loss_at_minimum"]}


def border_rise(record: dict) -> float:
    """Mean loss on the border of a record's grid (the largest steps along each direction) minus the loss at its
    centre: how much the pictured landscape rises."""
    surface = np.asarray(record["surface"])
    border = np.concatenate([surface[0], surface[-1], surface[1:-1, 0], surface[1:-1, -1]])
    return float(border.mean() - record["loss_at_minimum"])


def clearly_flatter(first: dict, second: dict) -> bool | None:
    """Whether ``first``'s largest eigenvalue (a ``curvature`` dict) lies below ``second``'s by more than both
    Lanczos bounds: True (flatter), False (sharper), None where the bounds overlap or either has no positive
    curvature to compare."""
    if first["eigenvalue"] <= 0 or second["eigenvalue"] <= 0:
        return None
    if first["eigenvalue"] + first["error_bound"] < second["eigenvalue"] - second["error_bound"]:
        return True
    if second["eigenvalue"] + second["error_bound"] < first["eigenvalue"] - first["error_bound"]:
        return False
    return None


def curvature_table(analyses: dict[str, dict], methods: list[str], reference: str = "SASRec",
                    compared: list[str] | None = None) -> pd.DataFrame:
    """One row per method of ``methods``, from its sharpness record in ``analyses`` ("missing" where it has none):
    λmax (mean over the Lanczos starts), its bound (the widest over the starts), converged starts, λmin (the smallest
    Ritz value when Lanczos stopped: an upper bound on the smallest eigenvalue), trace (mean ± 95% CI over probe
    seeds), loss at the selected weights, border rise, and ``reference``'s λmax over the method's, for the methods
    of ``compared`` (default: all) and only where both are positive."""
    found = {m: curvature(a) for m, a in analyses.items() if a is not None}
    top = found[reference]["eigenvalue"] if reference in found else np.nan
    rows = []
    for method in methods:
        c = found.get(method)
        trace = ("missing" if c is None else f"{c['trace']:.4g}" if np.isnan(c["trace_ci95"])
                 else f"{c['trace']:.4g} ± {c['trace_ci95']:.2g}")
        ratio = (top / c["eigenvalue"] if c and top > 0 and c["eigenvalue"] > 0
                 and (compared is None or method in compared) else np.nan)
        rows.append({"method": method,
                     "λmax": f"{c['eigenvalue']:.4g}" if c else "missing",
                     "bound": f"± {c['error_bound']:.2g}" if c else "",
                     "converged": f"{c['converged']} of {c['estimates']}" if c else "",
                     "λmin": f"{c['smallest']:.4g}" if c else "",
                     "trace": trace,
                     "loss": c["loss_at_minimum"] if c else np.nan,
                     "rise": border_rise(analyses[method]) if c else np.nan,
                     f"{reference} λmax / this λmax": ratio})
    return pd.DataFrame(rows).set_index("method")


def no_positive_curvature(analyses: dict[str, dict]) -> list[str]:
    """The methods whose largest eigenvalue is not positive: there is no curvature of theirs to compare (amber)."""
    return [m for m, a in analyses.items() if a is not None and curvature(a)["eigenvalue"] <= 0]


def collect_analyses(configs: dict[str, Config], records: dict[str, dict | None], results_dir: Path, loss: str,
                     compute: bool, commit_weights: bool = True) -> tuple[dict[str, dict], dict[str, str]]:
    """({method: its sharpness record under ``loss``}, {method: why it has none}) for the runs that have records;
    ``compute`` computes the missing ones (minutes each on the cpu profile), else only stored ones are read."""
    analyses, notes = {}, {}
    for method, cfg in configs.items():
        if records.get(method) is None:
            continue
        if not compute:
            stored = stored_analysis(cfg, results_dir, loss)
            if stored is not None:
                analyses[method] = stored
            continue
        try:
            analyses[method] = analyse(cfg, results_dir, loss=loss, commit_weights=commit_weights)
        except FileNotFoundError:  # trained on another machine, or before runs kept their weights in the cache
            notes[method] = "needs the run's weights: retrain it on this machine"
    return analyses, notes


def stored_analysis(cfg: Config, results_dir: Path = runs.RESULTS_DIR, loss: str = "next_item_bce") -> dict | None:
    """The stored analysis of ``cfg`` under ``loss`` if it is of this analysis version and of the run's current key;
    None otherwise. Reads only."""
    path = record_path(cfg, Path(results_dir), loss)
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    if stored.get("analysis_version") != ANALYSIS_VERSION or stored.get("key") != runs.run_key(cfg):
        return None
    return stored
