"""Loss landscapes and sharpness measures for the chapter on SAMRec's flatness claims.

SAMRec (Sharpness-Aware Minimisation for sequential recommendation) shows 3-D loss landscapes of
SASRec, S3Rec, CL4SRec and SAMRec, drawn as in Li et al. 2018 ("Visualizing the loss landscape of neural
nets"), and reports that SASRec's largest principal curvature is about ten times the others'. This module
measures both, and knows nothing about recommenders: every function takes a ``torch.nn.Module`` and a
``loss_fn`` closure that returns a differentiable scalar loss of the module's *current* parameters on a
fixed data subset. The caller chooses the data, switches dropout off (``model.eval()``) and places the
model on its device.

Landscapes
    :func:`random_directions` draws filter-normalised Gaussian directions, :func:`loss_line` and
    :func:`loss_surface` evaluate the loss along them, :func:`plot_landscapes` draws one panel per method
    on one shared loss scale.
Curvature
    :func:`hessian_vector_product` (double backpropagation), :func:`top_eigenvalue` (power iteration: the
    eigenvalue of largest magnitude), :func:`largest_eigenvalue` (Lanczos: the largest principal curvature, with
    an error bound) and :func:`hessian_trace` (Hutchinson: the sum of all curvatures).

The curvature functions differentiate ``loss_fn`` twice, so every op in it needs a double backward.
``F.scaled_dot_product_attention`` on CPU picks a fused kernel that has none; build the loss inside
``torch.nn.attention.sdpa_kernel(SDPBackend.MATH)`` (i.e. call these functions within it) in that case.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn

from .errors import ConfigError

LossFn = Callable[[], torch.Tensor]
Direction = list[torch.Tensor]
HessianOperator = Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]

PLOT_KINDS = ("surface", "contour")
FIGURE_WIDTH_INCHES = 10.0  # a book page width
FONT_SIZE = 9


# ---------------------------------------------------------------------------------------------- directions

def is_bias_norm_or_frozen(name: str, parameter: torch.Tensor) -> bool:
    """The default ``skip`` rule of :func:`random_directions`: 1-D (and 0-D) parameters, i.e. biases and
    LayerNorm gains and shifts, and parameters that are not trained (``requires_grad=False``)."""
    return parameter.dim() < 2 or not parameter.requires_grad


def random_directions(
    model: nn.Module,
    n: int = 2,
    seed: int = 0,
    filter_normalize: bool = True,
    skip: Callable[[str, torch.Tensor], bool] | None = is_bias_norm_or_frozen,
) -> list[Direction]:
    """Draw ``n`` random Gaussian directions in the parameter space of ``model``.

    Each direction is a list with one tensor per ``model.parameters()`` (same order, shape, dtype and
    device). With ``filter_normalize`` every filter, i.e. every slice along dim 0 (one embedding row, one
    output unit of a Linear weight), is rescaled to the norm of the same filter of the weights, so that a
    step of 1 along the direction is comparable across layers and across models of different weight
    scale (Li et al. 2018, section 4); a filter whose weights are zero, such as an embedding's padding row,
    gets a zero direction. Parameters for which ``skip(name, parameter)`` is true get a zero direction:
    by default biases, LayerNorm parameters and frozen parameters, Li et al.'s "ignore biases and BN"
    option, since a 1-D parameter has no filters to normalise by. With ``skip=None`` nothing is skipped
    and a 1-D parameter is treated as filters of one element (each direction entry gets magnitude |w_i|).

    The draws come from a CPU ``torch.Generator`` seeded with ``seed``: the directions depend on the seed
    and the parameter shapes only, not on the global RNG or the device.
    """
    if n < 1:
        raise ConfigError(f"n must be at least 1 (the number of directions), got {n}")
    generator = torch.Generator().manual_seed(seed)
    directions = []
    for _ in range(n):
        direction = []
        for name, parameter in model.named_parameters():
            weight = parameter.detach()
            # drawn for skipped parameters too, so the other parameters' draws do not depend on skip
            noise = torch.randn(weight.shape, generator=generator, dtype=weight.dtype).to(weight.device)
            if skip is not None and skip(name, parameter):
                noise = torch.zeros_like(weight)
            elif filter_normalize:
                noise = _filter_normalised(noise, weight)
            direction.append(noise)
        directions.append(direction)
    return directions


def _filter_normalised(direction: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Rescale each slice along dim 0 of ``direction`` to the norm of the same slice of ``weight``."""
    filters = direction.shape[0] if direction.dim() else 1
    direction_rows, weight_rows = direction.reshape(filters, -1), weight.reshape(filters, -1)
    tiny = torch.finfo(direction.dtype).tiny
    scale = weight_rows.norm(dim=1, keepdim=True) / direction_rows.norm(dim=1, keepdim=True).clamp_min(tiny)
    return (direction_rows * scale).reshape(direction.shape)


# ---------------------------------------------------------------------------------------------- landscapes

def loss_line(
    model: nn.Module, loss_fn: LossFn, direction: Sequence[torch.Tensor], alphas: Sequence[float]
) -> np.ndarray:
    """The loss at theta + a * direction for each a in ``alphas``: an array of shape (len(alphas),).

    Computed without gradients; the parameters are restored exactly afterwards (see :func:`loss_surface`).
    """
    alphas = _grid_axis(alphas, "alphas")
    return _losses_at(model, loss_fn, [direction], [(alpha,) for alpha in alphas])


def loss_surface(
    model: nn.Module,
    loss_fn: LossFn,
    directions: Sequence[Sequence[torch.Tensor]],
    alphas: Sequence[float],
    betas: Sequence[float],
) -> np.ndarray:
    """The loss at theta + a * d1 + b * d2 for a in ``alphas``, b in ``betas``.

    Returns an array of shape (len(alphas), len(betas)). ``directions`` is (d1, d2), e.g. from :func:`random_directions`. Computed under ``torch.no_grad()``.
    The original parameters are saved and copied back afterwards, also when ``loss_fn`` raises, so the
    model is bit-identical after the call (restoring by subtracting the step would leave rounding error).
    """
    if len(directions) != 2:
        raise ConfigError(f"loss_surface needs exactly 2 directions, got {len(directions)}")
    alphas, betas = _grid_axis(alphas, "alphas"), _grid_axis(betas, "betas")
    points = [(alpha, beta) for alpha in alphas for beta in betas]
    return _losses_at(model, loss_fn, directions, points).reshape(len(alphas), len(betas))


def _grid_axis(values: Sequence[float], name: str) -> np.ndarray:
    """``values`` as a non-empty 1-D array of finite floats."""
    axis = np.asarray(values, dtype=float)
    if axis.ndim != 1 or axis.size == 0 or not np.all(np.isfinite(axis)):
        raise ConfigError(f"{name} must be a non-empty 1-D sequence of finite numbers, got {values!r}")
    return axis


def _losses_at(
    model: nn.Module,
    loss_fn: LossFn,
    directions: Sequence[Sequence[torch.Tensor]],
    points: Sequence[tuple[float, ...]],
) -> np.ndarray:
    """The loss at theta + sum_k point[k] * directions[k] for each point, restoring theta afterwards."""
    parameters = list(model.parameters())
    for index, direction in enumerate(directions):
        _check_shapes(parameters, direction, f"direction {index + 1}")
    original = [parameter.detach().clone() for parameter in parameters]
    losses = np.empty(len(points))
    try:
        with torch.no_grad():
            for index, point in enumerate(points):
                for position, (parameter, weight) in enumerate(zip(parameters, original)):
                    parameter.copy_(weight)
                    for coefficient, direction in zip(point, directions):
                        parameter.add_(direction[position], alpha=float(coefficient))
                losses[index] = _scalar(loss_fn())
    finally:
        with torch.no_grad():
            for parameter, weight in zip(parameters, original):
                parameter.copy_(weight)
    return losses


def _check_shapes(parameters: Sequence[torch.Tensor], tensors: Sequence[torch.Tensor], name: str) -> None:
    """Raise unless ``tensors`` has one tensor per parameter, each of the parameter's shape."""
    if len(tensors) != len(parameters):
        raise ConfigError(f"{name} has {len(tensors)} tensors but there are {len(parameters)} parameters")
    for position, (parameter, tensor) in enumerate(zip(parameters, tensors)):
        if tensor.shape != parameter.shape:
            raise ConfigError(f"{name}: tensor {position} has shape {tuple(tensor.shape)}, "
                              f"its parameter has shape {tuple(parameter.shape)}")


def _scalar(loss: torch.Tensor) -> float:
    """The value of a one-element loss tensor; anything else is a caller's mistake worth naming."""
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(f"loss_fn must return a scalar tensor, got {loss!r}")
    return loss.item()


# ---------------------------------------------------------------------------------------------- curvature

def hessian_vector_product(
    model: nn.Module,
    loss_fn: LossFn,
    vector: Sequence[torch.Tensor],
    params: Sequence[torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """H @ vector, H the Hessian of ``loss_fn()`` with respect to ``params``, by double backpropagation.

    ``params`` defaults to every parameter of ``model`` with ``requires_grad``; ``vector`` has one tensor
    per parameter in that order, and so has the result. Costs about two backward passes; H is never formed.
    """
    params = _curvature_parameters(model, params)
    _check_shapes(params, vector, "vector")
    return _hessian_operator(loss_fn, params)(vector)


def top_eigenvalue(
    model: nn.Module,
    loss_fn: LossFn,
    iters: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
    params: Sequence[torch.Tensor] | None = None,
) -> dict:
    """The dominant Hessian eigenvalue (the one of largest magnitude) by power iteration.

    Starts from a seeded Gaussian vector v, repeats v <- Hv / |Hv| and reports the Rayleigh quotient v^T H v,
    stopping when it changes by at most ``tol`` relative to its value, or after ``iters`` Hessian products. That is
    the eigenvalue of largest *magnitude*; only where the Hessian is positive semi-definite is it the largest
    curvature (``largest_eigenvalue`` finds that one in any case). The loss graph is built once and reused by
    every product.

    Returns ``{"eigenvalue": float, "iterations": int, "converged": bool}``.
    """
    params, hessian = _checked_operator(model, loss_fn, params, iters, tol)
    generator = torch.Generator().manual_seed(seed)
    vector = _normalised([_random_like(p, generator, "gaussian") for p in params])
    eigenvalue, converged = math.nan, False
    for iteration in range(1, iters + 1):
        product = hessian(vector)
        estimate = _dot(vector, product)  # v^T H v
        converged = abs(estimate - eigenvalue) <= tol * abs(estimate)  # False on the first pass (nan)
        eigenvalue = estimate
        norm = math.sqrt(_dot(product, product))
        if norm == 0.0:  # v lies in the kernel of H: a fixed point with eigenvalue 0
            return {"eigenvalue": 0.0, "iterations": iteration, "converged": True}
        if converged:
            break
        vector = [entry / norm for entry in product]
    return {"eigenvalue": eigenvalue, "iterations": iteration, "converged": converged}


def largest_eigenvalue(model: nn.Module, loss_fn: LossFn, iters: int = 40, tol: float = 1e-3, seed: int = 0,
                       params: Sequence[torch.Tensor] | None = None) -> dict:
    """The largest (algebraic) Hessian eigenvalue, the largest principal curvature, by the Lanczos method.

    Early-stopped weights need not sit at a minimum of the training loss: a negative eigenvalue may dominate, and
    power iteration, which finds the eigenvalue of largest magnitude, then misses the top of the spectrum (as it
    did here, on SASRec and SAMRec). Lanczos builds an orthonormal basis of the Krylov space of a seeded Gaussian
    start vector (one Hessian product per step, every new vector re-orthogonalised twice against all earlier ones)
    and reads both ends of the spectrum from the eigenvalues of the small tridiagonal matrix it produces. Those
    Ritz values converge much faster than power iteration's quotient and come with an error bound: some Hessian
    eigenvalue lies within ``residual`` = beta_m * |last entry of the Ritz vector| of each of them (Parlett, The
    Symmetric Eigenvalue Problem, 13.2): that bounds the distance to the nearest eigenvalue, not necessarily the
    largest, so starts that agree are what pin the largest down. The Ritz value is never above the largest.

    Stops after ``iters`` products, when the Krylov space is exhausted (beta = 0: the values are exact), or when
    the largest Ritz value's residual is at most ``tol`` times its magnitude (``converged``). Returns
    ``{"eigenvalue", "residual", "smallest", "dominant" (the end of larger magnitude), "iterations",
    "converged"}``. Memory: ``iters`` float64 vectors the size of the parameters.
    """
    params, hessian = _checked_operator(model, loss_fn, params, iters, tol)
    shapes = [p.shape for p in params]

    def flat(vector: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([entry.reshape(-1) for entry in vector]).double()

    def unflat(vector: torch.Tensor) -> list[torch.Tensor]:
        pieces = torch.split(vector, [math.prod(shape) for shape in shapes])
        return [piece.reshape(shape).to(p.dtype) for piece, shape, p in zip(pieces, shapes, params)]

    generator = torch.Generator().manual_seed(seed)
    start = flat([_random_like(p, generator, "gaussian").cpu() for p in params])
    basis = torch.empty(iters, start.numel(), dtype=torch.float64)  # the Lanczos vectors, rows 0..j
    basis[0] = start / start.norm()
    alphas, betas = [], []
    while True:
        j = len(alphas)
        current = [entry.to(p.device) for entry, p in zip(unflat(basis[j]), params)]
        product = flat([entry.cpu() for entry in hessian(current)])
        alphas.append(float(basis[j] @ product))
        for _ in range(2):  # full re-orthogonalisation, twice ("twice is enough"): keeps the Ritz values honest
            product = product - basis[:j + 1].T @ (basis[:j + 1] @ product)
        beta = float(product.norm())
        ritz, vectors = np.linalg.eigh(_tridiagonal(alphas, betas))
        residuals = beta * np.abs(vectors[-1])
        exhausted = beta <= 1e-10 * max(abs(ritz[0]), abs(ritz[-1]), 1e-30)
        converged = exhausted or residuals[-1] <= tol * abs(ritz[-1])
        if converged or len(alphas) >= iters:
            break
        betas.append(beta)
        basis[j + 1] = product / beta
    largest, smallest = float(ritz[-1]), float(ritz[0])
    return {"eigenvalue": largest, "residual": float(0.0 if exhausted else residuals[-1]), "smallest": smallest,
            "dominant": largest if abs(largest) >= abs(smallest) else smallest, "iterations": len(alphas),
            "converged": bool(converged)}


def _tridiagonal(alphas: Sequence[float], betas: Sequence[float]) -> np.ndarray:
    """The symmetric tridiagonal matrix with ``alphas`` on the diagonal and ``betas`` beside it."""
    return np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)


def hessian_trace(
    model: nn.Module,
    loss_fn: LossFn,
    samples: int = 20,
    seed: int = 0,
    params: Sequence[torch.Tensor] | None = None,
) -> dict:
    """The Hessian trace (the sum of all curvatures) by Hutchinson's estimator.

    Averages z^T H z over ``samples`` Rademacher vectors z (entries +-1, drawn from a generator seeded
    with ``seed``); E[z^T H z] = tr(H), and Rademacher vectors give the smallest variance of such
    estimators (zero when H is diagonal). ``std_error`` is the sample standard deviation over
    sqrt(samples): report the trace with it.

    Returns ``{"trace": float, "std_error": float, "samples": int}``.
    """
    if samples < 2:
        raise ConfigError(f"samples must be at least 2 to estimate a standard error, got {samples}")
    params = _curvature_parameters(model, params)
    hessian = _hessian_operator(loss_fn, params)
    generator = torch.Generator().manual_seed(seed)
    estimates = []
    for _ in range(samples):
        probe = [_random_like(p, generator, "rademacher") for p in params]
        estimates.append(_dot(probe, hessian(probe)))
    estimates = np.asarray(estimates)
    return {
        "trace": float(estimates.mean()),
        "std_error": float(estimates.std(ddof=1) / math.sqrt(samples)),
        "samples": samples,
    }


def _checked_operator(model: nn.Module, loss_fn: LossFn, params: Sequence[torch.Tensor] | None, iters: int,
                      tol: float) -> tuple[list[torch.Tensor], HessianOperator]:
    """An iterative eigenvalue method's arguments checked, its parameters and its v -> Hv."""
    if iters < 1:
        raise ConfigError(f"iters must be at least 1, got {iters}")
    if tol < 0:
        raise ConfigError(f"tol must be non-negative, got {tol}")
    params = _curvature_parameters(model, params)
    return params, _hessian_operator(loss_fn, params)


def _curvature_parameters(model: nn.Module, params: Sequence[torch.Tensor] | None) -> list[torch.Tensor]:
    """``params``, or by default every parameter of ``model`` that requires grad; never empty."""
    chosen = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    if not chosen:
        raise ConfigError("no parameters to take the Hessian with respect to (none requires grad)")
    if not all(p.requires_grad for p in chosen):
        raise ConfigError("every parameter in params must require grad")
    return chosen


def _hessian_operator(loss_fn: LossFn, params: Sequence[torch.Tensor]) -> HessianOperator:
    """Evaluate the loss and its gradient once, keeping the graph, and return v -> Hv.

    Each product is one more backward pass through the gradient's graph (Pearlmutter's trick via double
    backprop): d/dtheta <grad L(theta), v> = H v. Reusing the graph spares a forward and a backward pass
    per product in power iteration and Hutchinson sampling.
    """
    loss = loss_fn()
    _scalar(loss)
    if not loss.requires_grad:
        raise ValueError("loss_fn returned a loss without a graph: compute it with gradients enabled")
    gradients = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True, materialize_grads=True)

    def product(vector: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        directional = sum((gradient * entry).sum() for gradient, entry in zip(gradients, vector))
        if not directional.requires_grad:  # the gradient is constant: the loss is linear, H = 0
            return [torch.zeros_like(p) for p in params]
        try:
            return list(torch.autograd.grad(directional, params, retain_graph=True,
                                            allow_unused=True, materialize_grads=True))
        except RuntimeError as error:
            if "not implemented" not in str(error):
                raise
            raise RuntimeError(f"{error}\nAn op in loss_fn has no double backward. For "
                               "F.scaled_dot_product_attention on CPU, call this function inside "
                               "torch.nn.attention.sdpa_kernel(SDPBackend.MATH).") from error

    return product


def _random_like(parameter: torch.Tensor, generator: torch.Generator, kind: str) -> torch.Tensor:
    """A Gaussian or Rademacher (+-1) tensor shaped like ``parameter``, drawn on CPU then moved."""
    if kind == "gaussian":
        draw = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
    else:
        draw = torch.randint(0, 2, parameter.shape, generator=generator).to(parameter.dtype) * 2 - 1
    return draw.to(parameter.device)


def _dot(left: Sequence[torch.Tensor], right: Sequence[torch.Tensor]) -> float:
    """The inner product of two parameter-shaped tensor lists."""
    return float(torch.stack([(a * b).sum() for a, b in zip(left, right)]).sum())


def _normalised(vector: list[torch.Tensor]) -> list[torch.Tensor]:
    norm = math.sqrt(_dot(vector, vector))
    return [entry / norm for entry in vector]


# ---------------------------------------------------------------------------------------------- plotting

def plot_landscapes(
    surfaces: dict[str, np.ndarray],
    alphas: Sequence[float],
    betas: Sequence[float],
    path: str | Path | None = None,
    zmax: float | None = None,
    kind: str = "surface",
    label: str = "training loss",
    shared: bool = True,
) -> Figure:
    """One panel per method, titled with its key, all on ONE loss scale so sharpness compares by eye (by default).

    Each surface has shape (len(alphas), len(betas)), as from :func:`loss_surface` on the same grid.
    ``kind="surface"`` draws 3-D surfaces sharing z limits; ``"contour"`` draws filled contour maps
    sharing levels and one colour bar. The scale runs from the lowest loss of all surfaces to ``zmax``,
    or to the highest finite loss when ``zmax`` is None; values above ``zmax`` are clipped to it, so one
    method's steep walls cannot flatten the others. Up to four panels per row, 10 inches wide, fonts of
    at least 9 pt. Saved at 150 dpi when ``path`` is given (format from the suffix; the book uses .png).
    ``label`` names what the surfaces hold (the z axis, the colour bar). ``shared=False`` (contours only) gives each
    panel its own levels and colour bar, for surfaces of networks whose scales differ too much to share one.
    """
    if kind not in PLOT_KINDS:
        raise ConfigError(f"kind must be one of {PLOT_KINDS}, got {kind!r}")
    if not shared and (kind != "contour" or zmax is not None):
        raise ConfigError("shared=False draws contour panels, each on its own scale: no zmax to share")
    if not surfaces:
        raise ConfigError("surfaces is empty: nothing to plot")
    alphas, betas = _grid_axis(alphas, "alphas"), _grid_axis(betas, "betas")
    for name, surface in surfaces.items():
        if np.shape(surface) != (len(alphas), len(betas)):
            raise ConfigError(f"surface {name!r} has shape {np.shape(surface)}, "
                              f"expected (len(alphas), len(betas)) = {(len(alphas), len(betas))}")
    values = np.concatenate([np.ravel(surface) for surface in surfaces.values()])
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("every surface value is NaN or infinite")
    low = float(finite.min())
    high = float(finite.max()) if zmax is None else float(zmax)
    if high <= low:
        raise ConfigError(f"zmax ({high}) must exceed the lowest loss ({low})")

    columns = min(4, len(surfaces))
    rows = math.ceil(len(surfaces) / columns)
    panel_width = FIGURE_WIDTH_INCHES / columns
    grid_alpha, grid_beta = np.meshgrid(alphas, betas, indexing="ij")
    if kind == "surface":
        figure = Figure(figsize=(FIGURE_WIDTH_INCHES, rows * panel_width * 1.05))
        figure.subplots_adjust(left=0.01, right=0.96, bottom=0.04, top=0.95, wspace=0.12, hspace=0.25)
    else:
        figure = Figure(figsize=(FIGURE_WIDTH_INCHES, rows * panel_width * 0.95), layout="constrained")
    levels = np.linspace(low, high, 21)
    for index, (name, surface) in enumerate(surfaces.items()):
        clipped = np.minimum(np.asarray(surface, dtype=float), high)
        if kind == "surface":
            axes = figure.add_subplot(rows, columns, index + 1, projection="3d")
            axes.plot_surface(grid_alpha, grid_beta, clipped, cmap="viridis", vmin=low, vmax=high,
                              rstride=1, cstride=1, linewidth=0, antialiased=True)
            axes.set_zlim(low, high)
            axes.set_zlabel(label, fontsize=FONT_SIZE, labelpad=2)
            axes.set_box_aspect(None, zoom=0.85)  # room for the axis labels
            axes.locator_params(nbins=4)
        else:
            axes = figure.add_subplot(rows, columns, index + 1)
            if not shared:
                own = clipped[np.isfinite(clipped)]
                levels = np.linspace(own.min(), max(own.max(), own.min() + 1e-9), 21)  # a flat surface still draws
            contours = axes.contourf(grid_alpha, grid_beta, clipped, levels=levels, cmap="viridis")
            axes.contour(grid_alpha, grid_beta, clipped, levels=levels, colors="black", linewidths=0.3)
            axes.set_aspect("equal")
            # ends and centre only: with five ticks a side the two axes' end labels collide in the lower-left corner
            for axis_values, set_ticks in ((alphas, axes.set_xticks), (betas, axes.set_yticks)):
                ticks = sorted({float(axis_values.min()), float(axis_values.max())}
                               | ({0.0} if axis_values.min() < 0 < axis_values.max() else set()))
                set_ticks(ticks, [f"{t:g}" for t in ticks])
        axes.set_title(name, fontsize=FONT_SIZE + 2)
        axes.set_xlabel("direction 1", fontsize=FONT_SIZE)
        axes.set_ylabel("direction 2", fontsize=FONT_SIZE)
        axes.tick_params(labelsize=FONT_SIZE, pad=0)
        if not shared:
            _colour_bar(figure, contours, axes, levels[0], levels[-1], label)
    if kind == "contour" and shared:
        _colour_bar(figure, contours, figure.axes, low, high, label)
    if path is not None:
        figure.savefig(path, dpi=150)
    return figure


def _colour_bar(figure: Figure, contours, axes, low: float, high: float, label: str) -> None:
    colorbar = figure.colorbar(contours, ax=axes, shrink=0.8)
    # round ticks: by default a filled contour's colour bar labels its 21 level boundaries (odd values)
    colorbar.set_ticks([t for t in MaxNLocator(6).tick_values(low, high) if low <= t <= high])
    colorbar.set_label(label, fontsize=FONT_SIZE)
    colorbar.ax.tick_params(labelsize=FONT_SIZE)
