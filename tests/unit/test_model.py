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


def test_width_above_max_len_is_an_error():
    with pytest.raises(ValueError, match="exceeds max_len=8"):
        make_model().encode(torch.ones(1, 9, dtype=torch.long))
