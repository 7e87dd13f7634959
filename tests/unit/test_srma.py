"""SRMA: layer dropping, neuron masking, views, encoder complementing, its complement stage and its settings."""
import numpy as np
import pytest
import torch

from seqrec import data, runs
from seqrec.config import make_config, method_name, srma_settings
from seqrec.errors import ConfigError
from seqrec.models import build_model
from seqrec.models.srma import SRMAEncoder
from seqrec.objectives import TrainingRows, build_objective
from seqrec.objectives.contrastive import nt_xent
from seqrec.objectives.srma import SRMA
from seqrec.train import Trainer


def srma(**overrides):
    return make_config("smoke", **{"contrast": "srma", "bucket": False, **overrides})


@pytest.fixture(scope="module")
def split():
    return data.split(data.load("Beauty").head(300), 50)


def parts(split, cfg, seed=0, n_users=24):
    """A model, the run's objective and one batch of the first ``n_users`` users."""
    torch.manual_seed(seed)
    model = build_model(cfg, split.dataset.n_items)
    objective = build_objective(cfg, split.dataset)
    rows = TrainingRows(split, np.random.default_rng(seed), torch.device("cpu"))
    users = np.flatnonzero(rows.lengths > 0)[:n_users]
    return model, objective, rows, objective.make_batch(rows, users)


def called_layers(model):
    """Records the index of every extra layer called, in order."""
    calls = []
    for i, layer in enumerate(model.extra):
        layer.register_forward_hook(lambda module, args, out, i=i: calls.append(i))
    return calls


# ---------------------------------------------------------------- layer dropping


def test_a_training_forward_skips_exactly_m_of_k_layers_and_the_next_item_passes_share_their_draw(split):
    model, objective, _, batch = parts(split, srma(srma=dict(layers=4, drop=3, rec_layers=True)))
    calls = called_layers(model)
    for seed in range(10):
        calls.clear()
        torch.manual_seed(seed)
        objective(model, batch)
        # "same": the views' one forward applies K - M = 1 layer, then each next-item pass applies 1 layer: the
        # same one in every pass (one draw per batch), drawn apart from the views' (sometimes another)
        assert len(calls) == 1 + len(batch.next_item) > 2 and len(set(calls[1:])) == 1
    model2, objective2, _, batch2 = parts(split, srma(srma=dict(layers=4, drop=2)))
    calls2 = called_layers(model2)
    objective2(model2, batch2)
    assert len(calls2) == 2 and len(set(calls2)) == 2  # views only: the next-item loss skips the extra layers


@pytest.mark.parametrize("views", ["same", "distinct"])
def test_each_view_row_drops_m_layers_shared_by_its_view_and_by_both_views_only_when_same(split, views):
    model, objective, _, _ = parts(split, srma(srma=dict(layers=3, drop=1, views=views)))
    differ = 0
    for seed in range(30):
        torch.manual_seed(seed)
        keep = objective.view_keep(model, 5)  # (2B, K)
        assert keep.shape == (10, 3) and (keep.sum(1) == 2).all()
        assert (keep[:5] == keep[0]).all() and (keep[5:] == keep[5]).all()
        differ += bool((keep[0] != keep[5]).any())
    assert differ == 0 if views == "same" else 10 < differ < 30


@pytest.mark.parametrize("views, representation", [("same", "flat"), ("distinct", "flat"), ("distinct", "real_slots")])
def test_the_views_representation_equals_each_view_encoded_alone_with_its_drawn_layers(split, views, representation):
    cfg = srma(srma=dict(layers=3, drop=1, views=views), cl=dict(representation=representation))
    model, objective, _, batch = parts(split, cfg)
    model.eval()  # no dropout: the layer choice is what is tested
    torch.manual_seed(3)
    fast = objective.representation(model, batch)
    torch.manual_seed(3)
    keep = objective.view_keep(model, len(fast) // 2)
    ids = objective.view_ids(batch)
    assert ids.shape == (len(fast), 50)
    for r in range(len(fast)):
        plain = model.encode(ids[r:r + 1], keep=keep[r])
        if representation == "real_slots":
            plain = plain * (ids[r:r + 1] > 0).unsqueeze(-1)
        torch.testing.assert_close(fast[r], plain.flatten(), rtol=1e-5, atol=1e-5)


def grads_of(model, loss):
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]


@pytest.mark.parametrize("complement", ["none", "transformer", "gru"])
def test_the_real_slot_contrast_in_trimmed_passes_equals_nt_xent_of_the_full_width_views(split, complement):
    """The trimmed passes and the per-pair Gram matrix (real_slot_gram) give the loss and gradients of the plain
    computation: every view encoded max_len wide with the layers it drew, padding slots zeroed, the paper's
    complement added to the first views, NT-Xent of the flattened views (fp32, 1e-5)."""
    gamma = {} if complement == "none" else dict(gamma=0.7)
    cfg = srma(srma=dict(layers=3, drop=1, views="distinct", complement=complement, **gamma),
               cl=dict(representation="real_slots"))
    model, objective, _, batch = with_complement(split, cfg, seed=2) if complement != "none" else parts(split, cfg, 2)
    model.eval()  # no dropout: the same draws of layers on both sides
    assert len({v.shape[1] for v in batch.views}) > 1 and max(v.shape[1] for v in batch.views) < 50
    torch.manual_seed(6)
    fast = objective(model, batch)["contrast"]
    fast_grads = grads_of(model, fast)
    torch.manual_seed(6)
    keep = objective.view_keep(model, len(batch.order) // 2)
    ids = objective.view_ids(batch)
    hidden = model.encode(ids, keep=keep) * (ids > 0).unsqueeze(-1)
    first, second = hidden.flatten(1).chunk(2)
    if complement != "none":
        first = first + 0.7 * (objective.complement.encode(ids[:len(first)]) * (ids[:len(first)] > 0).unsqueeze(-1)
                               ).flatten(1)
    plain = cfg.cl.weight * nt_xent(first, second, cfg.cl.tau)
    plain_grads = grads_of(model, plain)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    for a, b in zip(fast_grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_evaluation_applies_all_k_layers_unscaled(split):
    model, _, _, _ = parts(split, srma(srma=dict(layers=3, drop=2)))
    model.eval()
    calls = called_layers(model)
    seq = torch.from_numpy(split.inputs("valid")[:8])
    scores = model.predict(seq)
    assert calls == [0, 1, 2]
    x = model.encode(seq, keep=torch.zeros(3, dtype=torch.bool))
    for layer in model.extra:
        x = layer.norm(x + torch.nn.functional.gelu(layer.dense(x)))
    torch.testing.assert_close(scores, model.score(x[:, -1]))


def test_with_inference_layers_none_the_blocks_alone_predict_and_training_still_uses_the_layers(split):
    cfg = srma(srma=dict(layers=2, drop=1, inference_layers="none"))
    model, objective, _, batch = parts(split, cfg)
    reference, _, _, _ = parts(split, srma(srma=dict(layers=2, drop=1)))  # same seed: the same weights
    model.eval(), reference.eval()
    seq = torch.from_numpy(split.inputs("valid")[:8])
    calls = called_layers(model)
    scores = model.predict(seq)
    assert calls == []
    blocks_only = reference.encode(seq, keep=torch.zeros(2, dtype=torch.bool))
    torch.testing.assert_close(scores, reference.score(blocks_only[:, -1]))
    assert not torch.allclose(scores, reference.predict(seq))  # "all" differs: the extra layers act
    model.train()
    objective(model, batch)
    assert calls and set(calls) <= {0, 1}  # the views still go through the layers they drew


# ---------------------------------------------------------------- neuron masking


def dropout_ps(model):
    block = model.blocks[0]
    return dict(embedding=model.emb_drop.p, attention_out=block.attention.drop.p,
                attention_probs=block.attention.attn_drop.p, ffn=block.feed_forward.drop.p,
                extra=model.extra[0].drop.p)


@pytest.mark.parametrize("mode", ["ffn", "all"])
def test_neuron_masking_is_ffn_only_in_the_paper_mode_and_every_dropout_in_the_code_mode(split, mode):
    overrides = dict(attn_dropout=0.1) if mode == "all" else {}
    model, _, _, _ = parts(split, srma(dropout=0.3, srma=dict(neuron_masking=mode), **overrides))
    ps = dropout_ps(model)
    if mode == "ffn":
        assert ps == dict(embedding=0.0, attention_out=0.0, attention_probs=0.0, ffn=0.3, extra=0.3)
    else:
        assert ps == dict(embedding=0.3, attention_out=0.3, attention_probs=0.1, ffn=0.3, extra=0.3)
    # behaviour: with the FFN and extra-layer dropout silenced, only the code mode still perturbs the output
    model.train()
    for module in [*(b.feed_forward.drop for b in model.blocks), *(layer.drop for layer in model.extra)]:
        module.p = 0.0
    seq = torch.from_numpy(split.inputs("train")[:16])
    same = torch.equal(model.encode(seq), model.encode(seq))
    assert same == (mode == "ffn")


def test_model_augmentation_alone_makes_the_views_differ_and_nothing_makes_them_equal(split):
    model, objective, rows, batch = parts(split, srma(srma=dict(augment=False)))
    ids = batch.views[0]
    assert torch.equal(ids[:len(ids) // 2], ids[len(ids) // 2:])  # w/o D: both views are the training input
    first, second = objective.representation(model, batch).chunk(2)
    assert not torch.allclose(first, second)  # dropout p = 0.5 on the FFN layers
    model, objective, rows, batch = parts(split, srma(dropout=0.0, srma=dict(augment=False, drop=0)))
    first, second = objective.representation(model, batch).chunk(2)
    assert torch.equal(first, second)


@pytest.mark.parametrize("views", ["same", "distinct"])
def test_layer_dropping_alone_makes_the_views_differ_only_with_distinct_draws(split, views):
    model, objective, _, batch = parts(split, srma(dropout=0.0, srma=dict(augment=False, views=views)))
    equal = []
    for seed in range(8):
        torch.manual_seed(seed)
        first, second = objective.representation(model, batch).chunk(2)
        equal.append(torch.equal(first, second))
    assert all(equal) if views == "same" else not all(equal) and any(equal)


def test_without_extra_layers_and_with_the_codes_dropout_srma_computes_exactly_cl4srec(split):
    cfg = srma(srma=dict(layers=0, drop=0, neuron_masking="all"))
    model, objective, _, batch = parts(split, cfg, seed=4)
    reference = make_config("smoke", contrast="cl4srec", bucket=False)
    cl_model, cl_objective, _, cl_batch = parts(split, reference, seed=4)
    assert isinstance(model, SRMAEncoder) and type(cl_model).__name__ == "SASRec"
    for a, b in zip(model.state_dict().values(), cl_model.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(batch.views[0], cl_batch.views[0])
    torch.manual_seed(9)
    losses = objective(model, batch)
    torch.manual_seed(9)
    cl_losses = cl_objective(cl_model, cl_batch)
    assert losses.keys() == cl_losses.keys()
    for name in losses:
        torch.testing.assert_close(losses[name], cl_losses[name], rtol=0, atol=0)


# ---------------------------------------------------------------- encoder complementing


def with_complement(split, cfg, seed=0):
    model, objective, rows, batch = parts(split, cfg, seed)
    torch.manual_seed(100)
    objective.set_complement(build_model(runs.complement_config(cfg), split.dataset.n_items))
    return model, objective, rows, batch


@pytest.mark.parametrize("kind", ["transformer", "gru", "srma"])
def test_the_complement_is_frozen_and_outside_the_optimiser(split, kind):
    cfg = srma(srma=dict(complement=kind))
    model, objective, rows, batch = with_complement(split, cfg)
    complement = objective.complement
    assert complement.training == (kind == "srma")  # the code's frozen model keeps its dropout live
    before = {k: v.clone() for k, v in complement.state_dict().items()}
    trainer = Trainer(cfg, split, model, torch.device("cpu"), objective=objective, progress=False)
    optimised = {id(p) for group in trainer.update.optimizer.param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in complement.parameters()}
    assert all(not p.requires_grad for p in complement.parameters())
    assert not any(k.startswith("complement") for k in objective.state_dict())  # nor in the checkpoint
    start = {k: v.clone() for k, v in model.state_dict().items()}
    losses = trainer.train_batches([np.flatnonzero(rows.lengths > 0)[:32]])
    assert ("complement" in losses) == (kind == "srma")
    for k, v in complement.state_dict().items():
        assert torch.equal(v, before[k])
    assert any(not torch.equal(v, start[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("kind", ["transformer", "srma"])
def test_gamma_zero_equals_no_complementing(split, kind):
    model, objective, _, batch = with_complement(split, srma(srma=dict(complement=kind, gamma=0.0)))
    plain_model, plain, _, plain_batch = parts(split, srma())
    torch.manual_seed(5)
    losses = objective(model, batch)
    torch.manual_seed(5)
    reference = plain(plain_model, plain_batch)
    for name in reference:
        torch.testing.assert_close(losses[name], reference[name], rtol=0, atol=0)
    assert set(losses) - set(reference) == ({"complement"} if kind == "srma" else set())
    if kind == "srma":
        assert losses["complement"] == 0


def test_the_papers_complement_adds_gamma_times_its_output_to_the_first_view(split):
    cfg = srma(srma=dict(complement="gru", gamma=1.0))
    model, objective, _, batch = with_complement(split, cfg)
    model.eval()
    torch.manual_seed(1)
    losses = objective(model, batch)
    torch.manual_seed(1)
    first, second = objective.representation(model, batch).chunk(2)
    added = objective.complement.encode(batch.views[0][:len(first)]).flatten(1)
    expected = cfg.cl.weight * nt_xent(first + 1.0 * added, second, cfg.cl.tau)
    torch.testing.assert_close(losses["contrast"], expected)
    assert abs(losses["contrast"] - cfg.cl.weight * nt_xent(first, second, cfg.cl.tau)) > 1e-5  # fp32 noise: 1e-7


def test_a_complement_run_without_its_encoder_fails_clearly(split):
    model, objective, _, batch = parts(split, srma(srma=dict(complement="gru")))
    with pytest.raises(Exception, match="needs its frozen encoder"):
        objective(model, batch)


# ---------------------------------------------------------------- the complement stage


def test_the_complement_runs_are_the_papers_one_layer_encoders_and_the_codes_step_one():
    cfg = srma(epochs=3, srma=dict(complement="transformer", complement_seed=7))
    stage = runs.complement_config(cfg)
    assert (stage.model, stage.n_layers, stage.objective, stage.contrast, stage.seed, stage.epochs) == (
        "sasrec", 1, "bce", "none", 7, 3)
    assert runs.complement_config(srma(srma=dict(complement="gru"))).model == "gru4rec"
    code = make_config("smoke", **srma_settings("code"))
    step1 = runs.complement_config(code)
    assert method_name(step1) == "SRMA" and step1.srma.complement == "none" and not step1.srma.rec_layers
    assert (step1.srma.neuron_masking, step1.attn_dropout, step1.srma.layers) == ("all", 0.1, 2)
    assert runs.stage_config(srma()) is None and runs.complement_config(make_config("smoke", pretrain="s3rec")) is None


def test_the_complement_stage_is_trained_once_found_by_key_and_its_weights_committed(isolated_cache, monkeypatch):
    results = isolated_cache / "results"
    handed = []
    original = SRMA.set_complement
    monkeypatch.setattr(SRMA, "set_complement",
                        lambda self, encoder: (handed.append(encoder.state_dict()), original(self, encoder))[1])
    fits = []
    original_fit = Trainer.fit
    monkeypatch.setattr(Trainer, "fit", lambda self, *a, **k: (fits.append(self.cfg), original_fit(self, *a, **k))[1])

    def cfg(seed):
        return srma(seed=seed, epochs=1, patience=1, srma=dict(complement="transformer"))

    stage = runs.complement_config(cfg(1))
    record = runs.run(cfg(1), results, progress=False)
    assert [c.model for c in fits] == ["sasrec", "sasrec"] and fits[0].n_layers == 1
    assert record["method"] == "SRMA" and record["complemented_by"] == runs.run_key(stage)
    assert record["initialized_from"] is None
    committed = runs.load_weights(runs.weights_path(stage, results))  # committed beside the stage's record
    for name, tensor in committed.items():
        assert torch.equal(handed[0][name], tensor)
    runs.run(cfg(2), results, progress=False)  # a second seed reuses the stage
    assert len(fits) == 3 and len(handed) == 2
    assert runs.run(cfg(1), results) == record


def test_the_queue_trains_a_shared_complement_once_before_its_first_srma_run(isolated_cache):
    from seqrec import queue

    results = isolated_cache / "results"
    plain = make_config("smoke", dataset="Beauty", epochs=1, patience=1)
    cfgs = [srma(seed=s, epochs=1, patience=1, srma=dict(complement="gru")) for s in (1, 2)]
    outcomes = queue.run_queue([plain, *cfgs], results, jobs=2, progress=False)
    assert [o.status for o in outcomes] == ["trained"] * 4
    assert [o.record["method"] for o in outcomes] == ["SASRec", "GRU4Rec", "SRMA", "SRMA"]
    assert [o.record["complemented_by"] for o in outcomes[2:]] == [outcomes[1].record["key"]] * 2
    assert len(list((results / "smoke" / "gru4rec").glob("*.pt.xz"))) == 1


# ---------------------------------------------------------------- runs and settings


def test_a_smoke_run_trains_end_to_end_as_srma(isolated_cache):
    results = isolated_cache / "results"
    cfg = srma(srma=dict(augment=False))
    record = runs.run(cfg, results, progress=False)
    path = runs.record_path(cfg, results)
    assert path.parent.name == "srma" and record["method"] == "SRMA" and "srma.augment=False" in record["settings"]
    assert all(set(e["losses"]) == {"next_item", "contrast"} for e in record["history"])
    assert 0.0 <= record["test"]["NDCG@10"] <= record["test"]["HR@10"] <= 1.0
    assert runs.run(cfg, results) == record


@pytest.mark.parametrize("overrides, message", [
    (dict(contrast="cl4srec", bucket=False, srma=dict(layers=3)), r"srma\.\* settings take effect only with contrast=srma"),
    (dict(srma=dict(layers=2, drop=2)), r"srma\.drop=2 must be in \[0, srma\.layers=2\)"),
    (dict(srma=dict(layers=0, drop=0, views="distinct")), "srma.views=distinct does nothing"),
    (dict(srma=dict(layers=0, drop=0, rec_layers=True)), "rec_layers=True does nothing"),
    (dict(srma=dict(layers=0, drop=0, inference_layers="none")), "inference_layers=none does nothing"),
    (dict(srma=dict(rec_layers=True, inference_layers="none")), "would predict without the extra layers"),
    (dict(srma=dict(inference_layers="some")), "srma.inference_layers='some'"),
    (dict(srma=dict(gamma=0.1)), "srma.gamma=0.1 does nothing with srma.complement=none"),
    (dict(srma=dict(complement="lstm")), "srma.complement='lstm'"),
    (dict(srma=dict(neuron_masking="attention")), "srma.neuron_masking='attention'"),
    (dict(attn_dropout=0.1), "attn_dropout=0.1 does nothing with srma.neuron_masking=ffn"),
    (dict(srma=dict(augment=False), cl=dict(crop=0.5)), "cl.crop=0.5 does nothing with srma.augment=False"),
    (dict(pretrain="s3rec"), "SRMA trains from scratch"),
])
def test_settings_that_do_nothing_or_make_no_sense_are_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        srma(**overrides)


def test_srma_settings_join_the_key_only_in_srma_runs():
    with pytest.raises(ConfigError, match="needs bucket=False"):
        make_config("cpu", contrast="srma")
    paper, code = (make_config("cpu", **srma_settings(v)) for v in ("paper", "code"))
    # the defaults are the paper's reading, but for which layers predict (the paper is silent; chosen on validation)
    assert paper == make_config("cpu", contrast="srma", bucket=False, srma=dict(inference_layers="none"))
    assert (code.srma.neuron_masking, code.srma.complement, code.srma.gamma, code.srma.rec_layers) == (
        "all", "srma", 0.5, True)
    assert runs.run_key(make_config("cpu", contrast="srma", bucket=False, srma=dict(layers=3))) != runs.run_key(paper)
    cl4srec = make_config("cpu", contrast="cl4srec", bucket=False)
    assert "srma." not in runs.settings_label(cl4srec)
    assert [f for f in runs.settings_label(paper).split(",") if f.startswith("srma.")] == ["srma.inference_layers=none"]
    # the groups a run does not use stay out of its key (test_baselines checks every committed record)
    assert runs.run_key(make_config("cpu")) == runs.run_key(make_config("cpu", srma=dict(layers=2)))
