"""Encoders: each maps item ids (B, L) to hidden states (B, L, d) and scores hidden states over items."""
from __future__ import annotations

from torch import nn

from ..config import Config
from .sasrec import SASRec

MODELS = {"sasrec": SASRec}


def build_model(cfg: Config, n_items: int) -> nn.Module:
    # S3Rec pre-trains with a mask token; its fine-tuning keeps the pre-trained embedding table, mask row included
    mask_token = "s3rec" in (cfg.objective, cfg.pretrain)
    return MODELS[cfg.model](n_items=n_items, d_model=cfg.d_model, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                             dropout=cfg.dropout, attn_dropout=cfg.attn_dropout, max_len=cfg.max_len,
                             mask_token=mask_token)
