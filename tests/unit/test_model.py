import pytest
import torch

from seqrec.models.sasrec import SASRec


def make_model(**kw):
    torch.manual_seed(0)
    return SASRec(n_items=30, d_model=16, n_heads=2, max_len=8, **kw).eval()


def test_shapes_and_tied_scores():
    model = make_model()
    seq = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8]])
    hidden = model.encode(seq)
    assert hidden.shape == (1, 8, 16)
    scores = model.score(hidden[:, -1])
    assert scores.shape == (1, 31)
    torch.testing.assert_close(scores[0, 5], hidden[0, -1] @ model.item_emb.weight[5])


def test_future_items_never_change_earlier_outputs():
    model = make_model()
    a = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])
    b = a.clone()
    b[0, 5:] = torch.tensor([20, 21, 22])
    torch.testing.assert_close(model.encode(a)[:, :5], model.encode(b)[:, :5])
    assert not torch.allclose(model.encode(a)[:, 5:], model.encode(b)[:, 5:])


def test_padding_content_is_invisible():
    model = make_model()
    seq = torch.tensor([[0, 0, 0, 9, 4, 2, 7, 1]])
    # the same sequence with a different left context that is cut off by padding
    hidden = model.encode(seq)[:, 3:]
    shorter = model.encode(seq[:, 3:])
    torch.testing.assert_close(hidden, shorter, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [True, False])
def test_last_only_computes_the_last_slot_of_the_full_output(causal):
    model = make_model()
    seq = torch.tensor([[0, 0, 0, 9, 4, 2, 7, 1], [3, 5, 8, 9, 4, 2, 7, 1], [0, 0, 0, 0, 0, 0, 0, 6]])
    last = model.encode(seq, causal=causal, last_only=True)
    assert last.shape == (3, 1, 16)
    torch.testing.assert_close(last, model.encode(seq, causal=causal)[:, -1:], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(model.last_hidden(seq), model.encode(seq)[:, -1], atol=1e-6, rtol=1e-6)
    # the written-out attention (training with attention dropout) takes the same path: dropout off, same output
    model.train()
    for block in model.blocks:
        block.attention.attn_drop.p, block.attention.drop.p, block.feed_forward.drop.p = 1e-12, 0.0, 0.0
    model.emb_drop.p = 0.0
    torch.testing.assert_close(model.encode(seq, causal=causal, last_only=True), last, atol=1e-5, rtol=1e-5)


def test_width_above_max_len_is_an_error():
    with pytest.raises(ValueError, match="exceeds max_len=8"):
        make_model().encode(torch.ones(1, 9, dtype=torch.long))


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_dropout_draws_keep_each_element_with_probability_one_minus_p(p):
    from seqrec.models.sasrec import keep_mask

    torch.manual_seed(0)
    mask = keep_mask(torch.Size([1000, 1000]), p, torch.device("cpu"), torch.float32)
    assert mask.unique().tolist() == pytest.approx([0.0, 1 / (1 - p)])
    kept = (mask > 0).double()
    n = kept.numel()
    assert abs(kept.mean().item() - (1 - p)) < 4 * (p * (1 - p) / n) ** 0.5
    # neighbouring elements (bits of one random byte when p = 0.5) are independent
    flat = kept.flatten()
    correlation = torch.corrcoef(torch.stack([flat[:-1], flat[1:]]))[0, 1].item()
    assert abs(correlation) < 4 / n ** 0.5
    torch.manual_seed(0)
    assert torch.equal(mask, keep_mask(torch.Size([1000, 1000]), p, torch.device("cpu"), torch.float32))


def test_attention_with_dropout_computes_what_the_fused_kernel_computes():
    from seqrec.models.sasrec import SelfAttention

    torch.manual_seed(0)
    attention = SelfAttention(16, 2, dropout=0.0, attn_dropout=0.5).eval()  # dropout is the identity in eval mode
    x, seq = torch.randn(3, 7, 16), torch.tensor([[0, 0, 3, 4, 5, 6, 7]] * 3)
    mask = make_model().attention_mask(seq)
    q, k, v = attention.qkv(x).view(3, 7, 3, 2, 8).permute(2, 0, 3, 1, 4)
    torch.testing.assert_close(attention.attend_with_dropout(q, k, v, mask),
                               torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    attention.train()
    assert not torch.allclose(attention(x, mask), attention.eval()(x, mask))  # dropout does act in training


def test_cpu_bf16_training_attends_by_matrix_products_not_the_fused_kernel(monkeypatch):
    """Under CPU bf16 autocast the fused kernel's backward is several times slower: training takes the written-out
    softmax even without attention dropout, and computes the same function (to bf16 precision)."""
    from seqrec.models import sasrec

    torch.manual_seed(0)
    attention = sasrec.SelfAttention(16, 2, dropout=0.0, attn_dropout=0.0)
    x, seq = torch.randn(3, 7, 16), torch.tensor([[0, 0, 3, 4, 5, 6, 7]] * 3)
    mask = make_model().attention_mask(seq)
    expected = attention.eval()(x, mask)  # fp32, the fused kernel

    def refuse(*args, **kwargs):
        raise AssertionError("the fused kernel ran")

    monkeypatch.setattr(sasrec.F, "scaled_dot_product_attention", refuse)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        trained = attention.train()(x, mask)
    # bf16 keeps about 3 significant digits, and the LayerNorm after attention rescales the rounding errors; the
    # two paths' exact agreement is the fp32 test above
    torch.testing.assert_close(trained.float(), expected, atol=0.15, rtol=0.1)
    # a padding slot's row has every key masked alike (-10000): its probabilities must still follow q k^T, which
    # bf16 scores near -10000 (steps of 64) would flatten to uniform
    q, k, v = (torch.randn(1, 2, 7, 8) for _ in range(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        context = attention.train().attend_with_dropout(q, k, v.bfloat16(), mask[:1])
    exact = torch.softmax(q @ k.transpose(-1, -2) / 8 ** 0.5 + mask[:1], dim=-1) @ v
    torch.testing.assert_close(context.float()[..., :2, :], exact[..., :2, :], atol=2e-2, rtol=2e-2)  # padding rows
    uniform = v.mean(dim=-2, keepdim=True).expand_as(v)
    assert (context.float()[..., :2, :] - uniform[..., :2, :]).abs().max() > 0.1  # not the flattened rows
    with pytest.raises(AssertionError, match="fused kernel ran"):
        attention.eval()(x, mask)  # evaluation keeps the fused kernel
