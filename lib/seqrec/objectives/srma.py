"""SRMA (Liu et al., "Improving Contrastive Learning with Model Augmentation", arXiv 2203.15508; code:
github.com/salesforce/SRMA at 879fc79; REFERENCE.md sections 2 and 6): CL4SRec's objective (seqrec.objectives.
contrastive) with views built by model augmentation too. Total loss = next-item + cl.weight x NT-Xent.

- Data augmentation: CL4SRec's crop/mask/reorder views (``srma.augment``); without it (SRMA w/o D) both views are
  the user's un-augmented training input and differ only by model augmentation.
- Neuron masking and the extra layers are the encoder's (seqrec.models.srma.SRMAEncoder). Layer dropping: the
  views skip ``srma.drop`` of the K extra layers, drawn once for the whole batch: the same layers for both views
  ("same", the code's one concatenated forward) or a draw per view ("distinct"). The next-item loss uses the blocks
  only (the code's default), or the extra layers with their own draw (``srma.rec_layers``, the code's
  --rec_model_aug). Evaluation applies all K layers (the code), or none (``srma.inference_layers``; the chapter's).
- Encoder complementing, with a frozen encoder trained by its own run (seqrec.runs.complement_config) and handed
  over with ``set_complement``: "transformer" / "gru" (the paper, section 4.3) add gamma x its output on the first
  view to that view's representation, the encoder in eval mode; "srma" (the code) encodes the un-augmented input
  with a frozen SRMA run whose dropout stays live (the code never calls eval() on it) and adds
  cl.weight x gamma x [NT-Xent(v1, h) + NT-Xent(v2, h)] (the record's "complement" loss component).

With ``cl.representation="real_slots"`` the representation is zero at padding slots. The views' NT-Xent is then
computed as CL4SRec's (``real_slot_gram``): the blocks and the extra layers run on each length-sorted trimmed pass,
and dot products only over the slots a pair of passes shares, the same numbers as the max_len-wide representation
(tested). A complement's output is computed at max_len width and its real slots added; the code's "srma"
complement keeps the max_len-wide path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ContrastConfig, SRMAConfig
from ..errors import TrainingError
from .base import TrainingRows
from .contrastive import CL4SRec, ContrastBatch, nt_xent, nt_xent_of_gram, real_slot_gram


@dataclass
class SRMABatch(ContrastBatch):
    originals: torch.Tensor | None = None  # (B, max_len) the un-augmented training inputs (the code's complement)


class _WithLayers:
    """``model`` as the next-item loss sees it: with a fixed choice of extra layers."""

    def __init__(self, model, keep: torch.Tensor):
        self.model, self.keep = model, keep

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        return self.model.encode(seq, keep=self.keep)

    def __getattr__(self, name):
        return getattr(self.model, name)


class SRMA(CL4SRec):
    """CL4SRec with model augmentation; the encoder must be an SRMAEncoder."""

    def __init__(self, loss: str, bucket: bool, cl: ContrastConfig, settings: SRMAConfig, max_len: int):
        super().__init__(loss, bucket, cl, max_len)
        self.srma = settings
        # Frozen and outside the module tree: not trained, not in the optimiser, not in the checkpoint.
        self.__dict__["complement"] = None

    def set_complement(self, encoder: nn.Module) -> None:
        """The frozen complement encoder (weights of the run that ``runs.complement_config`` names)."""
        encoder.requires_grad_(False)
        encoder.train(self.srma.complement == "srma")  # the code's frozen model keeps its dropout live
        self.__dict__["complement"] = encoder

    def draw_views(self, rows: TrainingRows, users: np.ndarray) -> np.ndarray:
        if self.srma.augment:
            return super().draw_views(rows, users)
        return np.concatenate([rows.inputs[users]] * 2)  # SRMA w/o D: model augmentation alone makes the views

    def make_batch(self, rows: TrainingRows, users: np.ndarray) -> SRMABatch:
        batch = super().make_batch(rows, users)
        originals = rows.tensor(rows.inputs[users]) if self.srma.complement == "srma" else None
        return SRMABatch(**vars(batch), originals=originals)

    def view_keep(self, model, n_users: int) -> torch.Tensor:
        """(2B, K) bool: the extra layers each view applies; every row of a view shares one draw."""
        first = model.draw_kept(self.srma.drop)
        second = first if self.srma.views == "same" else model.draw_kept(self.srma.drop)
        return torch.cat([first.expand(n_users, -1), second.expand(n_users, -1)])

    def representation(self, model, batch: ContrastBatch) -> torch.Tensor:
        """(2B, max_len x d): the views through the blocks, then through the extra layers each view drew; with
        "real_slots", ``pass_outputs`` zero-padded to max_len and put back in the views' order."""
        if self.settings.representation == "real_slots":
            outputs = self.pass_outputs(model, batch)
            padded = torch.cat([F.pad(o, (0, 0, self.max_len - o.shape[1], 0)) for o in outputs])
            return padded[batch.order].flatten(1)
        hidden = model.encode(batch.views[0], keep=torch.zeros(len(model.extra), dtype=torch.bool))
        return model.extra_layers(hidden, self.view_keep(model, len(hidden) // 2)).flatten(1)

    def pass_outputs(self, model, batch: ContrastBatch) -> list[torch.Tensor]:
        """real_slots: each pass's outputs (n_a, w_a, d) through the blocks, then the extra layers its rows drew
        (position-wise layers: a trimmed pass gives the real slots of the full-width one), zero at padding slots.
        The blocks of every pass run before the layers are drawn, as in one full-width forward."""
        blocks_only = torch.zeros(len(model.extra), dtype=torch.bool)
        hidden = [model.encode(v, keep=blocks_only) for v in batch.views]
        keep = self.view_keep(model, len(batch.order) // 2)[self.pass_rows(batch)]
        outputs, start = [], 0
        for views, h in zip(batch.views, hidden):
            outputs.append(model.extra_layers(h, keep[start:start + len(views)]) * (views > 0).unsqueeze(-1))
            start += len(views)
        return outputs

    @staticmethod
    def pass_rows(batch: ContrastBatch) -> torch.Tensor:
        """(2B,) the view (its row in the views' order) at each row of the passes' concatenation."""
        return torch.argsort(batch.order)

    def complemented(self, outputs: list[torch.Tensor], batch: ContrastBatch) -> list[torch.Tensor]:
        """``pass_outputs`` with gamma x the frozen complement's output added to every first view (the paper's
        complementing), computed on the max_len-wide view as the full-width path does (a GRU reads the leading
        padding), its real slots then cut to each pass's width."""
        ids = self.view_ids(batch)
        n_users = len(ids) // 2
        added = self.srma.gamma * self.complement_output(ids[:n_users]).view(n_users, self.max_len, -1)
        rows, start, result = self.pass_rows(batch), 0, []
        for output in outputs:
            owners = rows[start:start + len(output)]
            start += len(output)
            is_first = owners < n_users
            extra = torch.zeros_like(output)
            extra[is_first] = added[owners[is_first], self.max_len - output.shape[1]:].to(output.dtype)
            result.append(output + extra)
        return result

    def view_ids(self, batch: ContrastBatch) -> torch.Tensor:
        """(2B, max_len) the views' item ids, in the representation's row order."""
        if self.settings.representation == "flat":
            return batch.views[0]
        return torch.cat([F.pad(v, (self.max_len - v.shape[1], 0)) for v in batch.views])[batch.order]

    @torch.no_grad()
    def complement_output(self, ids: torch.Tensor) -> torch.Tensor:
        """(N, max_len x d): the frozen complement's outputs on item ids (N, max_len), as a representation."""
        if self.complement is None:
            raise TrainingError(f"srma.complement={self.srma.complement} needs its frozen encoder: runs.train_record "
                                "loads it from the complement run (runs.complement_config) with set_complement")
        if next(self.complement.parameters()).device != ids.device:
            self.complement.to(ids.device)
        hidden = self.complement.encode(ids)
        if self.settings.representation == "real_slots":
            hidden = hidden * (ids > 0).unsqueeze(-1)
        return hidden.flatten(1)

    def forward(self, model, batch: SRMABatch) -> dict[str, torch.Tensor]:
        # CL4SRec's order of forwards (views, then next item); the code's "srma" complement last (its dropout draws)
        weight, tau, gamma = self.settings.weight, self.settings.tau, self.srma.gamma
        paper_complement = self.srma.complement in ("transformer", "gru")  # the paper: added to one branch
        views = None  # the max_len-wide (first, second) views, where the loss needs them whole
        if self.settings.representation == "real_slots" and self.srma.complement != "srma":
            outputs = self.pass_outputs(model, batch)
            if paper_complement:
                outputs = self.complemented(outputs, batch)
            contrast = nt_xent_of_gram(real_slot_gram(outputs)[batch.order][:, batch.order], tau)
        else:  # flat, or the code's complement (NT-Xent against its output needs the whole views)
            first, second = views = self.representation(model, batch).chunk(2)
            if paper_complement:
                first = first + gamma * self.complement_output(self.view_ids(batch)[:len(first)]).to(first.dtype)
            contrast = nt_xent(first, second, tau)
        rec_keep = (model.draw_kept(self.srma.drop) if self.srma.rec_layers
                    else torch.zeros(len(model.extra), dtype=torch.bool))
        losses = {"next_item": self.next_item_loss(_WithLayers(model, rec_keep), batch.next_item),
                  "contrast": weight * contrast}
        if self.srma.complement == "srma":  # the code: two more NT-Xent terms against the frozen SRMA run
            first, second = views
            h = self.complement_output(batch.originals).to(first.dtype)
            losses["complement"] = weight * gamma * (nt_xent(first, h, tau) + nt_xent(second, h, tau))
        return losses
