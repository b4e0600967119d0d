"""``designer design PIPELINE``: load (or train) -> optimise in latent space -> decode -> score -> export."""

from __future__ import annotations

import json
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
from designer.report.html import latent_map_png, trace_png, write_report
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
    """``out/report.html`` plus the trace and latent-map PNGs beside it."""
    domain = get_domain(r)
    extras = domain.report_extras(r, rows, [proposals[row["_proposal"]].candidate.obj for row in rows])
    plots = {}
    if rows:
        best_known = float(np.max(summary.get("best_known_objective", np.nan)))
        plots["optimisation trace: objective of each round's candidates"] = trace_png(
            [row["round"] for row in rows], [row["objective"] for row in rows], best_known)
        cz = np.stack([proposals[row["_proposal"]].candidate.z for row in rows])
        plots["latent map: training data and candidates (first two principal components)"] = latent_map_png(
            known.mu.numpy(), cz, np.array([row["objective"] for row in rows], dtype=float))
    for name, png in plots.items():
        (out / ("trace.png" if name.startswith("optimisation") else "latent_map.png")).write_bytes(png)
    notes = [f"pipeline {summary.get('pipeline')}; model {summary.get('model')}; objective {summary.get('objective')}"]
    if isinstance(summary.get("scoring"), dict) and summary["scoring"].get("hull"):
        notes.append("Hull: " + summary["scoring"]["hull"])
    return write_report(out / "report.html", rows, f"designer: {summary.get('pipeline')} candidates",
                        list(domain.report_columns), plots=plots, notes=notes, **extras)
