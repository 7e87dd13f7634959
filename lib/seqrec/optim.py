"""Update rules: how one training step turns a loss into a parameter update.

``closure()`` zeroes the gradients, computes the batch's loss components, back-propagates their sum and returns
the components (floats). ``PlainUpdate`` calls it once and steps the base optimizer. ``SAM`` (Foret et al., ICLR
2021) calls it at the weights, moves them to theta + rho g / ||g|| (one global L2 norm over every trained
parameter), calls it again there, restores theta exactly and steps the base optimizer with the second gradient.
With ``period`` k > 1 it is LookSAM (Liu et al., CVPR 2022): the ascent runs every k-th step, which keeps the part
of the SAM gradient orthogonal to the plain one, g_v; the steps between use g + alpha ||g|| / ||g_v|| g_v.
The base optimizer keeps its own state (Adam's moments); SAM only changes the gradient it is handed.
"""
from __future__ import annotations

from typing import Callable

import torch

from .config import Config

Closure = Callable[[], dict[str, float]]


def _global_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in tensors]))


class PlainUpdate:
    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer

    def step(self, closure: Closure) -> dict[str, float]:
        losses = closure()
        self.optimizer.step()
        return losses

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])


class SAM(PlainUpdate):
    """Sharpness-aware steps around any base optimizer; the losses returned are those at the unperturbed weights."""

    def __init__(self, optimizer: torch.optim.Optimizer, rho: float, period: int = 1, alpha: float = 0.7):
        super().__init__(optimizer)
        self.rho, self.period, self.alpha = rho, period, alpha
        self.params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        self.steps = 0
        self.sharp_direction: list[torch.Tensor] | None = None  # LookSAM's g_v

    def _gradients(self) -> list[torch.Tensor]:
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]

    def step(self, closure: Closure) -> dict[str, float]:
        losses = closure()
        grads = [g.clone() for g in self._gradients()]
        if self.steps % self.period == 0:
            self._ascent_step(closure, grads)
        else:
            self._reuse_direction(grads)
        self.steps += 1
        self.optimizer.step()
        return losses

    @torch.no_grad()
    def _perturb(self, grads: list[torch.Tensor]) -> list[torch.Tensor]:
        scale = self.rho / (_global_norm(grads) + 1e-12)
        saved = [p.detach().clone() for p in self.params]
        for p, g in zip(self.params, grads):
            p.add_(g * scale)
        return saved

    def _ascent_step(self, closure: Closure, grads: list[torch.Tensor]) -> None:
        saved = self._perturb(grads)
        try:
            closure()  # p.grad now holds the gradient at theta + delta
        finally:
            with torch.no_grad():
                for p, original in zip(self.params, saved):
                    p.copy_(original)  # exact restore, not a subtraction
        if self.period > 1:
            with torch.no_grad():
                sam_grads = self._gradients()
                plain_sq = sum((g * g).sum() for g in grads)
                along = sum((s * g).sum() for s, g in zip(sam_grads, grads)) / (plain_sq + 1e-24)
                self.sharp_direction = [s - along * g for s, g in zip(sam_grads, grads)]

    @torch.no_grad()
    def _reuse_direction(self, grads: list[torch.Tensor]) -> None:
        assert self.sharp_direction is not None, "step 0 is always an ascent step"
        scale = self.alpha * _global_norm(grads) / (_global_norm(self.sharp_direction) + 1e-12)
        for p, g, v in zip(self.params, grads, self.sharp_direction):
            p.grad = g + scale * v

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "steps": self.steps,
                "sharp_direction": self.sharp_direction}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = state["steps"]
        device = self.params[0].device
        self.sharp_direction = None if state["sharp_direction"] is None else [
            v.to(device) for v in state["sharp_direction"]]


def build_update(cfg: Config, params: list[torch.nn.Parameter]) -> PlainUpdate:
    """Adam (the family's optimizer, REFERENCE.md section 0) under the run's update rule."""
    optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.update == "sam":
        return SAM(optimizer, cfg.sam.rho, cfg.sam.period, cfg.sam.alpha)
    return PlainUpdate(optimizer)
