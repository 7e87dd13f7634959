"""SAM and LookSAM against updates computed by hand on a quadratic, and inside the Trainer."""
import numpy as np
import pytest
import torch

from seqrec.config import make_config
from seqrec.optim import SAM, PlainUpdate, build_update

A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)


class Quadratic(torch.nn.Module):
    def __init__(self, start):
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))

    def loss(self):
        return 0.5 * self.theta @ A @ self.theta


def closure_for(model, optimizer):
    def closure():
        optimizer.zero_grad()
        loss = model.loss()
        loss.backward()
        return {"loss": loss.item()}
    return closure


def test_sam_step_equals_the_hand_computed_update():
    theta, rho, lr = torch.tensor([1.0, -2.0], dtype=torch.float64), 0.3, 0.1
    model = Quadratic(theta.tolist())
    update = SAM(torch.optim.SGD(model.parameters(), lr=lr), rho=rho)
    losses = update.step(closure_for(model, update.optimizer))
    g = A @ theta
    ascended = theta + rho * g / g.norm()
    expected = theta - lr * (A @ ascended)  # the gradient taken at theta + delta, applied at theta
    torch.testing.assert_close(model.theta.detach(), expected, rtol=0, atol=1e-12)
    assert losses["loss"] == pytest.approx(float(0.5 * theta @ A @ theta))  # reported at theta, not theta + delta
    plain = Quadratic(theta.tolist())
    plain_update = PlainUpdate(torch.optim.SGD(plain.parameters(), lr=lr))
    plain_update.step(closure_for(plain, plain_update.optimizer))
    torch.testing.assert_close(plain.theta.detach(), theta - lr * g, rtol=0, atol=1e-12)
    assert not torch.allclose(plain.theta.detach(), model.theta.detach())  # SAM really moved differently


def test_looksam_reuses_the_orthogonal_part_of_the_sam_gradient_between_ascents():
    theta, rho, lr, alpha = torch.tensor([1.0, -2.0], dtype=torch.float64), 0.5, 0.05, 0.7
    model = Quadratic(theta.tolist())
    update = SAM(torch.optim.SGD(model.parameters(), lr=lr), rho=rho, period=2, alpha=alpha)
    closure = closure_for(model, update.optimizer)
    update.step(closure)  # step 0: a full SAM step
    g0 = A @ theta
    g_sam = A @ (theta + rho * g0 / g0.norm())
    theta1 = theta - lr * g_sam
    torch.testing.assert_close(model.theta.detach(), theta1, rtol=0, atol=1e-12)
    g_v = g_sam - (g_sam @ g0) / (g0 @ g0) * g0
    assert float(g_v @ g0) == pytest.approx(0.0, abs=1e-12)
    update.step(closure)  # step 1: no ascent, the plain gradient plus the reused direction
    g1 = A @ theta1
    theta2 = theta1 - lr * (g1 + alpha * g1.norm() / g_v.norm() * g_v)
    torch.testing.assert_close(model.theta.detach(), theta2, rtol=0, atol=1e-12)
    update.step(closure)  # step 2: an ascent again
    g2 = A @ theta2
    theta3 = theta2 - lr * (A @ (theta2 + rho * g2 / g2.norm()))
    torch.testing.assert_close(model.theta.detach(), theta3, rtol=0, atol=1e-12)


def test_parameters_are_restored_exactly_when_the_second_pass_fails():
    model = Quadratic([0.1, 0.7])
    update = SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=0.2)
    before = model.theta.detach().clone()
    calls = {"n": 0}

    def closure():
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed in the ascent pass")
        return closure_for(model, update.optimizer)()

    with pytest.raises(RuntimeError):
        update.step(closure)
    assert torch.equal(model.theta.detach(), before)


def test_build_update_follows_the_config():
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert type(build_update(make_config("smoke"), params)) is PlainUpdate
    sam = build_update(make_config("smoke", update="sam", sam=dict(rho=0.5, period=5)), params)
    assert isinstance(sam, SAM) and (sam.rho, sam.period) == (0.5, 5)
    assert isinstance(sam.optimizer, torch.optim.Adam)


def test_sam_trains_sasrec_and_resumes_after_a_kill(isolated_cache, monkeypatch):
    """LookSAM's reused direction and step count travel in the checkpoint: a killed run ends as an uninterrupted one."""
    from seqrec import data, runs
    from seqrec.models import build_model
    from seqrec.train import Trainer

    cfg = make_config("smoke", epochs=3, patience=3, update="sam", sam=dict(rho=0.5, period=3))
    dataset = data.load(cfg.dataset).head(cfg.max_users)

    def fit(checkpoint=None):
        runs.seed_everything(cfg.seed)
        return Trainer(cfg, data.split(dataset, cfg.max_len), build_model(cfg, dataset.n_items), torch.device("cpu"),
                       checkpoint, progress=False).fit()

    uninterrupted = fit()
    original_save = Trainer._save

    def save_then_die(self):
        original_save(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        fit(isolated_cache / "run.pt")
    monkeypatch.setattr(Trainer, "_save", original_save)
    torch.manual_seed(999)
    resumed = fit(isolated_cache / "run.pt")
    assert [e["loss"] for e in resumed["history"]] == [e["loss"] for e in uninterrupted["history"]]
    assert resumed["test"] == uninterrupted["test"]
    assert np.isfinite(uninterrupted["history"][-1]["loss"])
