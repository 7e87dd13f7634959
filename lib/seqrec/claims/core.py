"""What every paper's claims share: the Evidence a claim's rule returns, the Claim itself, and the helpers the rules
use (paired tests over seeds, the runs a verdict still waits for, sharpness records)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


from .. import report, runs
from ..config import Config, flat_items, method_name
from ..experiments import samrec as samrec_plan

VERDICTS = ("confirmed", "partly", "not reproduced", "not tested")
ALPHA = 0.05  # significance level of the paired tests
VERDICT_COLOURS = {"confirmed": "26, 152, 80", "partly": "255, 193, 7", "not reproduced": "215, 48, 31",
                   "not tested": "150, 150, 150"}


@dataclass(frozen=True)
class Evidence:
    ours: str  # our number(s), or what is missing
    paper: str  # the paper's number(s), computed from papers/*.csv where it prints them
    verdict: str  # one of VERDICTS
    detail: str  # the numbers behind the verdict
    # whether this verdict rests on CL4SRec-family runs; None: as the claim says (Claim.uses_representation). False
    # where a rule decided from the other methods alone (SAMRec below SASRec: CL4SRec cannot change it)
    uses_representation: bool | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r}; known: {', '.join(VERDICTS)}")


@dataclass(frozen=True)
class Caveat:
    """What a decided verdict must carry when it rests on our reading of a detail the paper leaves open."""
    label: str  # a few words the ledger appends to "ours"
    note: str  # a sentence appended to the detail: the reading, and what the records show it moves


@dataclass(frozen=True)
class Claim:
    paper: str  # as report.PAPER_FILES names it
    id: str  # short and unique within the paper
    text: str  # the claim, close to the paper's words
    where_in_paper: str
    evaluate: Callable[[str, Path], Evidence] = field(repr=False)  # (profile, results_dir) -> Evidence
    rule: str = ""  # how the verdict is decided, in words (shown on the pages)
    uses_representation: bool = False  # its runs include CL4SRec-family ones: the ledger says while that is provisional
    # (profile, results_dir) -> the Caveat a decided verdict carries, or None where the profile needs none (the
    # ledger adds it; "not tested" needs none)
    caveat: Callable[[str, Path], Caveat | None] | None = field(default=None, repr=False)


# ------------------------------------------------------------------------------------------------------- helpers

def pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:+.{digits}f}%"


def p_text(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def run_label(cfg: Config) -> str:
    """A run as a reader names it: "SAMRec Beauty ρ=0.1", "CL4SRec Yelp 60% data", "CL4SRec Beauty real_slots"."""
    parts = [method_name(cfg), cfg.dataset]
    if cfg.update == "sam":
        parts.append(f"ρ={cfg.sam.rho:g}")
    if cfg.train_fraction != 1.0:
        parts.append(f"{cfg.train_fraction:.0%} data")
    if cfg.contrast != "none" and cfg.cl.representation != "flat":
        parts.append(cfg.cl.representation)
    return " ".join(parts)


def missing_runs(cfgs: list[Config], records: list, limit: int = 6, names: list[str] | None = None) -> str:
    """The runs without a record, grouped by run and listing their seeds: "SAMRec Beauty ρ=0.1 (seeds 1, 2)".

    ``names`` (one per config, e.g. a table's row "CL4SRec w/o D") name the runs; by default ``run_label``. Runs that
    share a name but differ in more than the seed (a sweep's points) add the settings that tell them apart."""
    names = names or [run_label(c) for c in cfgs]
    variants: dict[str, dict[str, dict]] = {}  # name -> {settings without the seed: those settings}
    for name, cfg in zip(names, cfgs):
        settings = flat_items(dataclasses.replace(cfg, seed=0))
        variants.setdefault(name, {})[json.dumps(settings, sort_keys=True, default=str)] = settings
    groups: dict[str, set[int]] = {}
    for name, cfg, record in zip(names, cfgs, records):
        if record is None:
            groups.setdefault(name + _distinguishing(cfg, list(variants[name].values())), set()).add(cfg.seed)
    items = [f"{label} (seed{'s' if len(s) > 1 else ''} {', '.join(map(str, sorted(s)))})"
             for label, s in groups.items()]
    shown = "; ".join(items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def _distinguishing(cfg: Config, variants: list[dict]) -> str:
    """" [dropout=0.0]": the settings in which ``cfg`` differs among ``variants`` (nothing when there is one)."""
    if len(variants) < 2:
        return ""
    differing = sorted(k for k in variants[0] if k != "seed" and len({str(v.get(k)) for v in variants}) > 1)
    own = flat_items(cfg)
    return " [" + ", ".join(f"{k}={own[k]}" for k in differing) + "]"


def with_datasets_decided(claims: list[Claim], datasets: tuple[str, ...],
                          claims_of: Callable[[tuple[str, ...]], list[Claim]]) -> list[Claim]:
    """``claims`` (judged over several ``datasets``), each of whose "not tested" verdicts also shows every dataset
    on which the claim, judged on that dataset alone (``claims_of((dataset,))``: the paper's claims over one
    dataset), is already decided: what the other datasets can still change."""
    if len(datasets) < 2:
        return claims
    per_dataset: dict[str, dict[str, Claim]] = {}  # built once: a paper's claims read its tables when built

    def alone(claim_id: str, dataset: str) -> Claim:
        if dataset not in per_dataset:
            per_dataset[dataset] = {c.id: c for c in claims_of((dataset,))}
        return per_dataset[dataset][claim_id]

    def evaluate_showing_decided(claim: Claim) -> Callable[[str, Path], Evidence]:
        def evaluate(profile: str, results_dir: Path) -> Evidence:
            evidence = claim.evaluate(profile, results_dir)
            if evidence.verdict != "not tested":
                return evidence
            decided = [(d, e) for d in datasets
                       if (e := alone(claim.id, d).evaluate(profile, results_dir)).verdict != "not tested"]
            if not decided or len(decided) == len(datasets):  # all decided alone, yet not together: say nothing new
                return evidence
            return dataclasses.replace(
                evidence, ours=f"{evidence.ours}; decided so far: " + "; ".join(
                    e.ours if e.ours.startswith(d) else f"{d} ({e.ours})" for d, e in decided),
                detail=f"{evidence.detail.rstrip('.')}. Datasets already decided, each judged alone: "
                       + " ".join(f"{d}: {e.verdict}, {e.detail.rstrip('.')}." for d, e in decided))

        return evaluate

    return [dataclasses.replace(c, evaluate=evaluate_showing_decided(c)) for c in claims]


def out_of_scope(paper: str) -> Evidence:
    """The "not tested" of a claim none of whose datasets its artifact covers on this profile (the plans' scope)."""
    return Evidence("no dataset in scope", paper, "not tested",
                    "none of the claim's datasets is in its artifact's scope on this profile (the plan's scope)")


def not_tested(cfgs: list[Config], records: list, paper: str, what: str = "runs",
               names: list[str] | None = None) -> Evidence:
    lacking = sum(r is None for r in records)
    return Evidence(ours=f"{lacking} of {len(cfgs)} {what} missing", paper=paper, verdict="not tested",
                    detail="missing: " + missing_runs(cfgs, records, names=names))


def needs_representation(profile: str, results_dir: Path, paper: str) -> tuple[str | None, Evidence | None]:
    """CL4SRec's representation (samrec_plan.chosen_representation), or a "not tested" naming the runs it waits for."""
    representation = samrec_plan.chosen_representation(profile, results_dir)
    if representation is not None:
        return representation, None
    deciding = samrec_plan.representation_runs(profile)["real_slots"]
    evidence = not_tested(deciding, runs.collect(deciding, results_dir), paper,
                          "runs that choose CL4SRec's representation")
    return None, Evidence(evidence.ours, paper, "not tested",
                          f"CL4SRec's representation is not chosen yet (real_slots unless flat is better on "
                          f"validation, {samrec_plan.REPRESENTATION_DATASET}); {evidence.detail}")


def representation_caveat(profile: str, results_dir: Path) -> Caveat | None:
    """None unless CL4SRec's representation is chosen but not final (samrec_plan.representation_final): then the
    Caveat of a verdict resting on it, since the flat runs still to finish could change the choice."""
    if (samrec_plan.chosen_representation(profile, results_dir) is None
            or samrec_plan.representation_final(profile, results_dir)):
        return None
    status = samrec_plan.representation_status(profile, results_dir)
    return Caveat("provisional representation",
                  f"Provisional: CL4SRec's representation is {status}; a verdict resting on it can change.")


def collect(cfgs: list[Config], results_dir: Path) -> dict[tuple, dict] | list:
    """{(method, dataset, seed, train_fraction, rho): record} when every run has one, else the list with Nones."""
    records = runs.collect(cfgs, results_dir)
    if any(r is None for r in records):
        return records
    return {(method_name(c), c.dataset, c.seed, c.train_fraction, c.sam.rho if c.update == "sam" else None): r
            for c, r in zip(cfgs, records)}


def paired(treatment: list[float], control: list[float]) -> dict:
    """Treatment vs control over paired seeds (``report.paired_test``): relative gain of the means, mean paired
    difference with its 95% CI half-width, that CI as relative gains (``gain_ci``: in units of the control's mean),
    and the two-sided paired t-test's p (0 when every difference is the same non-zero number, NaN when they are all
    zero)."""
    test = report.paired_test(dict(enumerate(treatment)), dict(enumerate(control)))
    mean, p, base = test["mean"], test["p"], test["base"]  # base: the control's mean over the paired seeds
    relative = (lambda value: value / base) if base else (lambda value: float("nan"))  # no hits: no relative gain
    return {"gain": relative(mean), "difference": mean, "ci95": test["ci_high"] - mean,
            "gain_ci": (relative(test["ci_low"]), relative(test["ci_high"])), "p": p, "higher": mean > 0,
            "significant": mean > 0 and p < ALPHA}


def inside(value: float, interval: tuple[float, float]) -> bool:
    """Whether a paper's gain lies in our 95% CI of it: our runs then cannot tell the two apart."""
    return interval[0] <= value <= interval[1]


def ci_text(test: dict) -> str:
    """A relative gain with its 95% CI, as a verdict's detail prints it: "+2.1% [-1.0%, +5.2%]"."""
    low, high = test["gain_ci"]
    return f"{pct(test['gain'])} [{pct(low)}, {pct(high)}]"


