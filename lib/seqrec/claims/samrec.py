"""The SAMRec paper's claims (Lai et al., RecSys 2023), judged on the runs of ``experiments.samrec``."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from .. import report, runs
from ..config import PRETRAIN_EPOCHS, method_name
from ..experiments import samrec as samrec_plan
from ..sharpness import curvature, stored_analysis
from .core import (ALPHA, Caveat, Claim, Evidence, ci_text, collect, inside, needs_representation,
                   not_tested, out_of_scope, p_text, paired, pct, with_datasets_decided)

MOST = 0.75  # "most datasets": at least 3 of 4
# how the gain claims read "not reproduced": no significant gain, which need not rule the paper's gain out
NOT_REPRODUCED_GAIN = ("Not reproduced: otherwise, which means our runs do not show the gain; where the paper's gain "
                       "lies inside our 95% CI they cannot rule it out either, and \"ours\" counts those cells.")
# "almost an order of magnitude": at least 5x (above sqrt(10) ~ 3.2, the midpoint of 1x and 10x on a log scale)
ORDER_OF_MAGNITUDE = 5.0
STABLE_WITHIN = 0.05  # a radius is "stable" when its test HR@10 is within 5% (relative) of the best radius's
STABLE_RANGE = (0.1, 1.0)  # the radii SAMRec's paper calls stable


def _needs_rho(profile: str, results_dir: Path, paper: str) -> tuple[float | None, Evidence | None]:
    """The radius the tables use (samrec_plan.selected_rho), or a "not tested" naming the sweep runs it waits for."""
    rho = samrec_plan.selected_rho(profile, results_dir)
    if rho is not None:
        return rho, None
    sweep = samrec_plan.figure3(profile, [samrec_plan.RHO_SELECTION_DATASET])
    records = runs.collect(sweep, results_dir)
    evidence = not_tested(sweep, records, paper, "runs of the sweep that chooses ρ")
    return None, Evidence(evidence.ours, paper, "not tested",
                          f"ρ is not chosen yet (best validation NDCG@20 of the F3 sweep on "
                          f"{samrec_plan.RHO_SELECTION_DATASET}, seed 1); {evidence.detail}")


def _needs_choices(profile: str, results_dir: Path, paper: str) -> tuple[float | None, str | None, Evidence | None]:
    """rho and CL4SRec's representation, or the "not tested" of the first one still undecided."""
    rho, waiting = _needs_rho(profile, results_dir, paper)
    if waiting:
        return None, None, waiting
    representation, waiting = needs_representation(profile, results_dir, paper)
    return rho, representation, waiting


def _figure1_sharpness(profile: str, results_dir: Path, methods: tuple[str, ...], paper: str,
                       rho: float | None, partial: bool = False) -> dict[str, dict] | Evidence:
    """{method: curvature} of Figure 1's runs, or "not tested" naming missing run records or analyses; with
    ``partial``, the methods that have both, so far (a "not tested" only while CL4SRec's representation waits)."""
    representation, waiting = needs_representation(profile, results_dir, paper)
    if waiting:
        return waiting
    cfgs = {m: c for m, c in samrec_plan.figure1(profile, rho, representation=representation).items() if m in methods}
    records = runs.collect(list(cfgs.values()), results_dir)
    if any(r is None for r in records) and not partial:
        return not_tested(list(cfgs.values()), records, paper)
    analyses = {m: stored_analysis(c, results_dir) if r else None for (m, c), r in zip(cfgs.items(), records)}
    lacking = [m for m, a in analyses.items() if a is None]
    if lacking and not partial:
        return Evidence(f"{len(lacking)} of {len(methods)} sharpness analyses missing", paper,
                        "not tested", f"no sharpness analysis of {', '.join(lacking)} ({cfgs[lacking[0]].dataset}, "
                        f"seed {cfgs[lacking[0]].seed}): run samrec_fig1_landscapes with analyse_missing=True")
    found = {m: curvature(a) for m, a in analyses.items() if a is not None}
    negative = [m for m, c in found.items() if c["eigenvalue"] <= 0]
    if negative:  # Lanczos's largest eigenvalue is negative: no direction curves upwards
        return Evidence("no largest curvature: " + ", ".join(f"{m} {found[m]['eigenvalue']:.3g}" for m in negative),
                        paper, "not tested", f"the largest (algebraic) Hessian eigenvalue of {', '.join(negative)} "
                        "is <= 0: no direction curves upwards at these weights (or Lanczos has not converged), so "
                        "there is no largest principal curvature for the claim to compare")
    return found


def s3rec_pretraining(profile: str, results_dir: Path) -> Caveat | None:
    """The caveat of a verdict that S3Rec's runs decide, where this profile pre-trains S3Rec for fewer epochs than
    the README fine-tunes from (config.PRETRAIN_EPOCHS): less pre-training likely weakens S3Rec."""
    ours = samrec_plan.method_config("S3Rec", profile, "Beauty", 1).s3rec.epochs
    readme = sorted(set(PRETRAIN_EPOCHS.values()))
    if not ours or ours >= readme[0]:  # 0: the README's epoch
        return None
    return Caveat(f"S3Rec pre-trained {ours} epochs",
                  f"Caveat: S3Rec is pre-trained for {ours} epochs on every dataset, where its README fine-tunes from "
                  f"epoch {' or '.join(map(str, readme))}; a less pre-trained S3Rec is likely weaker (and its "
                  "loss landscape different), which would favour \"SAMRec on par with S3Rec\" and may move "
                  "S3Rec's sharpness and its gain from SAM.")


def _paper_gain(table: str, treatment: str, control: str, dataset: str, metric: str) -> float:
    """The paper's relative gain of ``treatment`` over ``control`` in one cell (NaN where it prints neither)."""
    gains = _paper_gains(table, [(treatment, control)], (metric,), (dataset,))
    return gains[0] if gains else float("nan")


def _paper_gains(table: str, pairs: list[tuple[str, str]], metrics=("HR@10", "NDCG@10"),
                 datasets=samrec_plan.DATASETS) -> list[float]:
    """The paper's relative gains of each (treatment, control) pair, per dataset and metric, from papers/samrec.csv."""
    numbers = report.paper_numbers("SAMRec", table=table).set_index(["method", "dataset", "metric"])["value"]
    gains = []
    for treatment, control in pairs:
        for dataset in datasets:
            for metric in metrics:
                if (treatment, dataset, metric) in numbers.index and (control, dataset, metric) in numbers.index:
                    gains.append(numbers[(treatment, dataset, metric)] / numbers[(control, dataset, metric)] - 1)
    return gains


def _scoped(artifact: str, profile: str, datasets) -> tuple[str, ...]:
    """``datasets`` within an artifact's scope on ``profile`` (samrec_plan.scope): a figure the budget runs on two
    datasets is judged on those two."""
    in_scope = samrec_plan.scope(artifact, profile)[0]
    return tuple(d for d in datasets if d in in_scope)


def samrec_claims(datasets=samrec_plan.DATASETS, seeds=(1, 2, 3)) -> list[Claim]:
    """The SAMRec paper's claims (Lai et al., RecSys 2023) over the runs of ``experiments`` for these datasets and
    (Table 1 and 2) seeds."""
    datasets, seeds = tuple(datasets), tuple(seeds)
    most = math.ceil(MOST * len(datasets))
    metrics = ("HR@10", "NDCG@10")
    t1_gains = _paper_gains("Table 1", [("SAMRec", "SASRec")])
    t1_paper = f"{pct(min(t1_gains), 2)} to {pct(max(t1_gains), 2)} (Table 1, Improv. row; mean of 10 runs)"

    def improves_sasrec(profile: str, results_dir: Path) -> Evidence:
        rho, waiting = _needs_rho(profile, results_dir, t1_paper)
        if waiting:
            return waiting
        cfgs = [c for c in samrec_plan.table1(profile, rho, datasets, seeds) if method_name(c) in ("SASRec", "SAMRec")]
        found = collect(cfgs, results_dir)
        if isinstance(found, list):
            return not_tested(cfgs, found, t1_paper)
        if len(seeds) < 2:
            return Evidence("one seed", t1_paper, "not tested", "a paired test needs at least two seeds")
        wins, strong, lines, gains, cannot_tell = 0, 0, [], [], 0
        for d in datasets:
            tests = {m: paired([found[("SAMRec", d, s, 1.0, rho)]["test"][m] for s in seeds],
                               [found[("SASRec", d, s, 1.0, None)]["test"][m] for s in seeds]) for m in metrics}
            gains += [t["gain"] for t in tests.values()]
            win = all(t["significant"] for t in tests.values())
            wins += win
            strong += win and min(t["gain"] for t in tests.values()) >= min(t1_gains)
            cannot_tell += sum(inside(_paper_gain("Table 1", "SAMRec", "SASRec", d, m), t["gain_ci"])
                               for m, t in tests.items())
            lines.append(f"{d}: " + ", ".join(f"{m} {ci_text(t)} ({p_text(t['p'])})" for m, t in tests.items()))
        verdict = "confirmed" if strong >= most else "partly" if wins else "not reproduced"
        return Evidence(f"{len(datasets)} datasets, {len(seeds)} seeds: {pct(min(gains))} to {pct(max(gains))}; "
                        f"significantly better on both metrics on {wins} of {len(datasets)} datasets, {strong} by at "
                        f"least {pct(min(t1_gains), 2)}; the "
                        f"paper's gain inside our 95% CI in {cannot_tell} of {len(gains)} cells",
                        t1_paper, verdict,
                        f"ρ = {rho:g}, {len(seeds)} seeds, paired t-test; gains with their 95% CI. "
                        + "; ".join(lines))

    ssl_columns = report.paper_numbers("SAMRec", table="Table 1").pivot_table(
        index=["dataset", "metric"], columns="method", values="value")
    ssl_best = int((ssl_columns["SAMRec"] >= ssl_columns[["S3Rec", "CL4SRec"]].max(axis=1)).sum())
    par_paper = (f"comparable; SAMRec at least as high as both in {ssl_best} of {len(ssl_columns)} columns "
                 "(Table 1)")

    def on_par_with_ssl(profile: str, results_dir: Path) -> Evidence:
        rho, representation, waiting = _needs_choices(profile, results_dir, par_paper)
        if waiting:
            return waiting
        cfgs = [c for c in samrec_plan.table1(profile, rho, datasets, seeds, representation)
                if method_name(c) in ("S3Rec", "CL4SRec", "SAMRec")]
        if len(seeds) < 2:
            return Evidence("one seed", par_paper, "not tested", "a CI of the paired difference needs two seeds")
        records = runs.collect(cfgs, results_dir)
        found = {(method_name(c), c.dataset, c.seed): r for c, r in zip(cfgs, records) if r}
        cells, worse, higher, tested = 0, [], 0, 0
        for base in ("S3Rec", "CL4SRec"):
            for d in datasets:
                for m in metrics:
                    cells += 1
                    runs_of = [found.get((method, d, s)) for method in ("SAMRec", base) for s in seeds]
                    if not all(runs_of):  # a cell is judged on all its seeds or not at all
                        continue
                    t = paired([found[("SAMRec", d, s)]["test"][m] for s in seeds],
                               [found[(base, d, s)]["test"][m] for s in seeds])
                    tested += 1
                    higher += t["higher"]
                    if t["difference"] + t["ci95"] < 0:  # the whole CI of SAMRec minus the baseline lies below 0
                        worse.append(f"{base} {d} {m} ({pct(t['gain'])})")
        lines = ("SAMRec is worse (95% CI of the paired difference below 0) against: " + "; ".join(worse)
                 if worse else "SAMRec is never worse beyond the 95% CI of the paired difference.")
        if tested < cells and len(worse) < cells / 2:  # the missing cells can still change the verdict
            return not_tested(cfgs, records, par_paper)
        verdict = "confirmed" if not worse else "partly" if len(worse) < cells / 2 else "not reproduced"
        early = (f" Decided with {cells - tested} of the {cells} cells still missing runs: at least half are worse "
                 "already, so no result of theirs can change the verdict." if tested < cells else "")
        return Evidence(f"on par or better in {tested - len(worse)} of {tested} cells with all their runs"
                        + (f" ({cells} in all)" if tested < cells else "") + f"; higher in {higher}",
                        par_paper, verdict, f"ρ = {rho:g}, {len(seeds)} seeds. {lines.rstrip('.')}.{early}")

    def data_efficiency(profile: str, results_dir: Path) -> Evidence:
        paper = "SAMRec above SASRec and CL4SRec at 60% and 80% on every dataset (Figure 2; values not printed)"
        rho, waiting = _needs_rho(profile, results_dir, paper)
        if waiting:
            return waiting
        representation, representation_waiting = needs_representation(profile, results_dir, paper)
        scoped = _scoped("figure2", profile, datasets)
        if not scoped:
            return out_of_scope(paper)
        cfgs = samrec_plan.figure2(profile, rho, scoped, representation=representation)  # no CL4SRec while waiting
        without_ssl = [c for c in cfgs if method_name(c) != "CL4SRec"]
        found = collect(cfgs, results_dir)
        if isinstance(found, list):
            found = collect(without_ssl, results_dir)  # SASRec and SAMRec alone may already settle it
            if isinstance(found, list):
                missing = not_tested(cfgs, runs.collect(cfgs, results_dir), paper)
                return missing if not representation_waiting else Evidence(
                    missing.ours, paper, "not tested", f"{missing.detail}; and CL4SRec: {representation_waiting.detail}")
        figure_seeds = sorted({c.seed for c in cfgs})
        methods = tuple(m for m in ("SASRec", "CL4SRec", "SAMRec") if any(k[0] == m for k in found))
        hr = {(m, d, f): np.mean([found[(m, d, s, f, rho if m == "SAMRec" else None)]["test"]["HR@10"]
                                  for s in figure_seeds])
              for m in methods for d in scoped for f in samrec_plan.TRAIN_FRACTIONS}
        above = {d: {m: all(hr[("SAMRec", d, f)] > hr[(m, d, f)] for f in (0.6, 0.8)) for m in methods[:-1]}
                 for d in scoped}
        ties = {d: [f"SAMRec = {m} at {f:.0%}" for m in methods[:-1] for f in (0.6, 0.8)
                    if hr[("SAMRec", d, f)] == hr[(m, d, f)]] for d in scoped}  # exact: "above" fails there
        lines = [f"{d}: HR@10 at 60/80% " + ", ".join(
            f"{m} {hr[(m, d, 0.6)]:.4f}/{hr[(m, d, 0.8)]:.4f} ({pct(hr[(m, d, 0.6)] / hr[(m, d, 1.0)] - 1)} at 60%)"
            for m in methods) + "".join(f" ({tie}, to the last hit)" for tie in ties[d]) for d in scoped]
        # one run per cell on the cpu profile: "ours" names the scope and how far apart SAMRec and SASRec are
        seeds_said = f"seed{'s' if len(figure_seeds) > 1 else ''} {', '.join(map(str, figure_seeds))}"
        gaps = [hr[("SAMRec", d, f)] / hr[("SASRec", d, f)] - 1 for d in scoped for f in (0.6, 0.8)]
        scope = f"{', '.join(scoped)}, {seeds_said}: "
        gap = (f" (SAMRec − SASRec {pct(min(gaps))} to {pct(max(gaps))}"
               + (", one run each)" if len(figure_seeds) == 1 else ")"))
        detail = (f"test HR@10 with 60% and 80% of the users' training data (change from 100% in brackets), "
                  f"ρ = {rho:g}, seed{'s' if len(figure_seeds) > 1 else ''} {', '.join(map(str, figure_seeds))} "
                  f"(no CI: one run per cell). " + "; ".join(lines))
        if "CL4SRec" not in methods:
            # SAMRec must beat both; where it never beats SASRec, CL4SRec cannot change the verdict
            wins = sum(a["SASRec"] for a in above.values())
            if wins:
                waits_for = (representation_waiting.detail if representation_waiting
                             else not_tested(cfgs, runs.collect(cfgs, results_dir), paper).detail)
                return Evidence(f"{scope}SAMRec above SASRec at 60% and 80% on {wins} of {len(scoped)} datasets"
                                f"{gap}; CL4SRec's runs missing", paper, "not tested", f"{waits_for}. So far: {detail}")
            return Evidence(f"{scope}SAMRec above SASRec at 60% and 80% on 0 of {len(scoped)} datasets{gap}", paper,
                            "not reproduced", f"{detail}. CL4SRec's runs are not needed: whatever they give, SAMRec "
                            "is not above both on any dataset.", uses_representation=False)
        wins = sum(all(a.values()) for a in above.values())
        verdict = "confirmed" if wins == len(scoped) else "partly" if wins else "not reproduced"
        # never above SASRec: the verdict stands whatever CL4SRec's runs (and representation) give
        cl4srec_matters = any(a["SASRec"] for a in above.values())
        return Evidence(f"{scope}SAMRec above both at 60% and 80% on {wins} of {len(scoped)} datasets{gap}", paper,
                        verdict, detail, uses_representation=cl4srec_matters)

    def rho_stability(profile: str, results_dir: Path) -> Evidence:
        paper = f"stable for ρ in [{STABLE_RANGE[0]:g}, {STABLE_RANGE[1]:g}] on all datasets (Figure 3; no values)"
        scoped = _scoped("figure3", profile, datasets)
        if not scoped:
            return out_of_scope(paper)
        cfgs = samrec_plan.figure3(profile, scoped)
        found = collect(cfgs, results_dir)
        if isinstance(found, list):
            return not_tested(cfgs, found, paper)
        in_range = [r for r in samrec_plan.RHOS if STABLE_RANGE[0] <= r <= STABLE_RANGE[1]]
        stable, worst, lines = 0, [], []
        for d in scoped:
            hr = {r: found[("SAMRec", d, 1, 1.0, r)]["test"]["HR@10"] for r in samrec_plan.RHOS}
            best = max(hr.values())
            if best > 0:
                shortfall = 1 - min(hr[r] for r in in_range) / best
                outside = max((1 - hr[r] / best for r in hr if r not in in_range), default=float("nan"))
            else:  # no hit at any radius (a tiny smoke run): every radius is alike
                shortfall, outside = 0.0, 0.0
            stable += shortfall <= STABLE_WITHIN
            worst.append(shortfall)
            lines.append(f"{d}: best ρ = {max(hr, key=hr.get):g}; in range at most {100 * shortfall:.1f}% below it, "
                         f"outside at most {100 * outside:.1f}%")
        verdict = "confirmed" if stable == len(scoped) else "partly" if stable else "not reproduced"
        return Evidence(f"{', '.join(scoped)}, seed 1: within {100 * STABLE_WITHIN:.0f}% of the best ρ on {stable} "
                        f"of {len(scoped)} datasets "
                        f"(largest shortfall {100 * max(worst):.1f}%)", paper, verdict,
                        f"test HR@10, seed 1, ρ in {{{', '.join(f'{r:g}' for r in samrec_plan.RHOS)}}}. "
                        + "; ".join(lines))

    def sasrec_sharper(profile: str, results_dir: Path) -> Evidence:
        paper = "almost 10x (Section 3.5, Figure 1; no values printed)"
        bases = ("S3Rec", "CL4SRec")
        found = _figure1_sharpness(profile, results_dir, ("SASRec", *bases), paper, None, partial=True)
        if isinstance(found, Evidence):
            return found
        ratios = {m: found["SASRec"]["eigenvalue"] / found[m]["eigenvalue"]
                  for m in bases if m in found and "SASRec" in found}
        # the claim is about both: SASRec no sharper than either one already contradicts it, whatever the other
        contradicted = [m for m, r in ratios.items() if r <= 1]
        if len(ratios) < len(bases) and not contradicted:
            return _figure1_sharpness(profile, results_dir, ("SASRec", *bases), paper, None)
        verdict = ("not reproduced" if contradicted
                   else "confirmed" if all(r >= ORDER_OF_MAGNITUDE for r in ratios.values()) else "partly")
        waiting = [m for m in bases if m not in ratios]
        return Evidence("Beauty, seed 1, one trained model each: SASRec's largest eigenvalue "
                        + ", ".join(f"{r:.1f}x {m}'s" for m, r in ratios.items())
                        + "".join(f"; {m} not analysed yet" for m in waiting), paper, verdict,
                        "largest Hessian eigenvalue (Lanczos, mean over estimator seeds; one trained model "
                        "each, Beauty seed 1): " + ", ".join(f"{m} {c['eigenvalue']:.4g}" for m, c in found.items())
                        + (f". {' and '.join(waiting)} cannot change the verdict ({contradicted[0]}'s curvature is "
                           "at least SASRec's), unless its analysis finds no positive curvature" if waiting else ""),
                        # CL4SRec's representation matters only where CL4SRec's ratio decides
                        uses_representation="CL4SRec" in ratios and "S3Rec" not in contradicted)

    def samrec_flattest(profile: str, results_dir: Path) -> Evidence:
        paper = "SAMRec smoother than the others (Figure 1 caption; drawn, no values)"
        rho, waiting = _needs_rho(profile, results_dir, paper)
        if waiting:
            return waiting
        found = _figure1_sharpness(profile, results_dir, samrec_plan.METHODS, paper, rho, partial=True)
        if isinstance(found, Evidence):
            return found
        complete = set(found) == set(samrec_plan.METHODS)
        lowest = {q: min(found, key=lambda m: found[m][q]) for q in ("eigenvalue", "trace")} if found else {}
        below_sasrec = ({"SASRec", "SAMRec"} <= set(found)
                        and found["SAMRec"]["eigenvalue"] < found["SASRec"]["eigenvalue"])
        # decided early: not below SASRec (not reproduced), or below it with another method lower still (partly)
        decided = {"SASRec", "SAMRec"} <= set(found) and (not below_sasrec or set(lowest.values()) != {"SAMRec"})
        if not complete and not decided:
            return _figure1_sharpness(profile, results_dir, samrec_plan.METHODS, paper, rho)
        verdict = ("confirmed" if complete and set(lowest.values()) == {"SAMRec"}
                   else "partly" if below_sasrec else "not reproduced")
        waiting = [m for m in samrec_plan.METHODS if m not in found]
        lowest_trace = found[lowest["trace"]]  # the trace is a stochastic estimate: say where its CI cannot separate
        trace_ties = [m for m, c in found.items() if m != lowest["trace"] and c["trace"] - c["trace_ci95"]
                      <= lowest_trace["trace"] + lowest_trace["trace_ci95"]]
        return Evidence(f"Beauty, seed 1, one trained model each: lowest largest eigenvalue: {lowest['eigenvalue']}; "
                        f"lowest trace: {lowest['trace']}"
                        + (f" (its 95% CI overlaps {', '.join(trace_ties)}'s)" if trace_ties else "")
                        + (f" (of {', '.join(found)}; {', '.join(waiting)} not analysed yet)" if waiting else ""),
                        paper, verdict, f"ρ = {rho:g}, Beauty seed 1; " + ", ".join(
                            f"{m} λ_max {c['eigenvalue']:.4g}, trace {c['trace']:.4g}" for m, c in found.items())
                        + (". The missing analyses cannot change the verdict, unless one finds no positive curvature"
                           if waiting else ""),
                        # not below SASRec decides it whatever CL4SRec gives; otherwise CL4SRec may be the lowest
                        uses_representation=below_sasrec and "CL4SRec" in found)

    t2_gains = _paper_gains("Table 2", [("S3Rec + SAMRec", "S3Rec"), ("CL4SRec + SAMRec", "CL4SRec")], ("HR@10",))
    t2_paper = (f"{pct(min(t2_gains), 2)} to {pct(max(t2_gains), 2)} (Table 2's HR@10 rows; the text says "
                "+2.38% to +5.40%)")

    def sam_helps_ssl(profile: str, results_dir: Path) -> Evidence:
        rho, representation, waiting = _needs_choices(profile, results_dir, t2_paper)
        if waiting:
            return waiting
        scoped = _scoped("table2", profile, datasets)
        if not scoped:
            return out_of_scope(t2_paper)
        scoped_most = math.ceil(MOST * len(scoped))
        cfgs = samrec_plan.table2(profile, rho, scoped, seeds, representation)
        found = collect(cfgs, results_dir)
        if isinstance(found, list):
            return not_tested(cfgs, found, t2_paper)
        if len(seeds) < 2:
            return Evidence("one seed", t2_paper, "not tested", "a paired test needs at least two seeds")
        strong, wins, gains, lines, cannot_tell = {}, 0, [], [], 0
        for base in ("S3Rec", "CL4SRec"):
            strong[base] = 0
            for d in scoped:
                t = paired([found[(f"{base}+SAM", d, s, 1.0, rho)]["test"]["HR@10"] for s in seeds],
                           [found[(base, d, s, 1.0, None)]["test"]["HR@10"] for s in seeds])
                gains.append(t["gain"])
                wins += t["significant"]
                strong[base] += t["significant"] and t["gain"] >= min(t2_gains)
                paper_gain = _paper_gain("Table 2", f"{base} + SAMRec", base, d, "HR@10")
                cannot_tell += inside(paper_gain, t["gain_ci"])
                lines.append(f"{base} {d} {ci_text(t)} ({p_text(t['p'])}; the paper: {pct(paper_gain, 2)})")
        verdict = ("confirmed" if all(n >= scoped_most for n in strong.values()) else "partly" if wins
                   else "not reproduced")
        return Evidence(f"{', '.join(scoped)}, {len(seeds)} seeds: {pct(min(gains))} to {pct(max(gains))}; "
                        f"significantly better in {wins} of {2 * len(scoped)} cells; the paper's gain inside our 95% "
                        f"CI in {cannot_tell} of them", t2_paper, verdict,
                        f"test HR@10, ρ = {rho:g}, {len(seeds)} seeds, paired t-test; gains with their 95% CI. "
                        + "; ".join(lines))

    where_t1 = "Abstract; Section 5, Table 1"
    claims = [
        Claim("SAMRec", "improves-sasrec", "SAMRec improves SASRec (same architecture) by about 11–15% in HR@10 and "
              "NDCG@10", where_t1 + " (Improv. row)", improves_sasrec,
              f"Per dataset, a paired t-test over seeds on test HR@10 and on NDCG@10. Confirmed: SAMRec higher with "
              f"p < {ALPHA} on both metrics, by at least the paper's smallest gain ({pct(min(t1_gains), 2)}) on "
              f"both, on at least {most} of {len(datasets)} datasets. Partly: significantly higher on both metrics "
              "on at least one dataset, but by less or on fewer datasets. " + NOT_REPRODUCED_GAIN),
        Claim("SAMRec", "on-par-with-ssl", "SAMRec performs comparably to S3Rec and CL4SRec without pre-training or "
              "data augmentation", "Abstract; Introduction; Section 5, Table 1", on_par_with_ssl,
              "Each dataset × metric (HR@10, NDCG@10) × baseline (S3Rec, CL4SRec): SAMRec is on par or better unless "
              "the whole 95% CI of the paired difference (SAMRec − baseline, over seeds) lies below 0. Confirmed: on "
              "par or better in every cell. Partly: worse in fewer than half of the cells. Not reproduced: otherwise; "
              "decided before every run has finished once half of the cells are worse."),
        Claim("SAMRec", "data-efficiency", "With 60% or 80% of the training data, SAMRec stays above SASRec and "
              "CL4SRec", "Section 5, Figure 2", data_efficiency,
              "Per dataset, test HR@10 with the training sequences of the first 60% and 80% of users (the code "
              "family's training-data ratio). Confirmed: SAMRec above both SASRec and CL4SRec at 60% and at 80% on "
              "every dataset the figure covers on this profile. Partly: on some. Not reproduced: on none. Before "
              "CL4SRec's runs have records, SAMRec not above SASRec on any dataset already means not reproduced. The "
              "change from 100% is shown beside it. "
              "One seed per cell, as the figure's runs."),
        Claim("SAMRec", "rho-stability", f"SAMRec is stable for ρ in [{STABLE_RANGE[0]:g}, {STABLE_RANGE[1]:g}]",
              "Section 5, Figure 3", rho_stability,
              f"Per dataset (seed 1), every ρ of the sweep inside [{STABLE_RANGE[0]:g}, {STABLE_RANGE[1]:g}] must "
              f"reach at least {100 * (1 - STABLE_WITHIN):.0f}% of the test HR@10 of the best ρ of the whole sweep. "
              "Confirmed: on every dataset the figure covers on this profile. Partly: on some. Not reproduced: "
              "on none."),
        Claim("SAMRec", "sasrec-sharper", "SASRec converges to sharp minima whose largest principal curvature is "
              "almost an order of magnitude larger than S3Rec's and CL4SRec's", "Section 3.5; Figure 1; Conclusion",
              sasrec_sharper,
              f"Largest Hessian eigenvalue of the training loss at the selected weights (Beauty, seed 1; mean of "
              f"Lanczos estimates from several random starts). Confirmed: SASRec's is at least {ORDER_OF_MAGNITUDE:g}x "
              "both S3Rec's and CL4SRec's. Partly: larger than both, but not both by that much. Not reproduced: no "
              "larger than one of them (decided as soon as one analysis shows it)."),
        Claim("SAMRec", "samrec-flattest", "SAMRec has a smoother loss geometry than SASRec, S3Rec and CL4SRec",
              "Figure 1 caption; Section 4", samrec_flattest,
              "Largest Hessian eigenvalue and Hessian trace (Beauty, seed 1). Confirmed: SAMRec has the lowest of "
              "the four on both. Partly: its largest eigenvalue is below SASRec's, but it is not the lowest on both. "
              "Not reproduced: otherwise. Decided before all four are analysed when the ones at hand settle it (SAMRec "
              "not below SASRec; or below it, with another method lower on either measure)."),
        Claim("SAMRec", "sam-helps-ssl", "Adding SAM improves S3Rec and CL4SRec (by 2.38% to 5.40% in HR@10)",
              "Section 5, Table 2", sam_helps_ssl,
              f"Per base (S3Rec, CL4SRec) and dataset, a paired t-test over seeds on test HR@10. Confirmed: +SAM "
              f"higher with p < {ALPHA} and by at least the paper's smallest gain ({pct(min(t2_gains), 2)}) on at "
              f"least 3 in 4 of the datasets in Table 2's scope (on the cpu profile: "
              f"{', '.join(samrec_plan.scope('table2', 'cpu')[0])}), for both bases. "
              "Partly: significantly higher in at least one cell. " + NOT_REPRODUCED_GAIN),
    ]
    uses = {"on-par-with-ssl", "data-efficiency", "sasrec-sharper", "samrec-flattest", "sam-helps-ssl"}
    # S3Rec's runs weigh in the verdict
    s3rec_decides = {"on-par-with-ssl", "sasrec-sharper", "samrec-flattest", "sam-helps-ssl"}
    claims = [dataclasses.replace(c, uses_representation=c.id in uses,
                                  caveat=s3rec_pretraining if c.id in s3rec_decides else None) for c in claims]
    return with_datasets_decided(claims, datasets, lambda some: samrec_claims(some, seeds))
