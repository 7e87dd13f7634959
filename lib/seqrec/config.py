"""Run configuration: one frozen dataclass, three named profiles, type-checked overrides.

Config is code (no YAML, no eval): ``make_config("cpu", model="sasrec", dataset="Beauty", seed=1)``
builds the profile's defaults and applies overrides, each checked for type and range.

The flat part holds what every run shares. An update rule or an auxiliary objective brings its own small
frozen group (``sam``, ``cl``), nested in the Config and set as ``make_config(..., sam=dict(rho=0.1))`` in
Python or ``--set sam.rho=0.1`` on the command line. A group's fields may differ from their defaults only
when the group is switched on (``update="sam"``, ``contrast="cl4srec"``): a setting that does nothing is an error.
Likewise, a model keeps the settings it has no use for at the profile's defaults (UNUSED_SETTINGS: GRU4Rec's
n_heads and attn_dropout, Caser's attention, layers, max_len and bucket).

Models: ``sasrec``, ``gru4rec``, ``bert4rec`` (which trains with ``objective="cloze"``, its default through
MODEL_DEFAULTS) and ``caser`` (``objective="caser"``: windows of L items and their next T items, with user ids;
its settings are the ``caser`` group, live with model=caser). ``original_settings(model, dataset)`` gives the
original papers' settings of the baselines as overrides, for the experiment plans to ask for; the profiles'
defaults stay the SASRec family's.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import ConfigError

MODELS = ("sasrec", "gru4rec", "bert4rec", "caser")
ATTENTION_MODELS = ("sasrec", "bert4rec")
_NO_ATTENTION = "no attention"
# model -> {setting: why it does nothing there}: such settings stay at the profile's defaults
UNUSED_SETTINGS = {
    "gru4rec": {"n_heads": _NO_ATTENTION, "attn_dropout": _NO_ATTENTION},
    "caser": {"n_heads": _NO_ATTENTION, "attn_dropout": _NO_ATTENTION,
              "n_layers": "one convolution layer and one fully connected layer; caser.n_h and caser.n_v size them",
              "max_len": "it reads a user's last caser.L items and trains on every window of the whole training "
                         "sequence; caser.L sets the window",
              "bucket": "its samples are all caser.L + caser.T items wide, so every batch is a random one"},
}
# "s3rec": S3Rec's self-supervised pre-training (no validation, no test); "cloze": BERT4Rec's masked-item training;
# "caser": Caser's windows (L items -> the next T) with sampled negatives
OBJECTIVES = ("bce", "ce", "s3rec", "cloze", "caser")
DATASETS = ("Beauty", "Sports_and_Outdoors", "Toys_and_Games", "Yelp", "ML-1M", "LastFM")
PROFILES = ("smoke", "cpu", "paper")
METRIC_KS = (5, 10, 20)
METRICS = tuple(f"{m}@{k}" for m in ("HR", "NDCG") for k in METRIC_KS)
TIES = ("expected", "optimistic")
REPEATED_TARGETS = ("miss", "rank")
UPDATES = ("plain", "sam")
PRETRAININGS = ("none", "s3rec")
CONTRASTS = ("none", "cl4srec", "srma", "coserec")
# CoSeRec: operator sets for short sequences as its code names them (S substitute, I insert, M mask, R reorder, C crop)
COSEREC_SHORT_SETS = ("SI", "SIM", "SIR", "SIC", "SIMR", "SIMC", "SIRC", "SIMRC")
CL_REPRESENTATIONS = ("flat", "real_slots")
NEURON_MASKINGS = ("ffn", "all")  # SRMA: the paper's FFN-only dropout, the code's one p for every hidden dropout
SRMA_VIEWS = ("same", "distinct")
COMPLEMENTS = ("none", "transformer", "gru", "srma")
# SRMA: the extra layers at validation and test: all K (the code) or none (they serve the views alone)
INFERENCE_LAYERS = ("all", "none")


@dataclass(frozen=True, kw_only=True)
class SAMConfig:
    """Sharpness-aware minimisation (Foret et al., 2021) on top of Adam; ``period`` > 1 is LookSAM's cheap form."""

    rho: float = 0.1  # radius of the ascent step (global L2 norm over all trained parameters)
    period: int = 1  # one ascent every `period` steps; the steps between reuse its direction (LookSAM)
    alpha: float = 0.7  # LookSAM: weight of the reused sharpness direction

    def check(self) -> None:
        _check(math.isfinite(self.rho) and self.rho > 0, f"sam.rho={self.rho} must be a positive number")
        _check(self.period >= 1, f"sam.period={self.period} must be at least 1")
        _check(0.0 <= self.alpha <= 10.0, f"sam.alpha={self.alpha} must be in [0, 10]")


@dataclass(frozen=True, kw_only=True)
class ContrastConfig:
    """CL4SRec as the CoSeRec/ICLRec/SRMA code runs it (REFERENCE.md section 1)."""

    weight: float = 0.1  # total loss = next-item + weight x NT-Xent
    tau: float = 1.0  # temperature of the dot-product similarity
    crop: float = 0.2  # kept fraction of a cropped view
    mask: float = 0.7  # fraction of items set to padding (id 0) in a masked view
    reorder: float = 0.2  # length fraction of the shuffled window in a reordered view
    # "flat": the family's representation, all max_len encoder outputs flattened, padding slots included;
    # "real_slots": only the slots holding an item (padding slots contribute zeros; a trimmed pass suffices)
    representation: str = "flat"

    def check(self) -> None:
        _check(math.isfinite(self.weight) and self.weight >= 0, f"cl.weight={self.weight} must be >= 0")
        _check(math.isfinite(self.tau) and self.tau > 0, f"cl.tau={self.tau} must be a positive number")
        for name in ("crop", "mask", "reorder"):
            _check(0.0 <= getattr(self, name) <= 1.0, f"cl.{name}={getattr(self, name)} must be in [0, 1]")
        _check(self.representation in CL_REPRESENTATIONS,
               f"cl.representation={self.representation!r}; known: {', '.join(CL_REPRESENTATIONS)}")


@dataclass(frozen=True, kw_only=True)
class SRMAConfig:
    """SRMA's model augmentations on CL4SRec (Liu et al., 2022; REFERENCE.md sections 2 and 6; seqrec.objectives.srma).

    Defaults are the paper's reading where paper and code disagree; ``srma_settings("code")`` gives the code's. Where
    the paper is silent they are the code's (``inference_layers``: the chapter's SRMA sets "none", see
    ``srma_settings``).
    Neuron masking is dropout with p = the run's ``dropout`` (0 switches it off): "ffn" (paper) drops only in the FFN
    sub-layers and the extra layers, embedding and attention dropout off; "all" (code) uses p for every hidden
    dropout and ``attn_dropout`` on the attention probabilities.
    """

    augment: bool = True  # the views are CL4SRec's augmentations (cl.crop/mask/reorder); False: SRMA w/o D
    neuron_masking: str = "ffn"  # "ffn" (paper) or "all" (code), see above
    layers: int = 2  # K extra layers after the encoder (Linear -> GELU -> dropout -> LN(out + input)); 0: none
    drop: int = 1  # M < K of them skipped in each training forward, drawn uniformly for the whole batch; 0: none
    views: str = "same"  # "same": both views share the dropped layers (one forward, the code's default); "distinct"
    rec_layers: bool = False  # the next-item loss goes through the extra layers too, dropping M (code: --rec_model_aug)
    # the extra layers at validation and test: "all" K, unscaled (the code), or "none": the blocks alone predict, as the
    # next-item loss trains them without rec_layers, and the extra layers only make the views (a projection head)
    inference_layers: str = "all"
    # a frozen pre-trained encoder (its own run, seqrec.runs.complement_config): "transformer" (1 layer) or "gru"
    # (paper: gamma x its output added to the first view's representation); "srma" (code: a frozen SRMA run with live
    # dropout, contrast += gamma x [NT-Xent(v1, h) + NT-Xent(v2, h)] on the un-augmented input h)
    complement: str = "none"
    gamma: float = 0.5  # the complement's weight (paper grid 0.005..1, its choice not reported; code README 0.5)
    complement_seed: int = 1  # one complement run per dataset, shared by the seeds (as the code's one checkpoint)

    def check(self) -> None:
        _check(self.neuron_masking in NEURON_MASKINGS,
               f"srma.neuron_masking={self.neuron_masking!r}; known: {', '.join(NEURON_MASKINGS)}")
        _check(self.views in SRMA_VIEWS, f"srma.views={self.views!r}; known: {', '.join(SRMA_VIEWS)}")
        _check(self.complement in COMPLEMENTS, f"srma.complement={self.complement!r}; known: {', '.join(COMPLEMENTS)}")
        _check(self.layers >= 0, f"srma.layers={self.layers} must be >= 0")
        _check(0 <= self.drop < max(self.layers, 1), f"srma.drop={self.drop} must be in [0, srma.layers={self.layers})"
                                                     " (0 when there are no extra layers)")
        _check(math.isfinite(self.gamma) and self.gamma >= 0, f"srma.gamma={self.gamma} must be >= 0")
        _check(0 <= self.complement_seed < 2**32, f"srma.complement_seed={self.complement_seed} must be in [0, 2**32)")
        default = SRMAConfig()
        _check(self.drop > 0 or self.views == default.views,
               f"srma.views={self.views} does nothing without layer dropping (srma.drop=0)")
        _check(self.layers > 0 or not self.rec_layers, "srma.rec_layers=True does nothing without srma.layers")
        _check(self.inference_layers in INFERENCE_LAYERS,
               f"srma.inference_layers={self.inference_layers!r}; known: {', '.join(INFERENCE_LAYERS)}")
        _check(self.layers > 0 or self.inference_layers == default.inference_layers,
               f"srma.inference_layers={self.inference_layers} does nothing without srma.layers")
        _check(self.inference_layers == "all" or not self.rec_layers,
               "srma.inference_layers=none with srma.rec_layers=True would predict without the extra layers that the "
               "next-item loss trains through")
        for name in ("gamma", "complement_seed"):
            _check(self.complement != "none" or getattr(self, name) == getattr(default, name),
                   f"srma.{name}={getattr(self, name)} does nothing with srma.complement=none")


@dataclass(frozen=True, kw_only=True)
class CoSeRecConfig:
    """CoSeRec's insert and substitute on top of CL4SRec (Liu et al., 2021; REFERENCE.md section 1;
    seqrec.objectives.coserec). The ``cl`` group's settings (crop, mask, reorder, weight, tau, representation) apply.

    Defaults are the code's main.py; ``coserec_settings(dataset)`` gives its per-dataset scripts'.
    """

    insert: float = 0.4  # insert max(int(insert * n), 1) similar items, each before a random item
    substitute: float = 0.1  # replace max(int(substitute * n), 1) random items by their similar items
    threshold: int = 4  # sequences longer than this draw from all five operators, the others from short_set
    short_set: str = "SIM"  # operators for short sequences, as the code names them (COSEREC_SHORT_SETS)
    warm_up: int = 160  # offline similarity while epoch (0-based) <= warm_up, then the hybrid one, refreshed each epoch

    def check(self) -> None:
        for name in ("insert", "substitute"):
            _check(0.0 <= getattr(self, name) <= 1.0, f"coserec.{name}={getattr(self, name)} must be in [0, 1]")
        _check(self.threshold >= 0, f"coserec.threshold={self.threshold} must be >= 0 (0: every sequence is long)")
        _check(self.short_set in COSEREC_SHORT_SETS,
               f"coserec.short_set={self.short_set!r}; known: {', '.join(COSEREC_SHORT_SETS)}")
        _check(self.warm_up >= 0, f"coserec.warm_up={self.warm_up} must be >= 0")


@dataclass(frozen=True, kw_only=True)
class S3RecConfig:
    """S3Rec's pre-training (Zhou et al., CIKM 2020) as its code runs it (REFERENCE.md section 1)."""

    aap: float = 0.2  # weights of the four summed losses: associated attribute prediction,
    mip: float = 1.0  # masked item prediction,
    map: float = 1.0  # masked attribute prediction,
    sp: float = 0.5  # segment prediction
    mask_p: float = 0.2  # probability of masking each item but the last (always masked)
    epochs: int = 0  # pre-training epochs; 0: the epoch the S3Rec README fine-tunes from (PRETRAIN_EPOCHS), at most
    # the fine-tuning run's own `epochs`
    batch_size: int = 100
    seed: int = 1  # one pre-training per dataset, shared by the fine-tuning seeds (as the original: one checkpoint)

    def check(self) -> None:
        for name in ("aap", "mip", "map", "sp"):
            value = getattr(self, name)
            _check(math.isfinite(value) and value >= 0, f"s3rec.{name}={value} must be >= 0")
        _check(0.0 <= self.mask_p < 1.0, f"s3rec.mask_p={self.mask_p} must be in [0, 1)")
        _check(self.epochs >= 0 and self.batch_size >= 1, "s3rec.epochs must be >= 0 and s3rec.batch_size >= 1")
        _check(0 <= self.seed < 2**32, f"s3rec.seed={self.seed} must be in [0, 2**32)")


@dataclass(frozen=True, kw_only=True)
class ClozeConfig:
    """BERT4Rec's masked-item (cloze) training (Sun et al., CIKM 2019; seqrec.objectives.cloze)."""

    mask_p: float = 0.6  # each item becomes the mask token with this probability (at least one item per sample)
    # share of samples with only their last item masked: the authors' code adds one such copy of every training
    # sequence to its 10 randomly masked copies (dupe_factor=10), 1 sample in 11
    last_item_share: float = 1 / 11

    def check(self) -> None:
        _check(0.0 < self.mask_p <= 1.0, f"cloze.mask_p={self.mask_p} must be in (0, 1]")
        _check(0.0 <= self.last_item_share <= 1.0, f"cloze.last_item_share={self.last_item_share} must be in [0, 1]")


@dataclass(frozen=True, kw_only=True)
class CaserConfig:
    """Caser's windows and convolutions (Tang & Wang, WSDM 2018; seqrec.models.caser, seqrec.objectives.caser)."""

    L: int = 5  # items in an input window (the Markov order); inference reads a user's last L items
    T: int = 3  # next items after a window: its targets
    n_h: int = 16  # horizontal filters of each height 1..L
    n_v: int = 4  # vertical filters (L x 1)
    negatives: int = 3  # sampled negatives per target

    def check(self) -> None:
        _check(self.L >= 1 and self.T >= 1, f"caser.L={self.L} and caser.T={self.T} must be at least 1")
        _check(self.n_h >= 0 and self.n_v >= 0 and self.n_h + self.n_v >= 1,
               f"caser.n_h={self.n_h} and caser.n_v={self.n_v} must be >= 0, with at least one filter in all")
        _check(self.negatives >= 1, f"caser.negatives={self.negatives} must be at least 1")


# The S3Rec README fine-tunes from the checkpoint of this pre-training epoch.
PRETRAIN_EPOCHS = {"Beauty": 150, "Toys_and_Games": 150, "Sports_and_Outdoors": 100, "Yelp": 100}

# Each group and the (field, values) pairs under which it is live (any one suffices).
GROUPS = {"sam": (("update", ("sam",)),), "cl": (("contrast", ("cl4srec", "srma", "coserec")),),
          "srma": (("contrast", ("srma",)),), "coserec": (("contrast", ("coserec",)),),
          "s3rec": (("objective", ("s3rec",)), ("pretrain", ("s3rec",))), "cloze": (("objective", ("cloze",)),),
          "caser": (("model", ("caser",)),)}


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything that determines a run's result (and therefore its record key)."""

    model: str = "sasrec"
    dataset: str = "Beauty"
    # next-item loss: "bce" (1 sampled negative per position) or "ce" (all items); "cloze": masked items (BERT4Rec);
    # "caser": Caser's windows
    objective: str = "bce"
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
    bf16: bool = False  # bf16 autocast where the device computes bf16 natively, else fp32 (train.native_bf16)
    bucket: bool = True  # group users of similar length and trim padding per batch
    max_users: int = 0  # keep only the first N users (0 = all); the smoke profile's data slice
    # evaluation protocol switches (seqrec.metrics; book/protocol.md lists each paper's choice)
    ties: str = "expected"  # "expected": exact expectation under random tie-breaking; "optimistic": target wins
    repeated_targets: str = "miss"  # a held-out item already in the history: "miss" (code family) or "rank"
    # training data and method
    train_fraction: float = 1.0  # keep the training sequences of the first fraction of users (valid/test untouched)
    update: str = "plain"  # "plain" Adam steps or "sam" (seqrec.optim)
    sam: SAMConfig = SAMConfig()
    # auxiliary contrastive objective: "none", "cl4srec", "coserec" (CL4SRec + insert/substitute) or "srma"
    # (CL4SRec + model augmentation)
    contrast: str = "none"
    cl: ContrastConfig = ContrastConfig()
    coserec: CoSeRecConfig = CoSeRecConfig()  # CoSeRec's insert, substitute and item similarity (contrast="coserec")
    srma: SRMAConfig = SRMAConfig()  # SRMA's model augmentations (contrast="srma")
    pretrain: str = "none"  # start from the weights of a pre-training run: "none" or "s3rec" (runs.pretraining_config)
    s3rec: S3RecConfig = S3RecConfig()
    cloze: ClozeConfig = ClozeConfig()
    caser: CaserConfig = CaserConfig()

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


# What a model needs other than the profile's defaults to be a valid run: BERT4Rec trains only with its cloze
# objective, Caser only with its windows. Applied after the profile's defaults, before the overrides.
MODEL_DEFAULTS: dict[str, dict] = {"bert4rec": dict(objective="cloze"), "caser": dict(objective="caser")}


def make_config(profile: str = "cpu", **overrides) -> Config:
    """Build a Config from a profile's defaults plus overrides (checked, with clear errors).

    A group is overridden by a dict of its fields (``sam=dict(rho=0.5)``) or by dotted keys
    (``**{"sam.rho": 0.5}``, what ``parse_override`` returns); unnamed fields keep their defaults.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")
    values = {**PROFILE_DEFAULTS[profile], "profile": profile}
    values.update(MODEL_DEFAULTS.get(overrides.get("model", Config.model), {}))
    group_values: dict[str, dict] = {}
    for key, value in overrides.items():
        group, dot, field = key.partition(".")
        if dot:
            group_values.setdefault(group, {})[field] = value
        elif key in GROUPS and isinstance(value, dict):
            group_values.setdefault(key, {}).update(value)
        else:
            values[key] = value
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(values) - known) + sorted(f"{g}.*" for g in set(group_values) - set(GROUPS))
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
    for group, fields in group_values.items():
        kind = _group_type(group)
        names = {f.name for f in dataclasses.fields(kind)}
        if set(fields) - names:
            raise ConfigError(f"unknown key(s) {', '.join(f'{group}.{k}' for k in sorted(set(fields) - names))}; "
                              f"known: {', '.join(f'{group}.{k}' for k in sorted(names))}")
        base = values.get(group, kind())
        values[group] = dataclasses.replace(base, **fields)
    return Config(**values)


def _group_type(group: str) -> type:
    return type(getattr(Config, group))


# Chosen by their own command-line flags (--model, --dataset, --seed, --profile), not by --set.
RUN_IDENTITY = ("model", "dataset", "seed", "profile")


def parse_override(text: str) -> tuple[str, object]:
    """Parse a command-line ``key=value`` into a typed pair, using the field's declared type."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise ConfigError(f"override {text!r} must look like key=value")
    if key in RUN_IDENTITY:
        raise ConfigError(f"{key} is set with --{key}, not --set")
    group, dot, name = key.partition(".")
    owner = _group_type(group) if dot and group in GROUPS else Config
    fields = {f.name: f for f in dataclasses.fields(owner)}
    if (name if dot else key) not in fields or (not dot and key in GROUPS):
        known = sorted(k for k in fields if k not in GROUPS) + [
            f"{g}.{f.name}" for g in GROUPS for f in dataclasses.fields(_group_type(g))]
        raise ConfigError(f"unknown config key {key!r}; known keys: {', '.join(known)}")
    kind = type(fields[name if dot else key].default)
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


def _check_types(obj, prefix: str = "") -> None:
    """Each field holds its default's type (an int where a float is due is converted), naming the field."""
    for f in dataclasses.fields(obj):
        value, kind = getattr(obj, f.name), type(f.default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(obj, f.name, float(value))
            continue
        if kind is float and value == 0.0 and isinstance(value, float):  # -0.0 equals 0.0 but prints as "-0.0":
            object.__setattr__(obj, f.name, 0.0)  # one key for both, whichever the run-key cache sees first
        _check(isinstance(value, kind) and (kind is bool or not isinstance(value, bool)),
               f"{prefix}{f.name}={value!r}: expected a {kind.__name__}")
        if dataclasses.is_dataclass(value):
            _check_types(value, f"{f.name}.")


def validate(cfg: Config) -> None:
    """Reject values of the wrong type or out of range, naming the field."""
    _check_types(cfg)
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
    _check(cfg.update in UPDATES, f"update={cfg.update!r}; known: {', '.join(UPDATES)}")
    _check(cfg.contrast in CONTRASTS, f"contrast={cfg.contrast!r}; known: {', '.join(CONTRASTS)}")
    _check(cfg.pretrain in PRETRAININGS, f"pretrain={cfg.pretrain!r}; known: {', '.join(PRETRAININGS)}")
    _check_model_objective(cfg)  # before the settings: an undefined pairing is the error to report
    _check_model_settings(cfg)
    _check_srma(cfg)
    for name in ("dropout", "attn_dropout"):
        _check(0.0 <= getattr(cfg, name) < 1.0, f"{name}={getattr(cfg, name)} must be in [0, 1)")
    _check(math.isfinite(cfg.lr) and cfg.lr > 0, f"lr={cfg.lr} must be a positive number")
    _check(math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0,
           f"weight_decay={cfg.weight_decay} must be a non-negative number")
    _check(0 <= cfg.seed < 2**32, f"seed={cfg.seed} must be in [0, 2**32)")
    _check(cfg.max_users >= 0, f"max_users={cfg.max_users} must be non-negative (0 = all users)")
    _check(0.0 < cfg.train_fraction <= 1.0, f"train_fraction={cfg.train_fraction} must be in (0, 1]")
    _check(cfg.contrast == "none" or not cfg.bucket,
           f"contrast={cfg.contrast} needs bucket=False: in length-bucketed batches every in-batch negative would be "
           "a user of the same length (the original draws random batches)")
    _check(cfg.objective != "s3rec" or cfg.pretrain == "none", "a pre-training run cannot itself start from one")
    _check(cfg.objective != "s3rec" or cfg.contrast == "none",
           f"contrast={cfg.contrast} does nothing in S3Rec pre-training (objective=s3rec)")
    _check(cfg.sam.period > 1 or cfg.sam.alpha == SAMConfig().alpha,
           f"sam.alpha={cfg.sam.alpha} takes effect only with sam.period > 1 (LookSAM)")
    for group, switches in GROUPS.items():
        settings = getattr(cfg, group)
        settings.check()
        when = " or ".join(f"{field}={value}" for field, values in switches for value in values)
        _check(group in live_groups(cfg) or settings == type(settings)(),
               f"{group}.* settings take effect only with {when}")


def _profile_default(profile: str, name: str):
    return PROFILE_DEFAULTS[profile].get(name, getattr(Config, name))


def _check_model_settings(cfg: Config) -> None:
    """Attention models split d_model into heads; a model keeps the settings it has no use for at their defaults.

    Caser reads its last caser.L items, so the split (max_len wide) must hold them.
    """
    if cfg.model in ATTENTION_MODELS:
        _check(cfg.d_model % cfg.n_heads == 0, f"d_model={cfg.d_model} must be divisible by n_heads={cfg.n_heads}")
    for name, reason in UNUSED_SETTINGS.get(cfg.model, {}).items():
        default = _profile_default(cfg.profile, name)
        _check(getattr(cfg, name) == default, f"{name}={getattr(cfg, name)} does nothing for model={cfg.model} "
                                              f"({reason}); leave it at its default {default}")
    _check(cfg.model != "caser" or cfg.caser.L <= cfg.max_len,
           f"caser.L={cfg.caser.L} exceeds max_len={cfg.max_len}: evaluation feeds a user's last max_len items")


def _check_srma(cfg: Config) -> None:
    """SRMA's settings that do nothing in a given combination are errors, as every group's."""
    if cfg.contrast != "srma":
        return
    _check(cfg.pretrain == "none", f"pretrain={cfg.pretrain} with contrast=srma: SRMA trains from scratch "
                                   "(its extra layers have no pre-trained weights)")
    default = _profile_default(cfg.profile, "attn_dropout")
    _check(cfg.srma.neuron_masking == "all" or cfg.attn_dropout == default,
           f"attn_dropout={cfg.attn_dropout} does nothing with srma.neuron_masking=ffn (the paper's neuron masking: "
           f"dropout only in the FFN layers); leave it at its default {default}, or use srma.neuron_masking=all")
    for name in ("crop", "mask", "reorder"):
        _check(cfg.srma.augment or getattr(cfg.cl, name) == getattr(ContrastConfig(), name),
               f"cl.{name}={getattr(cfg.cl, name)} does nothing with srma.augment=False (no data augmentation)")


def _check_model_objective(cfg: Config) -> None:
    """The pairs of model and training signal that are defined: BERT4Rec <-> cloze; Caser <-> its windows; S3Rec and
    CL4SRec on SASRec."""
    _check(cfg.model != "bert4rec" or cfg.objective == "cloze",
           f"model=bert4rec trains with objective=cloze (masked items), not {cfg.objective}: a next-item loss on its "
           "bidirectional encoder would let every position see its own target")
    _check(cfg.objective != "cloze" or cfg.model == "bert4rec",
           f"objective=cloze needs model=bert4rec (a bidirectional encoder with a mask token), not {cfg.model}")
    _check(cfg.model != "caser" or cfg.objective == "caser",
           f"model=caser trains with objective=caser (windows of caser.L items, their next caser.T items and the "
           f"user id), not {cfg.objective}: it has one output per sequence, not one per position")
    _check(cfg.objective != "caser" or cfg.model == "caser",
           f"objective=caser needs model=caser (one output per window, with a user embedding), not {cfg.model}")
    _check(cfg.model == "sasrec" or "s3rec" not in (cfg.objective, cfg.pretrain),
           f"S3Rec pre-training and fine-tuning are defined for model=sasrec, not {cfg.model}")
    _check(cfg.model == "sasrec" or cfg.contrast == "none",
           f"contrast={cfg.contrast} (CL4SRec) is defined on the SASRec encoder (model=sasrec), not {cfg.model}")


def original_settings(model: str, dataset: str) -> dict:
    """The original paper's settings of a baseline, where they fit our protocol, as ``make_config`` overrides.

    REFERENCE.md section 1 recovers none from the SRMA family for these baselines ("authors' code, tuned per the
    original paper"). Use: ``make_config("cpu", dataset=d, seed=s, **original_settings("bert4rec", d))``.

    - GRU4Rec (Hidasi et al., ICLR 2016): one GRU layer of 100 units. Its dropout, loss and optimiser do not carry
      over (session-parallel TOP1/BPR with Adagrad; seqrec.models.gru4rec): dropout and objective are left to the plan.
    - BERT4Rec (Sun et al., CIKM 2019, and run_beauty.sh of its code): d 64, 2 layers, 2 heads, dropout 0.1
      (attention too), mask proportion 0.6 for sparse data like Beauty (0.2 for ML-1M), Adam lr 1e-4, batch 256,
      max_len 50 (200 for ML-1M). Datasets the paper did not use get the sparse-data settings.
    - Caser (Tang & Wang, WSDM 2018, and train_caser.py of its code): d 50, L 5, T 3, 16 horizontal filters per
      height, 4 vertical filters, dropout 0.5, 3 negatives per target, Adam lr 1e-3 with L2 (weight decay) 1e-6,
      batch 512, on every dataset (the paper tunes d and L per dataset; these are its code's defaults).
    """
    if model == "gru4rec":
        return dict(model="gru4rec", n_layers=1, d_model=100)
    if model == "bert4rec":
        movielens = dataset == "ML-1M"
        return dict(model="bert4rec", objective="cloze", d_model=64, n_layers=2, n_heads=2, dropout=0.1,
                    attn_dropout=0.1, lr=1e-4, batch_size=256, max_len=200 if movielens else 50,
                    cloze=dict(mask_p=0.2 if movielens else 0.6))
    if model == "caser":
        return dict(model="caser", objective="caser", d_model=50, dropout=0.5, lr=1e-3, weight_decay=1e-6,
                    batch_size=512, caser=dict(L=5, T=3, n_h=16, n_v=4, negatives=3))
    raise ConfigError(f"no original settings for model={model!r}: only the baselines have them (gru4rec, bert4rec, "
                      f"caser); SASRec's are the profiles' defaults")


def srma_settings(version: str = "paper") -> dict:
    """SRMA's settings as ``make_config`` overrides: the paper's reading (the SRMAConfig defaults, but for which
    layers predict) or its code's.

    - "paper": K = 2 extra layers, M = 1 dropped (the paper's best, Figure 3), the same dropped layers for both views,
      neuron masking on the FFN layers with p = dropout (0.5, the code's README), no encoder complementing (the paper
      does not say which complement its Table 1 used; Table 3 compares them: srma.complement "transformer"/"gru"),
      and the blocks alone predicting (srma.inference_layers "none"). The paper does not say which layers predict;
      of the three readings run on Toys (seqrec.experiments.srma.READINGS) this one has the best validation NDCG@20
      by far: predicting through extra layers that no training forward applies together collapsed validation.
    - "code": the README's step 2 (github.com/salesforce/SRMA at 879fc79) as it means it: one p = 0.5 for every hidden
      dropout, attention dropout 0.1, K = 2, M = 1, views "same", the next-item loss through the extra layers
      (--rec_model_aug), all K at inference, and the frozen step-1 SRMA run as complement with en_weight 0.5. The
      README as written omits 'sasrec-static', so its pre-trained encoder is loaded but unused: that is
      srma.complement="none".
    """
    shared = dict(contrast="srma", bucket=False, dropout=0.5)
    if version == "paper":
        return dict(shared, srma=dict(layers=2, drop=1, inference_layers="none"))
    if version == "code":
        return dict(shared, attn_dropout=0.1, srma=dict(neuron_masking="all", layers=2, drop=1, views="same",
                                                        rec_layers=True, inference_layers="all", complement="srma",
                                                        gamma=0.5))
    raise ConfigError(f"srma_settings({version!r}): known versions: paper, code")


def coserec_settings(dataset: str, code_reorder: bool = False) -> dict:
    """CoSeRec's settings for ``dataset`` as ``make_config`` overrides (github.com/YChen1993/CoSeRec, src/*.sh).

    - Beauty (beauty.sh): threshold 12, warm-up 220, short set 'SIMRC', insert 0.5, substitute 0.05. 'SIMRC' is no
      name the code's short-set branches test, so it takes the "all aug set" branch: insert, substitute, crop, mask
      and reorder, the same five as long sequences (the threshold then changes nothing).
    - Yelp (yelp.sh): warm-up 300, insert 0.5. With 300 epochs the hybrid similarity never starts (it starts after
      epoch warm_up, 0-based).
    - Sports_and_Outdoors (sports.sh) and the others: main.py's defaults (CoSeRecConfig).

    ``code_reorder``: with a threshold, the code builds its reorder with the mask rate (Reorder(beta=gamma),
    REFERENCE.md section 1): cl.reorder = cl.mask = 0.7. The default keeps CL4SRec's 0.2.
    """
    settings = {"Beauty": dict(threshold=12, warm_up=220, short_set="SIMRC", insert=0.5, substitute=0.05),
                "Yelp": dict(warm_up=300, insert=0.5)}.get(dataset, {})
    overrides = dict(contrast="coserec", bucket=False, coserec=settings)
    if code_reorder:
        overrides["cl"] = dict(reorder=ContrastConfig().mask)
    return overrides


def as_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def flat_items(cfg: Config) -> dict:
    """Every setting under its command-line name: groups' fields as ``sam.rho``."""
    items = {}
    for key, value in as_dict(cfg).items():
        if isinstance(value, dict):
            items.update((f"{key}.{k}", v) for k, v in value.items())
        else:
            items[key] = value
    return items


def live_groups(cfg: Config) -> tuple[str, ...]:
    """The groups this run uses (``sam`` when update="sam", ...)."""
    return tuple(g for g, switches in GROUPS.items() if any(getattr(cfg, f) in values for f, values in switches))


def method_name(cfg: Config) -> str:
    """The method a run trains, as the papers name it: SASRec, SAMRec (SASRec + SAM), CL4SRec, CL4SRec+SAM,
    GRU4Rec, BERT4Rec, Caser (another model with SAM: GRU4Rec+SAM)."""
    base = {"sasrec": "SASRec", "gru4rec": "GRU4Rec", "bert4rec": "BERT4Rec", "caser": "Caser"}[cfg.model]
    if cfg.objective == "s3rec":
        return "S3Rec-pretraining"
    if cfg.pretrain == "s3rec":
        base = "S3Rec"
    if cfg.contrast == "srma":
        base = "SRMA"  # its ablations differ by settings (srma.augment=False, ...), named in the record's settings
    if cfg.contrast == "cl4srec":
        base = "CL4SRec"
    if cfg.contrast == "coserec":
        base = "CoSeRec"
    if cfg.update == "sam":
        return "SAMRec" if base == "SASRec" else f"{base}+SAM"
    return base


__all__ = ["Config", "SAMConfig", "ContrastConfig", "S3RecConfig", "ClozeConfig", "CaserConfig", "SRMAConfig", "CoSeRecConfig", "PRETRAIN_EPOCHS", "GROUPS", "make_config", "flat_items", "live_groups", "method_name", "original_settings", "srma_settings", "coserec_settings", "parse_override", "validate", "as_dict", "MODELS", "DATASETS",
           "PROFILES", "OBJECTIVES", "METRICS", "METRIC_KS"]
