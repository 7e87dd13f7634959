"""One Trainer for every model: epochs, validation each epoch, early stopping, test once on the best
checkpoint, checkpoint after every epoch and resume after a kill with the same final result.
"""
from __future__ import annotations

import contextlib
import copy
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from .config import Config
from .data import NegativeSampler, Split, length_batches, trim
from .errors import ConfigError, TrainingError
from .metrics import metrics_from_ranks, target_ranks
from .objectives import OBJECTIVES, TrainBatch

EVAL_BATCH_SIZE = 128  # keeps a batch's score matrix in cache: 2.5x faster ranking than 1024 on CPU
# Passes per random batch (bucket=False): 4 made a Beauty step 3.1x faster than one padded pass; 8 and 16 no faster.
RANDOM_BATCH_CHUNKS = 4


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


def autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.no_grad()
def evaluate(model, split: Split, role: str, device: torch.device, bf16: bool = False,
             batch_size: int = EVAL_BATCH_SIZE, ties: str = "expected", repeated_targets: str = "miss") -> dict:
    """Full-ranking HR/NDCG@5/10/20 of ``role`` ("valid" or "test") over all users.

    ``ties`` and ``repeated_targets`` are the protocol switches of seqrec.metrics. The result also holds
    ``tied_users``: how many users' targets share their score with at least one eligible item.
    """
    was_training = model.training
    model.eval()
    inputs, targets, lengths = split.inputs(role), split.targets(role), split.input_lengths(role)
    ranks = np.full(len(targets), -1, dtype=np.int64)
    tied = np.zeros(len(targets), dtype=np.int64)
    for users in length_batches(lengths, batch_size, rng=None):
        seq = torch.from_numpy(trim(inputs[users], lengths[users])).to(device)
        with autocast(device, bf16):
            hidden = model.encode(seq)[:, -1]
        scores = model.score(hidden.float())  # (B, n_items + 1) in fp32 even under bf16: bf16 scores tie
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


class Trainer:
    """Trains ``model`` on ``split`` with the objective ``cfg.objective``.

    Args:
        cfg: the run's Config (epochs, patience, select_metric, batch_size, lr, ...).
        split: the leave-one-out split.
        model: an encoder from seqrec.models.
        device: where to train.
        checkpoint: file written after every epoch; if it exists, training resumes from it.
        progress: show a tqdm bar with the loss and validation NDCG@10.
        on_epoch: called with each finished epoch's history entry (e.g. to report progress elsewhere).
    """

    def __init__(self, cfg: Config, split: Split, model: torch.nn.Module, device: torch.device,
                 checkpoint: Path | None = None, progress: bool = True, objective=None,
                 on_epoch: Callable[[dict], None] | None = None):
        self.cfg, self.split, self.device = cfg, split, device
        self.model = model.to(device)
        self.objective = objective or OBJECTIVES[cfg.objective]
        self.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.checkpoint, self.progress, self.on_epoch = checkpoint, progress, on_epoch
        self.rng = np.random.default_rng(cfg.seed)
        self.inputs, self.targets = split.inputs("train"), split.train_targets()
        self.lengths = split.input_lengths("train")
        self.positions_per_user = float((self.targets > 0).sum()) / max(int((self.lengths > 0).sum()), 1)
        self.sampler = NegativeSampler(split) if getattr(self.objective, "needs_negatives", False) else None
        # state that a checkpoint carries
        self.epoch, self.history = 0, []
        self.best_score, self.best_epoch, self.best_state, self.bad_epochs = -1.0, -1, None, 0
        self.provenance: list[str] = []  # one entry per process that trained part of this run

    def make_batch(self, users: np.ndarray, normalizer: float) -> TrainBatch:
        """The users' training rows, trimmed to the longest of them (``normalizer``: see TrainBatch)."""
        lengths = self.lengths[users]
        inputs, targets = trim(self.inputs[users], lengths), trim(self.targets[users], lengths)
        negatives = None
        if self.sampler is not None:
            owners = np.broadcast_to(users[:, None], targets.shape)
            negatives = torch.from_numpy(self.sampler.sample(owners, self.rng) * (targets > 0)).to(self.device)
        return TrainBatch(torch.from_numpy(inputs).to(self.device), torch.from_numpy(targets).to(self.device),
                          negatives, normalizer=normalizer)

    def batch_loss(self, users: np.ndarray) -> torch.Tensor:
        """The loss of one batch: summed per-position losses / (batch size x mean target positions per user).

        A length-bucketed batch is one trimmed pass. A random batch (``bucket=False``, the original code's batches)
        is computed in RANDOM_BATCH_CHUNKS passes over its users sorted by length, each trimmed to its longest
        row: padding keys are masked, so every real position gets the output it gets in the batch padded to
        max_len, and the summed loss (hence the gradient and the Adam step) is that batch's, about 3x faster.
        """
        normalizer = len(users) * self.positions_per_user
        if self.cfg.bucket:
            parts = [users]
        else:
            parts = np.array_split(users[np.argsort(self.lengths[users], kind="stable")], RANDOM_BATCH_CHUNKS)
        loss = 0.0
        for part in (p for p in parts if len(p)):
            with autocast(self.device, self.cfg.bf16):
                loss = loss + self.objective(self.model, self.make_batch(part, normalizer))
        return loss

    def train_epoch(self) -> float:
        self.model.train()
        total, count = 0.0, 0
        for users in length_batches(self.lengths, self.cfg.batch_size, self.rng, bucket=self.cfg.bucket):
            loss = self.batch_loss(users)
            self.optimizer.zero_grad(set_to_none=True)
            if not torch.isfinite(loss):
                raise TrainingError(f"{self.cfg.model}/{self.cfg.dataset}: the loss became {loss.item()} "
                                         f"in epoch {self.epoch} (learning rate {self.cfg.lr} too high?)")
            loss.backward()
            self.optimizer.step()
            total, count = total + loss.item() * len(users), count + len(users)
        return total / max(count, 1)

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
            loss = self.train_epoch()
            trained = time.perf_counter()
            valid = self.evaluate("valid")
            self.history.append({"epoch": self.epoch, "loss": loss, "valid": valid,
                                 "train_seconds": trained - started, "eval_seconds": time.perf_counter() - trained})
            self._select(valid[self.cfg.select_metric])
            self.epoch += 1
            self._save()
            bar.update(1)
            if self.on_epoch is not None:
                self.on_epoch(self.history[-1])
            bar.set_postfix(loss=f"{loss:.4f}", ndcg10=f"{valid['NDCG@10']:.4f}")
        bar.close()
        self.model.load_state_dict(self.best_state)
        test = self.evaluate("test")
        return {"history": self.history, "best_epoch": self.best_epoch,
                "valid": self.history[self.best_epoch]["valid"], "test": test,
                "stopped_early": self.bad_epochs >= self.cfg.patience, "provenance": self.provenance}

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
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
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
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        for key in ("epoch", "history", "best_score", "best_epoch", "best_state", "bad_epochs", "provenance"):
            setattr(self, key, state[key])
