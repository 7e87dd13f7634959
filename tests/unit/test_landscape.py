import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.func import functional_call  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

from seqrec.errors import ConfigError  # noqa: E402
from seqrec.landscape import (  # noqa: E402
    hessian_trace,
    hessian_vector_product,
    largest_eigenvalue,
    loss_line,
    loss_surface,
    plot_landscapes,
    random_directions,
    top_eigenvalue,
)


class Quadratic(nn.Module):
    """0.5 x^T A x in one parameter x: its Hessian is A everywhere."""

    def __init__(self, matrix: np.ndarray, start: np.ndarray, dtype=torch.float64):
        super().__init__()
        self.register_buffer("matrix", torch.tensor(matrix, dtype=dtype))
        self.x = nn.Parameter(torch.tensor(start, dtype=dtype))

    def forward(self) -> torch.Tensor:
        return 0.5 * self.x @ self.matrix @ self.x


def symmetric(eigenvalues, seed=0) -> np.ndarray:
    """A symmetric matrix with the given spectrum and a random eigenbasis."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    matrix = basis @ np.diag(eigenvalues) @ basis.T
    return (matrix + matrix.T) / 2


def quadratic(matrix, seed=1, dtype=torch.float64) -> Quadratic:
    return Quadratic(matrix, np.random.default_rng(seed).standard_normal(len(matrix)), dtype)


def snapshot(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def assert_bit_identical(model: nn.Module, saved: list[torch.Tensor]) -> None:
    assert all(torch.equal(p, s) for p, s in zip(model.parameters(), saved, strict=True))


# ------------------------------------------------------------------------------------ curvature, quadratic

SPECTRUM = [6.0, 2.5, 1.0, -1.5, 0.3, 0.1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_eigenvalue_of_a_quadratic_is_the_largest_eigenvalue_of_its_matrix(seed):
    matrix = symmetric(SPECTRUM, seed=seed)
    model = quadratic(matrix)
    result = top_eigenvalue(model, model, seed=seed)  # defaults: iters=20, tol=1e-3
    assert result["converged"] and 1 < result["iterations"] <= 20
    assert result["eigenvalue"] == pytest.approx(np.linalg.eigvalsh(matrix).max(), rel=1e-3)


def test_largest_eigenvalue_finds_the_top_of_the_spectrum_when_a_negative_one_dominates():
    matrix = symmetric([-3.0, 1.0, 2.0, 0.5])  # a saddle: the dominant eigenvalue is -3, the largest 2
    model = quadratic(matrix)
    assert top_eigenvalue(model, model, iters=200, tol=1e-10)["eigenvalue"] == pytest.approx(-3.0, rel=1e-6)
    result = largest_eigenvalue(model, model, iters=10, tol=1e-10)
    # four dimensions: the Krylov space is exhausted after four products and the Ritz values are exact
    assert result["iterations"] == 4 and result["converged"] and result["residual"] == 0.0
    assert result["eigenvalue"] == pytest.approx(2.0, rel=1e-9)
    assert result["smallest"] == pytest.approx(-3.0, rel=1e-9) and result["dominant"] == result["smallest"]


def test_largest_eigenvalue_of_a_large_spectrum_is_within_its_error_bound():
    rng = np.random.default_rng(5)
    spectrum = np.concatenate([rng.uniform(-0.4, 0.3, 300), [0.35, 0.5, -0.6]])  # clustered, like a trained model
    model = quadratic(symmetric(spectrum, seed=6))
    result = largest_eigenvalue(model, model, iters=60, tol=1e-6)
    assert result["eigenvalue"] <= 0.5 + 1e-12  # a Ritz value never overshoots the top of the spectrum
    assert abs(result["eigenvalue"] - 0.5) <= max(result["residual"], 1e-9)
    assert result["eigenvalue"] == pytest.approx(0.5, rel=1e-4) and result["smallest"] == pytest.approx(-0.6, rel=1e-4)
    assert result["converged"] and result["iterations"] < 60
    short = largest_eigenvalue(model, model, iters=3, tol=1e-12)
    assert not short["converged"] and short["iterations"] == 3 and short["eigenvalue"] < result["eigenvalue"]


def test_top_eigenvalue_reports_no_convergence_when_out_of_iterations():
    model = quadratic(symmetric([1.0, 0.99, 0.5]))  # eigenvalue ratio 0.99: slow
    result = top_eigenvalue(model, model, iters=3, tol=1e-12)
    assert result == {"eigenvalue": result["eigenvalue"], "iterations": 3, "converged": False}


def test_hutchinson_trace_is_within_three_standard_errors():
    matrix = symmetric(SPECTRUM, seed=3)
    model = quadratic(matrix)
    result = hessian_trace(model, model, samples=2000, seed=4)
    assert result["samples"] == 2000 and result["std_error"] > 0
    assert abs(result["trace"] - np.trace(matrix)) < 3 * result["std_error"]


def test_hutchinson_trace_of_a_diagonal_hessian_is_exact_with_zero_variance():
    matrix = np.diag([3.0, -1.25, 0.5, 7.0])
    model = quadratic(matrix)
    result = hessian_trace(model, model, samples=5)
    assert result["std_error"] == 0.0
    assert result["trace"] == pytest.approx(np.trace(matrix), rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hessian_vector_product_of_a_quadratic_is_matrix_times_vector(dtype):
    matrix = symmetric(SPECTRUM, seed=5)
    model = quadratic(matrix, dtype=dtype)
    vector = torch.randn(len(matrix), dtype=dtype, generator=torch.Generator().manual_seed(0))
    (product,) = hessian_vector_product(model, model, [vector])
    assert product.dtype == dtype
    np.testing.assert_allclose(product.numpy(), matrix @ vector.double().numpy(), rtol=1e-5, atol=1e-5)


def test_a_linear_loss_has_zero_curvature():
    model = nn.Linear(3, 1)
    loss_fn = lambda: model(torch.ones(1, 3)).sum()  # noqa: E731
    vector = [torch.ones_like(p) for p in model.parameters()]
    assert all(torch.equal(h, torch.zeros_like(h)) for h in hessian_vector_product(model, loss_fn, vector))
    assert top_eigenvalue(model, loss_fn) == {"eigenvalue": 0.0, "iterations": 1, "converged": True}


# ------------------------------------------------------------------------------------ curvature, networks

class TinyMLP(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = nn.Linear(3, 4)
        self.out = nn.Linear(4, 1)
        self.inputs = torch.randn(16, 3)
        self.targets = torch.randn(16, 1)
        self.double()

    def forward(self) -> torch.Tensor:
        return F.mse_loss(self.out(torch.tanh(self.hidden(self.inputs.double()))), self.targets.double())


def dense_hessian(model: nn.Module, parameters: list[str]) -> np.ndarray:
    """The full Hessian of model() in the named parameters, flattened in that order."""
    shapes = [dict(model.named_parameters())[name].shape for name in parameters]
    sizes = [shape.numel() for shape in shapes]
    flat = torch.cat([dict(model.named_parameters())[name].detach().flatten() for name in parameters])

    def loss_of(vector):
        pieces = [piece.reshape(shape) for piece, shape in zip(vector.split(sizes), shapes)]
        return functional_call(model, dict(zip(parameters, pieces)), ())

    return torch.autograd.functional.hessian(loss_of, flat).numpy()


def test_curvature_of_an_mlp_matches_its_dense_hessian():
    model = TinyMLP()
    names = [name for name, _ in model.named_parameters()]
    hessian = dense_hessian(model, names)
    eigenvalues = np.linalg.eigvalsh(hessian)
    dominant = eigenvalues[np.argmax(np.abs(eigenvalues))]

    vector = [torch.randn_like(p) for p in model.parameters()]
    product = torch.cat([h.flatten() for h in hessian_vector_product(model, model, vector)])
    expected = hessian @ torch.cat([v.flatten() for v in vector]).numpy()
    np.testing.assert_allclose(product.numpy(), expected, rtol=1e-8, atol=1e-10)

    result = top_eigenvalue(model, model, iters=500, tol=1e-10)
    assert result["converged"]
    assert result["eigenvalue"] == pytest.approx(dominant, rel=1e-3)
    trace = hessian_trace(model, model, samples=400)
    assert abs(trace["trace"] - np.trace(hessian)) < 3 * trace["std_error"]


def test_params_restricts_the_hessian_to_a_block():
    model = TinyMLP()
    block = dense_hessian(model, ["out.weight"])
    only_out = [model.out.weight]
    assert top_eigenvalue(model, model, iters=200, tol=1e-10, params=only_out)["eigenvalue"] == pytest.approx(
        np.linalg.eigvalsh(block).max(), rel=1e-6)
    # the output layer enters the loss linearly: its block is a Gram matrix with a tiny spread of estimates
    result = hessian_trace(model, model, samples=200, params=only_out)
    assert abs(result["trace"] - np.trace(block)) < 3 * result["std_error"] + 1e-12


class TinyAttention(nn.Module):
    """Embedding, one causal self-attention head, LayerNorm and a scorer: SASRec in miniature."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.items = nn.Embedding(9, 4, padding_idx=0)
        self.query, self.key, self.value = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.sequences = torch.randint(1, 9, (3, 5))
        self.double()

    def forward(self) -> torch.Tensor:
        hidden = self.items(self.sequences)
        heads = [projection(hidden).unsqueeze(1) for projection in (self.query, self.key, self.value)]  # 1 head
        attended = F.scaled_dot_product_attention(*heads, is_causal=True).squeeze(1)
        logits = self.norm(hidden + attended) @ self.items.weight.T
        return F.cross_entropy(logits[:, :-1].reshape(-1, 9), self.sequences[:, 1:].reshape(-1))


def gradient(model: nn.Module) -> torch.Tensor:
    return torch.cat([g.flatten() for g in torch.autograd.grad(model(), list(model.parameters()))])


def test_hessian_vector_product_of_attention_matches_finite_differences_of_gradients():
    model = TinyAttention()
    vector = [torch.randn_like(p) for p in model.parameters()]
    with sdpa_kernel(SDPBackend.MATH):
        product = torch.cat([h.flatten() for h in hessian_vector_product(model, model, vector)])
        step = 1e-5
        with torch.no_grad():
            for p, v in zip(model.parameters(), vector):
                p.add_(v, alpha=step)
        forward = gradient(model)
        with torch.no_grad():
            for p, v in zip(model.parameters(), vector):
                p.sub_(v, alpha=2 * step)
        backward = gradient(model)
    np.testing.assert_allclose(product.numpy(), ((forward - backward) / (2 * step)).numpy(), rtol=1e-5, atol=1e-7)


def test_missing_double_backward_names_the_attention_workaround():
    model = TinyAttention()
    with pytest.raises(RuntimeError, match="sdpa_kernel"):
        top_eigenvalue(model, model, iters=2)


# ------------------------------------------------------------------------------------ landscapes

def test_loss_surface_of_a_quadratic_is_analytic_and_leaves_parameters_untouched():
    matrix = symmetric(SPECTRUM, seed=6)
    model = quadratic(matrix)
    saved = snapshot(model)
    rng = np.random.default_rng(7)
    first, second = rng.standard_normal(len(matrix)), rng.standard_normal(len(matrix))
    directions = [[torch.tensor(first)], [torch.tensor(second)]]
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-0.5, 1.5, 3)

    surface = loss_surface(model, model, directions, alphas, betas)

    assert surface.shape == (5, 3)
    x = saved[0].numpy()
    expected = [[0.5 * (x + a * first + b * second) @ matrix @ (x + a * first + b * second) for b in betas]
                for a in alphas]
    np.testing.assert_allclose(surface, expected, rtol=1e-12)
    assert surface[2, 0] != surface[2, 1]  # betas[0] = -0.5 really moved the point
    assert_bit_identical(model, saved)


def test_loss_surface_at_the_origin_is_the_current_loss():
    model = TinyMLP()
    loss = model().item()
    surface = loss_surface(model, model, random_directions(model), [-0.5, 0.0, 0.5], [0.0, 1.0])
    assert surface[1, 0] == loss
    assert surface[0, 0] != loss


def test_loss_surface_restores_parameters_when_the_loss_raises_midway():
    model = TinyMLP()
    saved = snapshot(model)
    calls = []

    def failing_loss():
        calls.append([torch.equal(p, s) for p, s in zip(model.parameters(), saved)])
        if len(calls) == 3:
            raise RuntimeError("out of memory, say")
        return model()

    with pytest.raises(RuntimeError, match="out of memory"):
        loss_surface(model, failing_loss, random_directions(model, skip=None), [0.5, 1.0], [0.5, 1.0])
    assert not any(calls[-1])  # the parameters were perturbed when it raised
    assert_bit_identical(model, saved)


def test_loss_line_follows_one_direction():
    matrix = symmetric(SPECTRUM, seed=8)
    model = quadratic(matrix)
    direction = np.arange(len(matrix), dtype=float)
    alphas = [-1.0, 0.0, 0.25]
    line = loss_line(model, model, [torch.tensor(direction)], alphas)
    x = model.x.detach().numpy()
    np.testing.assert_allclose(line, [0.5 * (x + a * direction) @ matrix @ (x + a * direction) for a in alphas],
                               rtol=1e-12)


# ------------------------------------------------------------------------------------ directions

class Layers(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.items = nn.Embedding(6, 4, padding_idx=0)
        self.linear = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.frozen = nn.Parameter(torch.randn(2, 2), requires_grad=False)


def named(model: nn.Module, direction: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    return dict(zip([name for name, _ in model.named_parameters()], direction, strict=True))


def row_norms(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.reshape(len(tensor), -1).norm(dim=1)


def test_filter_normalisation_matches_each_row_norm_and_zeroes_biases_norms_and_frozen():
    model = Layers()
    directions = random_directions(model, n=3)
    assert len(directions) == 3
    for direction in directions:
        by_name = named(model, direction)
        for name, parameter in model.named_parameters():
            assert by_name[name].shape == parameter.shape and by_name[name].dtype == parameter.dtype
        torch.testing.assert_close(row_norms(by_name["linear.weight"]), row_norms(model.linear.weight.detach()))
        torch.testing.assert_close(row_norms(by_name["items.weight"]), row_norms(model.items.weight.detach()))
        assert torch.equal(by_name["items.weight"][0], torch.zeros(4))  # the padding row
        for name in ("linear.bias", "norm.weight", "norm.bias", "frozen"):
            assert torch.equal(by_name[name], torch.zeros_like(by_name[name]))
    first, second = (named(model, direction)["linear.weight"] for direction in directions[:2])
    assert not torch.allclose(first, second)


def test_directions_depend_on_the_seed_only():
    model = Layers()
    torch.manual_seed(123)
    first = random_directions(model, seed=5)
    torch.manual_seed(456)
    again = random_directions(model, seed=5)
    other = random_directions(model, seed=6)
    assert all(torch.equal(a, b) for d, e in zip(first, again) for a, b in zip(d, e))
    assert not torch.equal(named(model, first[0])["linear.weight"], named(model, other[0])["linear.weight"])


def test_without_skip_a_one_dimensional_parameter_gets_its_weights_magnitudes():
    model = Layers()
    (direction,) = random_directions(model, n=1, skip=None)
    bias = named(model, direction)["linear.bias"]
    torch.testing.assert_close(bias.abs(), model.linear.bias.detach().abs())


def test_unnormalised_directions_are_plain_gaussians():
    model = Layers()
    (direction,) = random_directions(model, n=1, filter_normalize=False)
    weight = named(model, direction)["linear.weight"]
    assert not torch.allclose(row_norms(weight), row_norms(model.linear.weight.detach()))
    assert weight.abs().max() > 0


# ------------------------------------------------------------------------------------ bad input

def test_bad_input_is_rejected_with_a_clear_message():
    model = quadratic(symmetric([2.0, 1.0]))
    good = [[torch.ones(2)], [torch.ones(2)]]
    with pytest.raises(ConfigError, match="n must be at least 1"):
        random_directions(model, n=0)
    with pytest.raises(ConfigError, match="alphas"):
        loss_surface(model, model, good, [], [0.0])
    with pytest.raises(ConfigError, match="betas"):
        loss_surface(model, model, good, [0.0], [[0.0, 1.0]])
    with pytest.raises(ConfigError, match="exactly 2 directions"):
        loss_surface(model, model, good[:1], [0.0], [0.0])
    with pytest.raises(ConfigError, match=r"shape \(3,\)"):
        loss_surface(model, model, [[torch.ones(3)], [torch.ones(2)]], [0.0], [0.0])
    with pytest.raises(ConfigError, match="2 tensors but there are 1"):
        loss_line(model, model, [torch.ones(2), torch.ones(2)], [0.0])
    with pytest.raises(ConfigError, match="vector"):
        hessian_vector_product(model, model, [torch.ones(5)])
    with pytest.raises(ConfigError, match="iters"):
        top_eigenvalue(model, model, iters=0)
    with pytest.raises(ConfigError, match="iters must be at least 1"):
        largest_eigenvalue(model, model, iters=0)
    with pytest.raises(ConfigError, match="samples"):
        hessian_trace(model, model, samples=1)
    with pytest.raises(ValueError, match="without a graph"):
        top_eigenvalue(model, lambda: model().detach())


# ------------------------------------------------------------------------------------ plotting

def bowls(alphas, betas):
    grid_a, grid_b = np.meshgrid(alphas, betas, indexing="ij")
    return {"SASRec": 10 * (grid_a**2 + grid_b**2), "CL4SRec": grid_a**2 + grid_b**2 + 0.5,
            "SAMRec": 0.5 * (grid_a**2 + grid_b**2) + 0.2}


def test_surface_panels_share_one_z_scale(tmp_path):
    alphas, betas = np.linspace(-1, 1, 7), np.linspace(-1, 1, 5)
    surfaces = bowls(alphas, betas)
    figure = plot_landscapes(surfaces, alphas, betas, path=tmp_path / "landscape.png")
    assert [axes.get_title() for axes in figure.axes] == list(surfaces)
    assert {axes.get_zlim() for axes in figure.axes} == {(0.0, 20.0)}
    assert all(axes.get_zlabel() == "training loss" for axes in figure.axes)
    assert figure.get_figwidth() == pytest.approx(10)
    assert (tmp_path / "landscape.png").read_bytes()[:4] == b"\x89PNG"


def test_zmax_caps_the_shared_scale_and_clips():
    alphas = betas = np.linspace(-1, 1, 5)
    figure = plot_landscapes(bowls(alphas, betas), alphas, betas, zmax=3.0)
    assert {axes.get_zlim() for axes in figure.axes} == {(0.0, 3.0)}
    face_heights = figure.axes[0].collections[0].get_array()  # mean z of each SASRec face, its colour
    assert face_heights.max() == pytest.approx(3.0)


def test_contour_panels_share_levels_and_one_colour_bar():
    alphas = betas = np.linspace(-1, 1, 5)
    surfaces = bowls(alphas, betas)
    figure = plot_landscapes(surfaces, alphas, betas, kind="contour", zmax=5.0)
    panels = [axes for axes in figure.axes if axes.get_title()]
    assert [axes.get_title() for axes in panels] == list(surfaces)
    assert len(figure.axes) == len(surfaces) + 1  # the colour bar
    levels = [panel.collections[0].levels for panel in panels]
    assert all(np.array_equal(level, levels[0]) for level in levels)
    assert levels[0][-1] == 5.0
    assert all(panel.get_xlabel() == "direction 1" and panel.get_ylabel() == "direction 2" for panel in panels)
    assert figure.axes[-1].get_ylabel() == "training loss"
    relabelled = plot_landscapes(surfaces, alphas, betas, kind="contour", label="rise above the centre")
    assert relabelled.axes[-1].get_ylabel() == "rise above the centre"


def test_contour_panels_of_different_scales_can_each_keep_their_own():
    alphas = betas = np.linspace(-1, 1, 5)
    surfaces = {"steep": 100 * bowls(alphas, betas)["SASRec"], "flat": np.ones((5, 5))}
    figure = plot_landscapes(surfaces, alphas, betas, kind="contour", shared=False)
    panels = [axes for axes in figure.axes if axes.get_title()]
    assert len(figure.axes) == 2 * len(panels)  # a colour bar each
    steep, flat = (panel.collections[0].levels for panel in panels)
    assert steep[-1] == pytest.approx(surfaces["steep"].max()) and flat[0] == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="each on its own scale"):
        plot_landscapes(surfaces, alphas, betas, kind="surface", shared=False)


def test_plot_rejects_mismatched_shapes_and_unknown_kinds():
    alphas = betas = np.linspace(-1, 1, 5)
    with pytest.raises(ConfigError, match="shape"):
        plot_landscapes({"A": np.zeros((5, 4))}, alphas, betas)
    with pytest.raises(ConfigError, match="kind"):
        plot_landscapes(bowls(alphas, betas), alphas, betas, kind="heatmap")
    with pytest.raises(ConfigError, match="empty"):
        plot_landscapes({}, alphas, betas)
