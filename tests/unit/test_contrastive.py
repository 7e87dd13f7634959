"""CL4SRec: the augmentations, NT-Xent, and the fast representations against plain computations."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqrec import data
from seqrec.augment import CROP, MASK, REORDER, augment
from seqrec.config import make_config
from seqrec.models import build_model
from seqrec.objectives import TrainingRows, build_objective
from seqrec.objectives.contrastive import nt_xent

RATES = dict(crop=0.2, mask=0.7, reorder=0.2)


def sequences(n_rows=400, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 90, size=n_rows)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    return np.arange(1, ends[-1] + 1), starts, ends  # distinct ids: positions are recoverable from values


def views_of(op, width=100, seed=1):
    items, starts, ends = sequences()
    out = augment(items, starts, ends, np.random.default_rng(seed), **RATES, width=width,
                  operators=np.full(len(starts), op))
    return items, starts, ends, out


def row_items(row):
    return row[row > 0]


def test_crop_keeps_a_window_of_int_rate_times_n_that_never_ends_on_the_last_item():
    items, starts, ends, out = views_of(CROP)
    for r, (s, e) in enumerate(zip(starts, ends)):
        n, kept = e - s, row_items(out[r])
        k = int(0.2 * n)
        assert len(kept) == max(k, 1)
        assert (np.diff(kept) == 1).all() and s + 1 <= kept[0] and kept[-1] <= e  # contiguous, inside the row
        if k >= 1:
            assert kept[-1] < e  # the last item (id e) is never kept


def test_mask_sets_int_rate_times_n_items_to_padding_in_place():
    items, starts, ends, out = views_of(MASK)
    for r, (s, e) in enumerate(zip(starts, ends)):
        n = e - s
        row = out[r, -n:]
        assert (out[r, :-n] == 0).all()
        assert (row == 0).sum() == int(0.7 * n)
        unmasked = row > 0
        assert (row[unmasked] == np.arange(s + 1, e + 1)[unmasked]).all()


def test_reorder_shuffles_one_window_of_int_rate_times_n_items():
    items, starts, ends, out = views_of(REORDER)
    shuffled_any = False
    for r, (s, e) in enumerate(zip(starts, ends)):
        n = e - s
        row, original = out[r, -n:], np.arange(s + 1, e + 1)
        assert sorted(row) == list(original)
        moved = np.flatnonzero(row != original)
        if len(moved):
            shuffled_any = True
            assert moved[-1] - moved[0] < int(0.2 * n)
    assert shuffled_any


def test_views_keep_the_last_width_items_and_draw_operators_uniformly():
    items, starts, ends = sequences(3000)
    rng = np.random.default_rng(5)
    out = augment(items, starts, ends, rng, **RATES, width=8)
    assert out.shape == (3000, 8)
    # a cropped view is int(0.2 n) consecutive items at the right end; for 10 <= n <= 35 that is 2 to 7 of 8 slots
    n = ends - starts
    rows = np.flatnonzero((n >= 10) & (n <= 35))
    k = np.floor(0.2 * n).astype(int)
    cropped = [(out[r, :8 - k[r]] == 0).all() and (np.diff(out[r, 8 - k[r]:]) == 1).all() and out[r, -1] > 0
               for r in rows]
    assert abs(np.mean(cropped) - 1 / 3) < 0.06
    same = augment(items, starts, ends, np.random.default_rng(5), **RATES, width=8)
    assert (same == out).all()


def test_nt_xent_equals_its_definition():
    torch.manual_seed(0)
    first, second = torch.randn(5, 12, dtype=torch.float64), torch.randn(5, 12, dtype=torch.float64)
    z = torch.cat([first, second])
    losses = []
    for i in range(10):
        partner = (i + 5) % 10
        logits = torch.stack([z[i] @ z[j] / 0.7 for j in range(10) if j != i])
        target = partner if partner < i else partner - 1
        losses.append(-torch.log_softmax(logits, 0)[target])
    torch.testing.assert_close(nt_xent(first, second, 0.7).double(), torch.stack(losses).mean(), rtol=1e-5, atol=1e-6)


def batch_rows(seed=0):
    """The training rows of a small Beauty split (their generator seeded) and the users of one batch."""
    split = data.split(data.load("Beauty").head(300), 50)
    rows = TrainingRows(split, np.random.default_rng(seed), torch.device("cpu"))
    return rows, np.flatnonzero(rows.lengths > 0)[:64]


def trainer_parts(representation, seed=0):
    rows, users = batch_rows(seed)
    cfg = make_config("smoke", contrast="cl4srec", bucket=False, cl=dict(representation=representation))
    torch.manual_seed(seed)
    model = build_model(cfg, rows.split.dataset.n_items)
    objective = build_objective(cfg, rows.split.dataset)
    return model, objective, objective.make_batch(rows, users)


def grads_of(model, loss):
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]


def test_the_flat_representation_equals_a_plain_full_width_computation():
    """The family's representation: every slot of the full-width pass, padding included, flattened (fp32, 1e-5)."""
    model, objective, batch = trainer_parts("flat")
    model.eval()  # identical dropout draws are impossible across two passes; the computation is what is tested
    fast = objective(model, batch)["contrast"]
    fast_grads = grads_of(model, fast)
    views = batch.views[0]
    assert views.shape[1] == 50
    z = model.encode(views).reshape(len(views), -1)
    logits = z @ z.T / objective.settings.tau
    logits = logits - torch.diag(torch.full((len(z),), float("inf")))
    n = len(z) // 2
    plain = objective.settings.weight * F.cross_entropy(logits, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))
    plain_grads = grads_of(model, plain)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    for a, b in zip(fast_grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_real_slots_in_trimmed_passes_equal_the_full_width_outputs_with_padding_slots_zeroed():
    model, objective, batch = trainer_parts("real_slots")
    model.eval()
    assert len(batch.views) == 4 and min(v.shape[1] for v in batch.views) < 50
    fast = objective.representation(model, batch)
    full = torch.from_numpy(objective.draw_views(*batch_rows()))  # the same views, drawn again in their order
    passes = torch.cat([F.pad(v, (50 - v.shape[1], 0)) for v in batch.views])[batch.order]
    torch.testing.assert_close(passes, full)  # ``order`` puts every view back in its place
    plain = (model.encode(full) * (full > 0).unsqueeze(-1)).flatten(1)
    d = model.item_emb.weight.shape[1]
    padded = F.pad(fast, (plain.shape[1] - fast.shape[1], 0))  # the passes stop at the longest view
    torch.testing.assert_close(padded, plain, rtol=1e-5, atol=1e-5)
    assert plain.view(len(plain), 50, d)[full == 0].abs().max() == 0


def test_the_real_slot_contrast_per_pair_of_passes_equals_the_plain_nt_xent_of_the_padded_views():
    """real_slot_gram skips the slots that only one pass of a pair has: value and gradients as the full Gram matrix
    of the zero-padded, flattened views (fp32, 1e-5)."""
    model, objective, batch = trainer_parts("real_slots")
    model.eval()
    assert len({v.shape[1] for v in batch.views}) > 1  # passes of different widths: the pairs share fewer slots
    fast = objective(model, batch)["contrast"]
    fast_grads = grads_of(model, fast)
    first, second = objective.representation(model, batch).chunk(2)
    z = torch.cat([first, second])
    logits = (z @ z.T / objective.settings.tau).masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf"))
    n = len(first)
    plain = objective.settings.weight * F.cross_entropy(logits, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))
    plain_grads = grads_of(model, plain)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    for a, b in zip(fast_grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_cl4srec_records_both_loss_components(isolated_cache):
    from seqrec import runs
    from seqrec.train import Trainer

    cfg = make_config("smoke", contrast="cl4srec", bucket=False, epochs=2, patience=2)
    dataset = data.load("Beauty").head(cfg.max_users)
    runs.seed_everything(1)
    result = Trainer(cfg, data.split(dataset, 50), build_model(cfg, dataset.n_items), torch.device("cpu"),
                     progress=False).fit()
    for entry in result["history"]:
        assert set(entry["losses"]) == {"next_item", "contrast"} and entry["losses"]["contrast"] > 0
        assert entry["loss"] == pytest.approx(sum(entry["losses"].values()))


def test_nt_xent_backpropagates_under_bf16_autocast():
    """autocast reaches inside custom autograd functions: the similarity matrix must still be fp32 both ways."""
    torch.manual_seed(0)
    first = torch.randn(4, 32, dtype=torch.bfloat16, requires_grad=True)
    second = torch.randn(4, 32, dtype=torch.bfloat16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = nt_xent(first, second, 1.0)
    loss.backward()
    assert loss.dtype == torch.float32 and first.grad.dtype == torch.bfloat16 and torch.isfinite(first.grad).all()
