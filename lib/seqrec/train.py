"""One Trainer for every model: epochs, validation each epoch, early stopping, test once on the best
checkpoint, checkpoint after every epoch and resume after a kill with the same final result.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from .config import Config
from .data import Split, length_batches, trim
from .errors import ConfigError, TrainingError
from .metrics import metrics_from_ranks, target_ranks
from .objectives import Objective, TrainingRows, build_objective
from .optim import build_update

EVAL_BATCH_SIZE = 128  # keeps a batch's score matrix in cache: 2.5x faster ranking than 1024 on CPU
# Tables with at least this many rows (items, users) pool their lookup gradients during a training step
# (LookupGradientPool); the position table (max_len rows, each looked up in every sequence) needs no pool.
POOLED_GRADIENT_MIN_ROWS = 1024


DEVICES = ("auto", "cpu", "cuda", "cuda:N")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``; a clear error otherwise."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    kind, _, index = device.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise ConfigError(f"unknown device {device!r}; known: {', '.join(DEVICES)}")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: CUDA is not available here (torch {torch.__version__}); "
                          f"use --device cpu or auto")
    if index and int(index) >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return torch.device(device)


@functools.lru_cache(maxsize=None)
def native_bf16(device_type: str) -> bool:
    """Whether this machine's ``device_type`` ("cpu" or "cuda") has fast bf16 matrix products: a GPU with bf16, or a
    CPU where oneDNN has bf16 kernels (AVX-512 or AMX; "native" here, though an AVX-512 CPU without bf16
    instructions emulates them with AVX-512, still at speed).

    A config's ``bf16`` asks for bf16 autocast where it is native and fp32 elsewhere: on a CPU without AVX-512,
    oneDNN computes bf16 products on a fallback path about 45x slower than fp32 (measured: 1.4 against 63 GFLOPS for
    a (800, 64) x (64, 256) product, one thread, an AVX2 EPYC), which would make a bf16 run several times slower,
    not faster. The record's ``precision`` says what its last session computed in, its provenance every session's."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def precision(device: torch.device, bf16: bool) -> str:
    """What a run that asks for ``bf16`` computes in on ``device`` (see ``native_bf16``)."""
    if not bf16:
        return "fp32"
    return "bf16 autocast" if native_bf16(device.type) else "fp32 (bf16 asked, not native here)"


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast when ``enabled`` and native on ``device``; otherwise fp32 (``native_bf16``)."""
    if not enabled or not native_bf16(device.type):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.no_grad()
def evaluate(model, split: Split, role: str, device: torch.device, bf16: bool = False,
             batch_size: int = EVAL_BATCH_SIZE, ties: str = "expected", repeated_targets: str = "miss") -> dict:
    """Full-ranking HR/NDCG@5/10/20 of ``role`` ("valid" or "test") over all users.

    ``ties`` and ``repeated_targets`` are the protocol switches of seqrec.metrics. The result also holds
    ``tied_users``: how many users' targets share their score with at least one eligible item. A model that
    declares ``needs_users`` (Caser) is asked ``predict(seq, users)``, with the users' row indices in the split;
    every other model ``predict(seq)``.
    """
    was_training = model.training
    model.eval()
    inputs, targets, lengths = split.inputs(role), split.targets(role), split.input_lengths(role)
    with_users = getattr(model, "needs_users", False)
    ranks = np.full(len(targets), -1, dtype=np.int64)
    tied = np.zeros(len(targets), dtype=np.int64)
    for users in length_batches(lengths, batch_size, rng=None):
        seq = torch.from_numpy(trim(inputs[users], lengths[users])).to(device)
        with autocast(device, bf16):
            if with_users:
                scores = model.predict(seq, torch.from_numpy(users).to(device)).float()
            else:
                scores = model.predict(seq).float()  # (B, n_items + 1); models score in fp32: bf16 scores tie
        rows, items = split.history(role, users)
        greater, equal = target_ranks(scores, torch.from_numpy(targets[users]).to(device),
                                      torch.from_numpy(rows).to(device), torch.from_numpy(items).to(device),
                                      repeated_targets)
        ranks[users], tied[users] = greater.cpu().numpy(), equal.cpu().numpy()
    model.train(was_training)
    assert (ranks >= 0).all(), "every user must be ranked"
    return {**metrics_from_ranks(ranks, tied, ties=ties), "tied_users": int((tied > 0).sum())}


def replay_early_stopping(scores, epochs: int, patience: int) -> tuple[int, int]:
    """The Trainer's stopping rule replayed on recorded validation scores (one per epoch).

    Returns the selected epoch (0-based) and the number of epochs that would have been trained. The rule
    is the one in ``Trainer._select``: a strict improvement resets the patience count.
    """
    best, best_epoch, bad = -float("inf"), -1, 0
    for epoch, score in enumerate(scores[:epochs]):
        if score > best:
            best, best_epoch, bad = score, epoch, 0
        else:
            bad += 1
        if bad >= patience:
            return best_epoch, epoch + 1
    return best_epoch, min(len(scores), epochs)


class _LookupIntoPool(torch.autograd.Function):
    """An embedding lookup whose backward adds its rows into a gradient pool instead of returning a dense table."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, indices: torch.Tensor, padding_idx: int | None,
                pool: "LookupGradientPool") -> torch.Tensor:
        ctx.set_materialize_grads(False)  # no gradient reaching the lookup must stay no gradient (None), not zeros
        ctx.save_for_backward(indices)
        ctx.weight, ctx.padding_idx, ctx.pool = weight, padding_idx, pool
        return torch.nn.functional.embedding(indices, weight)

    @staticmethod
    def backward(ctx, grad: torch.Tensor | None):
        if grad is not None:
            (indices,) = ctx.saved_tensors
            ctx.pool.add(ctx.weight, indices.reshape(-1), grad.reshape(-1, grad.shape[-1]), ctx.padding_idx)
        return None, None, None, None


class LookupGradientPool:
    """Within it, the lookups of the large embedding tables of ``modules`` add their gradient rows into one dense
    table per weight, which becomes (or is added to) the weight's ``.grad`` when the block ends.

    Why: autograd gives each lookup a gradient of its own, a whole table of zeros with the looked-up rows added. A
    SASRec step with random batches looks items up three times per pass in up to four passes: twelve tables built,
    zeroed and summed per step, which on a CPU with little memory bandwidth was a sixth of the step (compute
    notebook). The pool zeroes one table per step; the gradient is the same to rounding. CPU tables only (a GPU has
    the bandwidth, and its index_add_ is not deterministic), and training steps only: the pool works by side
    effect, which ``torch.autograd.grad`` (sharpness, landscapes) would not see."""

    def __init__(self, *modules: torch.nn.Module):
        tables = {id(m): m for module in modules for m in module.modules()
                  if isinstance(m, torch.nn.Embedding) and m.num_embeddings >= POOLED_GRADIENT_MIN_ROWS
                  and m.weight.device.type == "cpu" and not (m.sparse or m.scale_grad_by_freq or m.max_norm)}
        self.tables = list(tables.values())
        # (id(weight), padding_idx) -> (weight, pool): one pool per weight, unless tables share it with other padding
        self.pools: dict[tuple[int, int | None], tuple[torch.Tensor, torch.Tensor]] = {}

    def lookup(self, table: torch.nn.Embedding, indices: torch.Tensor) -> torch.Tensor:
        return _LookupIntoPool.apply(table.weight, indices, table.padding_idx, self)

    def add(self, weight: torch.Tensor, indices: torch.Tensor, rows: torch.Tensor, padding_idx: int | None) -> None:
        key = (id(weight), padding_idx)
        if key not in self.pools:
            self.pools[key] = (weight, torch.zeros_like(weight))
        self.pools[key][1].index_add_(0, indices, rows.to(weight.dtype))

    def __enter__(self) -> "LookupGradientPool":
        for table in self.tables:  # an instance attribute shadows nn.Embedding.forward for this block only
            table.forward = functools.partial(self.lookup, table)
        return self

    def __exit__(self, exc_type, *_) -> None:
        for table in self.tables:
            del table.forward
        if exc_type is None:
            for (_, padding_idx), (weight, pool) in self.pools.items():
                if padding_idx is not None:
                    pool[padding_idx] = 0  # nn.Embedding's promise: the padding row gets no lookup gradient
                weight.grad = pool if weight.grad is None else weight.grad.add_(pool)
        self.pools.clear()


class Trainer:
    """Trains ``model`` on ``split`` with the run's objective and update rule.

    Args:
        cfg: the run's Config (epochs, patience, select_metric, batch_size, lr, update, ...).
        split: the leave-one-out split.
        model: an encoder from seqrec.models.
        device: where to train.
        checkpoint: file written after every epoch; if it exists, training resumes from it.
        progress: show a tqdm bar with the loss and validation NDCG@10.
        objective: the training signal (default: the one ``cfg`` names, seqrec.objectives.build_objective).
        on_epoch: called with each finished epoch's history entry (e.g. to report progress elsewhere).
    """

    def __init__(self, cfg: Config, split: Split, model: torch.nn.Module, device: torch.device,
                 checkpoint: Path | None = None, progress: bool = True, objective: Objective | None = None,
                 on_epoch: Callable[[dict], None] | None = None):
        self.cfg, self.split, self.device = cfg, split, device
        self.model = model.to(device)
        self.objective = (objective or build_objective(cfg, split.dataset)).to(device)
        self.update = build_update(cfg, [*self.model.parameters(), *self.objective.parameters()])
        self.checkpoint, self.progress, self.on_epoch = checkpoint, progress, on_epoch
        self.rng = np.random.default_rng(cfg.seed)
        self.rows = TrainingRows(split, self.rng, device, cfg.train_fraction)
        # state that a checkpoint carries
        self.epoch, self.history = 0, []
        self.best_score, self.best_epoch, self.best_state, self.bad_epochs = -1.0, -1, None, 0
        self.provenance: list[str] = []  # one entry per process that trained part of this run

    def batch_losses(self, batch) -> dict[str, torch.Tensor]:
        """The objective's loss components on one batch (under bf16 autocast when the run asks for it)."""
        with autocast(self.device, self.cfg.bf16):
            return self.objective(self.model, batch)

    def epoch_batches(self) -> list[np.ndarray]:
        """This epoch's batches of sample indices (draws from the run's RNG)."""
        lengths = self.objective.sample_lengths(self.rows)
        return length_batches(lengths, self.cfg.batch_size, self.rng, bucket=self.cfg.bucket)

    def train_epoch(self) -> dict[str, float]:
        """One pass over the training samples; returns the mean of each loss component and their sum ("total")."""
        self.objective.start_epoch(self.epoch, self.model, self.rows)
        return self.train_batches(self.epoch_batches())

    def train_batches(self, batches: list[np.ndarray]) -> dict[str, float]:
        """One update per batch; the mean of each loss component over the batches' samples."""
        self.model.train()
        self.objective.train()
        sums, count = {}, 0
        for samples in batches:
            batch = self.objective.make_batch(self.rows, samples)

            def closure() -> dict[str, float]:
                self.update.optimizer.zero_grad(set_to_none=True)
                with LookupGradientPool(self.model, self.objective):
                    losses = self.batch_losses(batch)
                    total = sum(losses.values())
                    if not torch.isfinite(total):
                        raise TrainingError(f"{self.cfg.model}/{self.cfg.dataset}: the loss became {total.item()} "
                                            f"in epoch {self.epoch} (learning rate {self.cfg.lr} too high?)")
                    total.backward()
                return {"total": total.item(), **{name: value.item() for name, value in losses.items()}}

            for name, value in self.update.step(closure).items():
                sums[name] = sums.get(name, 0.0) + value * len(samples)
            count += len(samples)
        return {name: value / max(count, 1) for name, value in sums.items()}

    def fit(self, provenance: str | None = None) -> dict:
        """Train until ``epochs`` or early stopping; return the history and test metrics of the best epoch.

        ``provenance`` (e.g. the code's commit) is logged with the epoch it starts from, so a run resumed
        by later code says so.
        """
        self._resume()
        if provenance is not None:
            self.provenance.append(f"{provenance} from epoch {self.epoch}")
        bar = tqdm(total=self.cfg.epochs, initial=self.epoch, desc=f"{self.cfg.model}/{self.cfg.dataset}",
                   disable=not self.progress, leave=False)
        while self.epoch < self.cfg.epochs and self.bad_epochs < self.cfg.patience:
            started = time.perf_counter()
            losses = self.train_epoch()
            loss = losses.pop("total")
            trained = time.perf_counter()
            valid = self.evaluate("valid") if self.validates else None
            self.history.append({"epoch": self.epoch, "loss": loss, "losses": losses, "valid": valid,
                                 "train_seconds": trained - started, "eval_seconds": time.perf_counter() - trained})
            self._select(valid[self.cfg.select_metric] if self.validates else float(self.epoch))
            self.epoch += 1
            self._save()
            bar.update(1)
            if self.on_epoch is not None:
                self.on_epoch(self.history[-1])
            bar.set_postfix(loss=f"{loss:.4f}", **({"ndcg10": f"{valid['NDCG@10']:.4f}"} if valid else {}))
        bar.close()
        self.model.load_state_dict(self.best_state)
        test = self.evaluate("test") if self.validates else None
        return {"history": self.history, "best_epoch": self.best_epoch,
                "valid": self.history[self.best_epoch]["valid"], "test": test,
                "stopped_early": self.bad_epochs >= self.cfg.patience, "provenance": self.provenance,
                "weights": self.best_state}

    @property
    def validates(self) -> bool:
        """False for a pre-training run: it trains its epochs and keeps the last weights, as S3Rec's checkpoints."""
        return self.cfg.objective != "s3rec"

    def evaluate(self, role: str) -> dict:
        return evaluate(self.model, self.split, role, self.device, self.cfg.bf16, ties=self.cfg.ties,
                        repeated_targets=self.cfg.repeated_targets)

    def _select(self, score: float) -> None:
        # Strict improvement, as in the family's early stopping.
        if score > self.best_score:
            self.best_score, self.best_epoch, self.bad_epochs = score, self.epoch, 0
            self.best_state = copy.deepcopy(self.model.state_dict())
        else:
            self.bad_epochs += 1

    def _state(self) -> dict:
        return {"epoch": self.epoch, "history": self.history, "best_score": self.best_score,
                "best_epoch": self.best_epoch, "best_state": self.best_state, "bad_epochs": self.bad_epochs,
                "provenance": self.provenance,
                "model": self.model.state_dict(), "objective": self.objective.state_dict(),
                "update": self.update.state_dict(),
                "numpy_rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}

    def _save(self) -> None:
        if self.checkpoint is None:
            return
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        partial = self.checkpoint.with_suffix(".partial")
        torch.save(self._state(), partial)
        os.replace(partial, self.checkpoint)  # atomic: a kill never leaves a half-written checkpoint

    def _resume(self) -> None:
        if self.checkpoint is None or not self.checkpoint.exists():
            return
        # RNG states must stay on the CPU; load_state_dict moves weights and optimiser state to the device.
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=False)
        if "update" not in state:
            raise TrainingError(f"{self.checkpoint} was written by code older than commit 384752c (no update-rule "
                                "state); delete it to train this run from the start")
        self.model.load_state_dict(state["model"])
        self.objective.load_state_dict(state["objective"])
        self.update.load_state_dict(state["update"])
        self.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        for key in ("epoch", "history", "best_score", "best_epoch", "best_state", "bad_epochs", "provenance"):
            setattr(self, key, state[key])
