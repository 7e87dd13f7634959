"""Encoders: each maps item ids (B, L) to hidden states (B, L, d) and scores hidden states over items; Caser maps
item ids and user ids to one output per sequence (B, 2d) and declares ``needs_users``."""
from __future__ import annotations

from torch import nn

from ..config import Config
from .bert4rec import BERT4Rec
from .caser import Caser
from .gru4rec import GRU4Rec
from .sasrec import SASRec
from .srma import SRMAEncoder

MODELS = {"sasrec": SASRec, "gru4rec": GRU4Rec, "bert4rec": BERT4Rec, "caser": Caser}


def build_model(cfg: Config, n_items: int, n_users: int | None = None) -> nn.Module:
    """The run's model for ``n_items`` items; ``n_users`` (the dataset's user count) is needed by Caser only."""
    if cfg.model == "caser":  # config.validate keeps the settings it has no use for at their defaults
        if n_users is None:
            raise ValueError("model=caser embeds user ids: pass build_model the dataset's n_users")
        return Caser(n_items=n_items, n_users=n_users, d_model=cfg.d_model, L=cfg.caser.L, n_h=cfg.caser.n_h,
                     n_v=cfg.caser.n_v, dropout=cfg.dropout)
    shared = dict(n_items=n_items, d_model=cfg.d_model, n_layers=cfg.n_layers, dropout=cfg.dropout)
    if cfg.model == "gru4rec":  # no attention: config.validate keeps n_heads, attn_dropout at default
        return GRU4Rec(**shared)
    transformer = dict(shared, n_heads=cfg.n_heads, attn_dropout=cfg.attn_dropout, max_len=cfg.max_len)
    if cfg.model == "bert4rec":  # always has its mask token
        return BERT4Rec(**transformer)
    if cfg.contrast == "srma":  # SASRec with SRMA's extra layers and neuron masking (config: model=sasrec)
        return SRMAEncoder(**transformer, extra_layers=cfg.srma.layers, neuron_masking=cfg.srma.neuron_masking,
                           inference_layers=cfg.srma.inference_layers)
    # S3Rec pre-trains with a mask token; its fine-tuning keeps the pre-trained embedding table, mask row included
    mask_token = "s3rec" in (cfg.objective, cfg.pretrain)
    return MODELS[cfg.model](**transformer, mask_token=mask_token)
