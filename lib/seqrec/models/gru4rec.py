"""GRU4Rec (Hidasi, Karatzoglou, Baltrunas & Tikk, "Session-based Recommendations with Recurrent Neural Networks",
ICLR 2016; code: github.com/hidasib/GRU4Rec) as an encoder on the shared Trainer.

Item embedding -> dropout -> GRU layers (hidden size d_model) -> dropout -> the hidden state at every position,
scored against the item embedding like SASRec's, so that NextItem (BCE or CE) trains it unchanged.

REFERENCE.md section 1 recovers no GRU4Rec settings from the SRMA family ("authors' code, tuned per the original
paper"). From the paper we take what fits our protocol (seqrec.config.original_settings): one GRU layer (more
layers did not help there) and 100 hidden units; dropout is tuned on validation, as the paper tuned it.

Deviations from the original (for the book's deviations page):
- Training. The original trains on sessions in session-parallel mini-batches (a mini-batch row follows one
  session, its hidden state carried from event to event and reset when another session takes the row), with the
  TOP1 or BPR ranking loss against the other target items of the mini-batch, optimised with Adagrad. Here, as for
  every model of the study, one sample is a user's training sequence (its last max_len items), every position is
  a target, and the shared Trainer fits next-item BCE (one sampled negative per position) or CE over all items
  with Adam.
- Input and output layers. The original feeds 1-of-N item vectors to the GRU (the paper found an extra embedding
  layer no better) and scores with its own output weights and bias. We embed the items and tie the scores to that
  embedding without a bias, as the SASRec family does, so hidden size = embedding size = d_model.
- Dropout. The original drops each GRU layer's output; we drop the embedded input too (with the same p).
- Long histories: the GRU sees a user's last max_len items, as the Transformers do, not the whole sequence.

Weights start Glorot-uniform per weight matrix (bound sqrt(6 / (fan_in + fan_out))), as the authors' code does by
default; biases at 0.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .base import TiedItemScores
from .sasrec import Dropout

GRU_GATES = 3  # torch stacks the reset, update and new-state matrices of a layer in one weight


class GRU4Rec(TiedItemScores):
    """GRU over left-padded item ids; the outputs at real positions do not depend on the padding in front."""

    def __init__(self, *, n_items: int, d_model: int = 100, n_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.n_items = n_items
        self.item_emb = nn.Embedding(n_items + 1, d_model, padding_idx=0)
        self.emb_drop = Dropout(dropout)
        # torch's GRU drops the output of every layer but the last; out_drop drops the last one's
        self.gru = nn.GRU(d_model, d_model, n_layers, batch_first=True, dropout=dropout if n_layers > 1 else 0.0)
        self.out_drop = Dropout(dropout)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.xavier_uniform_(self.item_emb.weight)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()  # padding is never a GRU input; its score column is ignored
        for name, weight in self.gru.named_parameters():
            if name.startswith("weight"):
                for gate in weight.chunk(GRU_GATES):  # one Glorot bound per gate matrix, as the original
                    nn.init.xavier_uniform_(gate)
            else:
                nn.init.zeros_(weight)

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        """Item ids (B, L), left-padded with 0 -> hidden states (B, L, d); 0 at the leading padding.

        A row runs through the GRU from its first nonzero id on, so padding never moves the state: each row is
        computed as it would be alone. (An id 0 after that, e.g. an item masked by CL4SRec's augmentation, is an
        all-zero input step.) The rows are rotated to the right-padded layout that packed sequences need and back.
        """
        if seq.dim() != 2:
            raise ValueError(f"GRU4Rec.encode takes item ids of shape (B, L), got shape {tuple(seq.shape)}")
        B, L = seq.shape
        real = seq > 0
        lengths = torch.where(real.any(1), L - real.int().argmax(1), 0)  # from each row's first item to the end
        columns = torch.arange(L, device=seq.device)
        shift = (L - lengths)[:, None]  # (B, 1) leading padding per row
        to_right = (columns + shift) % L  # right-padded column j holds left-padded column j + shift
        to_left = (columns - shift) % L
        x = self.emb_drop(self.item_emb(seq.gather(1, to_right)))  # (B, L, d), right-padded
        # an all-padding row still takes one (discarded) step: packing needs lengths >= 1
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=L)  # zeros past lengths
        out = out.gather(1, to_left[:, :, None].expand(-1, -1, out.shape[-1]))  # (B, L, d), left-padded again
        out = out * (columns >= shift).unsqueeze(-1).to(out.dtype)  # clears the all-padding rows' one step
        return self.out_drop(out)
