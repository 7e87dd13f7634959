"""Cross-entropy over every item through an output layer, in fewer passes over the logits.

``F.cross_entropy(F.linear(x, W, b), y)`` walks its (N, n_items) logits about six times: the linear writes them,
log-softmax reads them and writes a second (N, n_items) tensor, and the backward fills a zero gradient, scatters
into it and writes the log-softmax gradient. On a CPU these passes are memory-bound and cost as much as the matmuls
(BERT4Rec's cloze loss on Toys: 1,500 masked positions x 11,924 items, 72 MB a copy). Here the logits are a private
buffer: the forward turns it into exp(logits - row max) in place and keeps one sum per row, and the backward divides
the same buffer by that sum, which gives the softmax. Same numbers as the plain form (in float32, or float64 for
float64 inputs; tested). On one CPU thread the earlier form of this loss (logsumexp, a second exp in the
backward) took 0.85x the plain form's time, and this one about 0.8x that (whole BERT4Rec steps 0.81x; compute page).
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable


class _FullSoftmaxCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, features, weight, bias, labels):
        dtypes = features.dtype, weight.dtype, bias.dtype
        # the softmax needs at least float32 logits (autocast's bf16 would round them)
        exact = torch.promote_types(torch.promote_types(features.dtype, weight.dtype), torch.float32)
        with torch.autocast(features.device.type, enabled=False):
            features, weight, bias = features.to(exact), weight.to(exact), bias.to(exact)
            logits = torch.addmm(bias, features, weight.t())
            label_logits = logits.gather(1, labels[:, None]).squeeze(1)
            # exp(logits - row max) in place: the backward only divides it by its row sum (torch.logsumexp would
            # make its own temporaries and the backward a second exp pass over the buffer)
            shift = logits.amax(1)
            unnormalised = logits.sub_(shift[:, None]).exp_()
            row_sum = unnormalised.sum(1)
            loss = (row_sum.log() + shift - label_logits).sum()
        ctx.save_for_backward(features, weight, unnormalised, row_sum, labels)
        ctx.dtypes, ctx.spent = dtypes, False
        return loss

    @staticmethod
    @once_differentiable  # the backward overwrites the logits: no double backward (HVPs) through it
    def backward(ctx, grad_loss):
        if ctx.spent:
            raise RuntimeError("full_softmax_cross_entropy: a second backward through the same graph "
                               "(retain_graph=True) would read logits the first one overwrote; compute the loss again")
        ctx.spent = True
        features, weight, unnormalised, row_sum, labels = ctx.saved_tensors
        # d loss / d logits = softmax - one_hot(label), written over the buffer (nothing else holds it)
        grad = unnormalised.mul_(row_sum.reciprocal()[:, None])
        grad.scatter_add_(1, labels[:, None], torch.full_like(row_sum[:, None], -1.0))
        grad.mul_(grad_loss)
        grads = grad @ weight, grad.t() @ features, grad.sum(0)
        return (*(g.to(dtype) for g, dtype in zip(grads, ctx.dtypes)), None)


def full_softmax_cross_entropy(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                               labels: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of ``labels`` (N,) under softmax(features W^T + b) over all C classes: features (N, d),
    weight (C, d), bias (C,). Equals ``F.cross_entropy(F.linear(features, weight, bias), labels, reduction="sum")``
    computed in float32 at least."""
    if features.ndim != 2 or weight.ndim != 2 or features.shape[1] != weight.shape[1] or bias.shape != weight.shape[:1]:
        raise ValueError(f"need features (N, d), weight (C, d) and bias (C,); got {tuple(features.shape)}, "
                         f"{tuple(weight.shape)} and {tuple(bias.shape)}")
    if labels.shape != features.shape[:1]:
        raise ValueError(f"need one label per row of features ({features.shape[0]}), got shape {tuple(labels.shape)}")
    if len(labels) and (labels.min() < 0 or labels.max() >= weight.shape[0]):
        raise ValueError(f"labels must lie in [0, {weight.shape[0]}), got {int(labels.min())}..{int(labels.max())}")
    return _FullSoftmaxCrossEntropy.apply(features, weight, bias, labels)
