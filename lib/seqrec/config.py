"""Run configuration: one frozen dataclass, three named profiles, type-checked overrides.

Config is code (no YAML, no eval): ``make_config("cpu", model="sasrec", dataset="Beauty", seed=1)``
builds the profile's defaults and applies overrides, each checked for type and range.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import ConfigError

MODELS = ("sasrec",)
OBJECTIVES = ("bce", "ce")
DATASETS = ("Beauty", "Sports_and_Outdoors", "Toys_and_Games", "Yelp", "ML-1M", "LastFM")
PROFILES = ("smoke", "cpu", "paper")
METRIC_KS = (5, 10, 20)
METRICS = tuple(f"{m}@{k}" for m in ("HR", "NDCG") for k in METRIC_KS)
TIES = ("expected", "optimistic")
REPEATED_TARGETS = ("miss", "rank")


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything that determines a run's result (and therefore its record key)."""

    model: str = "sasrec"
    dataset: str = "Beauty"
    objective: str = "bce"  # next-item loss: "bce" (1 sampled negative per position) or "ce" (all items)
    seed: int = 1
    profile: str = "cpu"
    # encoder (SASRec code family defaults, REFERENCE.md section 0)
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 2
    dropout: float = 0.5  # embedding, attention-output and FFN dropout
    attn_dropout: float = 0.5  # dropout on attention probabilities
    max_len: int = 50
    # optimisation
    epochs: int = 300
    patience: int = 40  # epochs without strict improvement of select_metric before stopping
    select_metric: str = "NDCG@20"
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    bf16: bool = False  # bf16 autocast for the forward pass
    bucket: bool = True  # group users of similar length and trim padding per batch
    max_users: int = 0  # keep only the first N users (0 = all); the smoke profile's data slice
    # evaluation protocol switches (seqrec.metrics; book/protocol.md lists each paper's choice)
    ties: str = "expected"  # "expected": exact expectation under random tie-breaking; "optimistic": target wins
    repeated_targets: str = "miss"  # a held-out item already in the history: "miss" (code family) or "rank"

    def __post_init__(self) -> None:
        validate(self)


PROFILE_DEFAULTS: dict[str, dict] = {
    # CI and tests: a tiny slice of the data, a tiny model, two epochs.
    "smoke": dict(d_model=16, epochs=2, patience=2, max_users=300, batch_size=64),
    # What these 2-core machines can afford; every cut is listed on the book's deviations page.
    "cpu": dict(),
    # The papers' settings, for a GPU.
    "paper": dict(),
}


def make_config(profile: str = "cpu", **overrides) -> Config:
    """Build a Config from a profile's defaults plus overrides (checked, with clear errors)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")
    values = {**PROFILE_DEFAULTS[profile], **overrides, "profile": profile}
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
    return Config(**values)


# Chosen by their own command-line flags (--model, --dataset, --seed, --profile), not by --set.
RUN_IDENTITY = ("model", "dataset", "seed", "profile")


def parse_override(text: str) -> tuple[str, object]:
    """Parse a command-line ``key=value`` into a typed pair, using the field's declared type."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise ConfigError(f"override {text!r} must look like key=value")
    if key in RUN_IDENTITY:
        raise ConfigError(f"{key} is set with --{key}, not --set")
    fields = {f.name: f for f in dataclasses.fields(Config)}
    if key not in fields:
        raise ConfigError(f"unknown config key {key!r}; known keys: {', '.join(sorted(fields))}")
    kind = type(fields[key].default)
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return key, raw.lower() in ("true", "1")
        return key, kind(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r}: expected a {kind.__name__}") from None


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(cfg: Config) -> None:
    """Reject values of the wrong type or out of range, naming the field."""
    for f in dataclasses.fields(cfg):
        value, kind = getattr(cfg, f.name), type(f.default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(cfg, f.name, float(value))
            continue
        _check(isinstance(value, kind) and (kind is bool or not isinstance(value, bool)),
               f"{f.name}={value!r}: expected a {kind.__name__}")
    _check(cfg.model in MODELS, f"unknown model {cfg.model!r}; known models: {', '.join(MODELS)}")
    _check(cfg.dataset in DATASETS, f"unknown dataset {cfg.dataset!r}; known datasets: {', '.join(DATASETS)}")
    _check(cfg.objective in OBJECTIVES, f"unknown objective {cfg.objective!r}; known: {', '.join(OBJECTIVES)}")
    _check(cfg.profile in PROFILES, f"unknown profile {cfg.profile!r}; known profiles: {', '.join(PROFILES)}")
    _check(cfg.ties in TIES, f"ties={cfg.ties!r}; known: {', '.join(TIES)}")
    _check(cfg.repeated_targets in REPEATED_TARGETS,
           f"repeated_targets={cfg.repeated_targets!r}; known: {', '.join(REPEATED_TARGETS)}")
    _check(cfg.select_metric in METRICS, f"select_metric={cfg.select_metric!r}; known: {', '.join(METRICS)}")
    for name in ("d_model", "n_layers", "n_heads", "max_len", "epochs", "patience", "batch_size"):
        _check(getattr(cfg, name) >= 1, f"{name}={getattr(cfg, name)} must be at least 1")
    _check(cfg.d_model % cfg.n_heads == 0, f"d_model={cfg.d_model} must be divisible by n_heads={cfg.n_heads}")
    for name in ("dropout", "attn_dropout"):
        _check(0.0 <= getattr(cfg, name) < 1.0, f"{name}={getattr(cfg, name)} must be in [0, 1)")
    _check(math.isfinite(cfg.lr) and cfg.lr > 0, f"lr={cfg.lr} must be a positive number")
    _check(math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0,
           f"weight_decay={cfg.weight_decay} must be a non-negative number")
    _check(0 <= cfg.seed < 2**32, f"seed={cfg.seed} must be in [0, 2**32)")
    _check(cfg.max_users >= 0, f"max_users={cfg.max_users} must be non-negative (0 = all users)")


def as_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


__all__ = ["Config", "make_config", "parse_override", "validate", "as_dict", "MODELS", "DATASETS",
           "PROFILES", "OBJECTIVES", "METRICS", "METRIC_KS"]
