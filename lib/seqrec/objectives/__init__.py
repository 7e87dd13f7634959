"""Training objectives: small functions (model, batch) -> scalar loss, chosen by name."""
from __future__ import annotations

from .next_item import OBJECTIVES, TrainBatch, next_item_bce, next_item_ce

__all__ = ["OBJECTIVES", "TrainBatch", "next_item_bce", "next_item_ce"]
