"""The claims ledger: what each paper claims, tested against our run records; every verdict computed, never typed.

A :class:`Claim` names a claim, where the paper makes it and the rule that judges it; ``evaluate(profile,
results_dir)`` reads the records of the runs the claim needs (the run lists of ``experiments``, so a claim never
asks for a run the queue does not train) and returns :class:`Evidence`: our number, the paper's number, a verdict
and the detail behind it. Verdicts are one of VERDICTS; a claim whose records are not all there is "not tested",
and its detail names the missing runs, unless the records at hand already decide it: a verdict rests on part of
the data only where the rest cannot change it (the rule says when, and the detail says so).

Each paper's claims are one list in CLAIMS; a chapter adds its paper there, and ``ledger()`` evaluates them all
for the claims page. Statistics: paired t-tests across training seeds (report.paired_test; a seed pairs the runs
that share it) and Student-t 95% intervals (report.mean_ci).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import report, runs
from ..sharpness import curvature
from .core import (ALPHA, VERDICT_COLOURS, VERDICTS, Caveat, Claim, Evidence, paired,
                   representation_caveat)
from .samrec import samrec_claims
from .srma import masking_reading, srma_claims

__all__ = ["ALPHA", "CLAIMS", "VERDICTS", "VERDICT_COLOURS", "Caveat", "Claim", "Evidence", "curvature", "ledger",
           "masking_reading", "paired", "samrec_claims", "srma_claims", "verdict_table"]


# Every paper's claims; EMKD and NASR join as their chapters land.
CLAIMS: dict[str, list[Claim]] = {"SAMRec": samrec_claims(), "SRMA": srma_claims()}


def ledger(profile: str, results_dir: Path = runs.RESULTS_DIR, papers=None) -> pd.DataFrame:
    """Every claim of ``papers`` (default: all in CLAIMS), evaluated: one row per claim. A decided verdict that rests
    on a provisional choice of CL4SRec's representation (``representation_caveat``), or on a reading the claim names
    (``Claim.caveat``), says so in "ours" (a label) and "detail" (a sentence)."""
    rows = []
    provisional = representation_caveat(profile, Path(results_dir))
    for paper in papers or list(CLAIMS):
        for claim in CLAIMS[paper]:
            evidence = claim.evaluate(profile, Path(results_dir))
            ours, detail = evidence.ours, evidence.detail
            if evidence.verdict != "not tested":
                uses = (claim.uses_representation if evidence.uses_representation is None
                        else evidence.uses_representation)
                caveats = [c for c in (provisional if uses else None,
                                       claim.caveat(profile, Path(results_dir)) if claim.caveat else None) if c]
                if caveats:
                    ours = f"{ours} ({'; '.join(c.label for c in caveats)})"
                    detail = " ".join([detail.rstrip(".") + "."] + [c.note for c in caveats])
            rows.append({"paper": claim.paper, "id": claim.id, "claim": claim.text, "where": claim.where_in_paper,
                         "ours": ours, "paper's": evidence.paper, "verdict": evidence.verdict, "detail": detail,
                         "rule": claim.rule})
    return pd.DataFrame(rows, columns=["paper", "id", "claim", "where", "ours", "paper's", "verdict", "detail",
                                       "rule"])


def _verdict_css(value: str) -> str:
    colour = VERDICT_COLOURS.get(value)
    return f"background-color: rgba({colour}, 0.45); font-weight: bold;" if colour else ""


def verdict_table(frame: pd.DataFrame, caption: str, columns=("paper", "claim", "where", "ours", "paper's",
                                                                "verdict")) -> report.Table:
    """A ledger (``ledger()``) as a book table, each verdict coloured: green confirmed, amber partly, red not
    reproduced, grey not tested."""
    shown = report.table(frame[list(columns)].reset_index(drop=True), caption, index=False)
    shown.styler = shown.styler.map(_verdict_css, subset=["verdict"])
    return shown
