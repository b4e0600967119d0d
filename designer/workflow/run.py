"""``designer design PIPELINE``: load (or train) -> optimise in latent space -> decode -> score -> export."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from designer.io.output_folder import check_output, output_folder
from designer.config import PipelineConfig
from designer.workflow.data import known_data
from designer.workflow.export import candidate_rows, export_candidates
from designer.workflow.scorecard import score_rows
from designer.workflow.state import shipped_plausibility
from designer.workflow.setup import objective_for, resolve_run, settings_for, start_points, with_scales
from designer.workflow.spaces import space_for
from designer.domains import get_domain
from designer.errors import ConfigError
from designer.optimize.bo import latent_box
from designer.optimize.loop import Proposal, optimise
from designer.optimize.plausibility import fit_plausibility
from designer.report.plots import latent_map_png, scatter_png, trace_png
from designer.report.page import Card, write_page
from designer.report.summary import candidate_reasons, describe_objective, fmt
from designer.runs import Run

__all__ = ["DesignResult", "design", "objective_for", "seed_latent", "settings_for", "start_points", "with_scales",
           "write_design_report"]


def seed_latent(run: Run, space, item: str, where: str = "design.seed_item") -> torch.Tensor:
    """``1 x d`` latent of a user's item: a CIF path (crystals) or a sequence / FASTA path (sequences).

    ``where`` names the setting or option the item came from in error messages.
    """
    return get_domain(run).item_latent(run, space, item, where)


@dataclass
class DesignResult:
    proposals: list[Proposal]
    out: Path
    table: Path
    summary: dict


def design(cfg: PipelineConfig, run: str | None = None, out: Path | None = None, seed: int | None = None,
           log: Callable[[str], None] = print, progress: bool = True, one_shot: bool = False,
           overwrite: bool = False) -> DesignResult:
    """The whole design run; returns the accepted proposals and where the outputs went.

    ``one_shot``: decode candidates without the refinement stage (for comparison); ``overwrite``:
    replace a complete earlier output in ``out`` (checked before any work, ``io.output_folder``)."""
    t0 = time.time()
    out = check_output(Path(out or Path(cfg.design.output) / f"{cfg.name}_design"), overwrite)
    r, source = resolve_run(cfg, run, progress, one_shot)
    cfg_design = cfg.design
    r.config = r.config.model_copy(update={"design": cfg_design})  # the pipeline's design section wins
    objective = objective_for(r.config)
    settings = settings_for(r.config, seed)
    space = space_for(r, cfg_design.constraints, settings.seed)
    seed_z = None
    if cfg_design.start == "seed":  # the seed item is read before the minutes of encoding below
        if not cfg_design.seed_item:
            raise ConfigError("design.seed_item: give a CIF path or a sequence for start: seed")
        seed_z = seed_latent(r, space, cfg_design.seed_item)[0].double()
    log(f"model: {r.path} ({source}); encoding the training data")
    known = known_data(r)
    mean, _ = space.predict(known.mu)
    values = objective.values(mean)
    with_scales(objective, values)
    plaus = shipped_plausibility(r, settings.seed)
    if plaus is None:
        log(f"fitting the plausibility density on {len(known.mu)} latents")
        plaus = fit_plausibility(known.mu.cpu().numpy(), seed=settings.seed)
    box = latent_box(known.mu)
    rng = np.random.default_rng(settings.seed)
    z0, y0 = start_points(r.config, known.mu, values, r.model, rng)
    if y0 is None:
        m0, _ = space.predict(z0)
        y0 = objective.values(m0)
    center = None if seed_z is None else torch.maximum(torch.minimum(seed_z, box[1]), box[0])
    keys = set(known.keys)
    if hasattr(space, "remember"):  # crystals: a repeat of a training structure is a duplicate
        space.remember(known.items, known.keys)

    def on_round(i, res):
        best = max((p.objective for p in res.proposals), default=float("nan"))
        rej = ", ".join(f"{k} {v}" for k, v in res.rejected.items()) or "none"
        log(f"round {i + 1}/{settings.rounds}: {len(res.proposals)} new candidates (best objective {best:.4g}); rejected: {rej}")

    if cfg_design.search == "mutations":
        proposals = get_domain(r).mutation_search(r, space, known, values, objective, settings, plaus, keys, log)
    else:
        proposals = optimise(space, z0, y0, box, keys, objective, settings, plaus, center=center, on_round=on_round)
    summary = {
        "pipeline": cfg.name, "model": str(r.path), "model_source": source, "objective": objective.__dict__,
        "rounds": settings.rounds, "q": settings.q, "plausibility": {"mode": settings.mode, **plaus.selection},
        "candidates": len(proposals), "best_known_objective": float(objective.scalar(values).max()),
        "best_candidate_objective": max((p.objective for p in proposals), default=None),
        "minutes": round((time.time() - t0) / 60, 2),
    }
    rows = candidate_rows(r, proposals, objective)
    if cfg.scoring.enabled:
        summary["scoring"] = score_rows(r, proposals, rows, cfg.scoring, known=known, plausibility=plaus, log=log)
    with output_folder(out, overwrite):
        export_candidates(r, proposals, rows, out, summary, symprec=cfg.scoring.symprec)
        summary = json.loads((out / "summary.json").read_text())
        write_design_report(r, proposals, rows, known, out, summary, values)
    return DesignResult(proposals, out, out / "candidates.csv", summary)


def write_design_report(r: Run, proposals: list[Proposal], rows: list[dict], known, out: Path, summary: dict,
                        known_values: np.ndarray) -> Path:
    """``out/report.html`` (``designer.report.page``) plus the trace and latent-map PNGs beside it."""
    domain = get_domain(r)
    extras = domain.report_extras(r, rows, [proposals[row["_proposal"]].candidate.obj for row in rows])
    plots = design_plots(rows, summary, known.mu.cpu().numpy(),
                         np.stack([proposals[row["_proposal"]].candidate.z for row in rows]) if rows else None)
    for name, png in plots.items():
        if name.startswith("optimisation trace"):
            (out / "trace.png").write_bytes(png)
        elif name.startswith("latent map"):
            (out / "latent_map.png").write_bytes(png)
    ordered = sorted(rows, key=lambda row: (_rank(row.get("synthesis_rank")), _rank(row.get("rank"))))
    card = design_card(domain, ordered, summary)
    title = f"{summary.get('pipeline')}: {len(rows)} {domain.noun} candidates"
    subtitle = (f"designer · model {Path(str(summary.get('model'))).name} ({summary.get('model_source')}) · "
                f"{summary.get('rounds')} round(s) of {summary.get('q')} · {summary.get('minutes')} min")
    return write_page(out / "report.html", title, subtitle, card, ordered, list(domain.report_columns), plots=plots,
                      **extras)


def _rank(v) -> float:
    try:
        return float(v) if v is not None and v == v else math.inf
    except (TypeError, ValueError):
        return math.inf


def design_card(domain, rows: list[dict], summary: dict, top: int = 3) -> Card:
    """The report's summary card: what was designed, the objective in words, the best rows and why."""
    objective = summary.get("objective") or {}
    scored = "synthesis_score" in (rows[0] if rows else {})
    passing = [row for row in rows if not scored or _rank(row.get("synthesis_score")) < math.inf]
    best = [(str(row["id"]), candidate_reasons(row, objective, domain.report_phrases(row))) for row in passing[:top]]
    caveats = ["Predicted values come from the model's property head (± its calibrated MC-dropout spread), "
               "not from measurement or a physics calculation: measure before you trust a ranking."]
    hull = (summary.get("scoring") or {}).get("hull") if isinstance(summary.get("scoring"), dict) else None
    if hull:
        caveats.append("Energy above hull: " + hull)
    failed = len(rows) - len(passing)
    if failed:
        caveats.append(f"{failed} candidate(s) failed a gate (geometry, charge balance or a stop codon); they are greyed "
                       "and never recommended.")
    caveats.append("A low plausibility percentile means the model is extrapolating away from its training data.")
    best_known = summary.get("best_known_objective")
    what = (f"{len(rows)} {domain.noun} candidates from the {summary.get('pipeline')} model "
            f"({summary.get('model_source')}); best candidate objective "
            f"{fmt(summary.get('best_candidate_objective'))} vs {fmt(best_known)} for the best training item "
            "(both as the property head predicts them, higher is better)")
    return Card(what, describe_objective(objective), best, caveats)


def design_plots(rows: list[dict], summary: dict, known_z: np.ndarray, cand_z: np.ndarray | None) -> dict[str, bytes]:
    """Caption -> PNG: objective against plausibility and against energy above hull (when scored), the
    Pareto front (several objectives), the optimisation trace and the latent map."""
    plots: dict[str, bytes] = {}
    if not rows:
        return plots
    col = lambda k: np.array([_float(row.get(k)) for row in rows])  # noqa: E731
    selected = np.array([str(row.get("selected")) == "True" for row in rows])
    objective = col("objective")
    plots["objective against plausibility percentile (selected batch in blue)"] = scatter_png(
        col("plausibility_percentile"), objective, "plausibility percentile", "objective (higher is better)",
        highlight=selected, highlight_label="selected")
    if np.isfinite(col("e_above_hull")).any():
        plots["objective against energy above hull (CHGNet, eV/atom)"] = scatter_png(
            col("e_above_hull"), objective, "E above hull (eV/atom)", "objective (higher is better)",
            highlight=selected, highlight_label="selected")
    parts = [k for k in rows[0] if k.startswith("objective_")]
    if len(parts) >= 2:
        front = np.array([str(row.get("pareto_front")) == "True" for row in rows])
        plots[f"Pareto front: {parts[0][10:]} against {parts[1][10:]} (both to maximise)"] = scatter_png(
            col(parts[0]), col(parts[1]), parts[0], parts[1], front=front)
    best_known = float(np.max(summary.get("best_known_objective", np.nan)))
    plots["optimisation trace: objective of each round's candidates"] = trace_png(
        [row["round"] for row in rows], list(objective), best_known)
    if cand_z is not None:
        plots["latent map: training data and candidates (first two principal components)"] = latent_map_png(
            known_z, cand_z, objective)
    return plots


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan
