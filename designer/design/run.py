"""``designer design PIPELINE``: load (or train) -> optimise in latent space -> decode -> check -> export."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from designer.config import PipelineConfig
from designer.errors import ConfigError, DesignerError
from designer.io.atomic import atomic_write_text
from designer.optimize.bo import latent_box
from designer.optimize.loop import Objective, Proposal, Settings, optimise
from designer.optimize.plausibility import fit_plausibility
from designer.runs import Run


def objective_for(cfg: PipelineConfig) -> Objective:
    """The design objective(s): ``design.objectives`` when given (several: qLogNEHVI), else ``design.objective``."""
    props = cfg.data.properties
    if not props:
        raise ConfigError(f"{cfg.name}: design needs a property to optimise; set data.properties and retrain")
    configs = cfg.design.objectives or [cfg.design.objective]
    key = "design.objectives" if cfg.design.objectives else "design.objective"
    parts = []
    for o in configs:
        name = o.property or props[0]
        if name not in props:
            raise ConfigError(f"{key}.property: {name!r} is not one of data.properties {props}")
        if o.direction == "target" and o.target is None:
            raise ConfigError(f"{key}.target: give [lo, hi] for direction: target ({name})")
        parts.append(Objective(name, props.index(name), o.direction, tuple(o.target) if o.target else None))
    if len({p.property for p in parts}) < len(parts):
        raise ConfigError(f"{key}: each property may appear once")
    first = parts[0]
    return Objective(first.property, first.index, first.direction, first.target, extra=tuple(parts[1:]))


def with_scales(objective: Objective, values: np.ndarray) -> Objective:
    """Set the per-objective spread (std over ``values``, ``n x m``) used to rank with several objectives."""
    if objective.multi:
        objective.scales = np.nanstd(np.asarray(values, dtype=float), axis=0)
    return objective


def settings_for(cfg: PipelineConfig, seed: int | None = None) -> Settings:
    d = cfg.design
    return Settings(q=d.q, rounds=d.rounds, mode=d.plausibility.mode, weight=d.plausibility.weight,
                    floor_percentile=d.plausibility.floor_percentile, trust_region=d.trust_region,
                    tr_length=d.tr_length, max_fit_points=d.max_fit_points,
                    seed=cfg.seed if seed is None else seed)


def resolve_run(cfg: PipelineConfig, run: str | None, progress: bool = True) -> tuple[Run, str]:
    """The model to design with: ``run`` if given, else runs/<name>, else the shipped model <name>, else train one."""
    from designer.runs import load_run, shipped_names

    if run:
        return load_run(run), "given"
    local = Path("runs") / cfg.name
    if (local / "model.pt").exists():
        return load_run(local), "runs folder"
    if cfg.name in shipped_names():
        return load_run(cfg.name), "shipped"
    from designer.training.train import train

    train(cfg, local, progress=progress)
    return load_run(local), "trained now"


def seed_latent(run: Run, space, item: str, where: str = "design.seed_item") -> torch.Tensor:
    """``1 x d`` latent of a user's item: a CIF path (crystals) or a sequence / FASTA path (proteins).

    ``where`` names the setting or option the item came from in error messages.
    """
    p = Path(item).expanduser()
    if run.config.domain == "crystal":
        from designer.data.crystal_io import read_crystals

        if not p.exists():
            raise DesignerError(f"{where}: {item}: no such CIF file")
        rec = read_crystals(p, [])[0]
        return space.encode([rec.to_structure()])
    if not p.exists():
        bad = sorted(set(item.upper()) - set("ACDEFGHIKLMNPQRSTVWYXBZJUO*-"))
        if bad:
            raise DesignerError(f"{where}: {item!r} is neither a FASTA file nor a sequence (invalid residue(s) "
                                f"{''.join(bad)!r}); use one-letter amino-acid codes or a FASTA path")
    return space.encode(_seed_tokens(run, item).unsqueeze(0))


@dataclass
class DesignResult:
    proposals: list[Proposal]
    out: Path
    table: Path
    summary: dict


def start_points(cfg: PipelineConfig, mu: torch.Tensor, objective_values: np.ndarray, model, rng) -> tuple[torch.Tensor, np.ndarray]:
    """The first GP's data: the best half of ``start_points`` known latents plus a random other half (or prior draws)."""
    n = min(cfg.design.start_points, len(mu))
    if cfg.design.start == "prior":
        z = model.sample_prior(n, generator=torch.Generator().manual_seed(cfg.seed))
        return z, None
    v = np.asarray(objective_values, dtype=float)
    order = np.argsort(-(v if v.ndim == 1 else ((v - v.mean(0)) / v.std(0).clip(1e-9)).sum(1)))
    best = order[: n // 2]
    rest = rng.choice(order[n // 2:], size=min(n - len(best), len(order) - len(best)), replace=False)
    idx = np.concatenate([best, rest])
    return mu[idx], objective_values[idx]


def design(cfg: PipelineConfig, run: str | None = None, out: Path | None = None, seed: int | None = None,
           log: Callable[[str], None] = print, progress: bool = True) -> DesignResult:
    """The whole design run; returns the accepted proposals and where the outputs went."""
    from designer.design.data import known_data
    from designer.design.export import export_candidates
    from designer.design.spaces import space_for

    t0 = time.time()
    r, source = resolve_run(cfg, run, progress)
    cfg_design = cfg.design
    r.config = r.config.model_copy(update={"design": cfg_design})  # the pipeline's design section wins
    objective = objective_for(r.config)
    settings = settings_for(r.config, seed)
    space = space_for(r, cfg_design.constraints, settings.seed)
    log(f"model: {r.path} ({source}); encoding the training data")
    known = known_data(r)
    mean, _ = space.predict(known.mu)
    values = objective.values(mean)
    with_scales(objective, values)
    log(f"fitting the plausibility density on {len(known.mu)} latents")
    plaus = fit_plausibility(known.mu.numpy(), seed=settings.seed)
    box = latent_box(known.mu)
    rng = np.random.default_rng(settings.seed)
    z0, y0 = start_points(r.config, known.mu, values, r.model, rng)
    if y0 is None:
        m0, _ = space.predict(z0)
        y0 = objective.values(m0)
    center = None
    if cfg_design.start == "seed":
        if not cfg_design.seed_item:
            raise ConfigError("design.seed_item: give a CIF path or a sequence for start: seed")
        center = seed_latent(r, space, cfg_design.seed_item)[0].double()
        center = torch.maximum(torch.minimum(center, box[1]), box[0])
    keys = set(known.keys)
    if hasattr(space, "remember"):  # crystals: a repeat of a training structure is a duplicate
        space.remember(known.items, known.keys)

    def on_round(i, res):
        best = max((p.objective for p in res.proposals), default=float("nan"))
        rej = ", ".join(f"{k} {v}" for k, v in res.rejected.items()) or "none"
        log(f"round {i + 1}/{settings.rounds}: {len(res.proposals)} new candidates (best objective {best:.4g}); rejected: {rej}")

    if cfg_design.search == "mutations":
        proposals = _mutation_search(r, space, known, values, objective, settings, plaus, keys, log)
    else:
        proposals = optimise(space, z0, y0, box, keys, objective, settings, plaus, center=center, on_round=on_round)
    out = Path(out or Path(cfg_design.output) / f"{cfg.name}_design")
    summary = {
        "pipeline": cfg.name, "model": str(r.path), "model_source": source, "objective": objective.__dict__,
        "rounds": settings.rounds, "q": settings.q, "plausibility": {"mode": settings.mode, **plaus.selection},
        "candidates": len(proposals), "best_known_objective": float(objective.scalar(values).max()),
        "best_candidate_objective": max((p.objective for p in proposals), default=None),
        "minutes": round((time.time() - t0) / 60, 2),
    }
    rows = export_candidates(r, proposals, out, objective, summary, scoring=cfg.scoring, known=known, log=log)
    summary = json.loads((out / "summary.json").read_text())
    write_design_report(r, proposals, rows, known, out, summary, values)
    return DesignResult(proposals, out, out / "candidates.csv", summary)


def _mutation_search(r: Run, space, known, values, objective, settings, plaus, keys, log) -> list[Proposal]:
    from designer.design.mutations import mutation_design

    d = r.config.design
    if r.config.domain != "protein":
        raise ConfigError("design.search: mutations is for protein pipelines; use search: latent for crystals")
    if d.start == "seed":
        if not d.seed_item:
            raise ConfigError("design.seed_item: give a sequence (or FASTA path) for start: seed")
        start = _seed_tokens(r, d.seed_item)
        what = "the seed sequence"
    elif d.start == "prior":
        start = r.model.plugin.reference.clone()
        what = "the reference sequence"
    else:
        from designer.data.protein_dataset import encode_sequences

        i = int(np.argmax(objective.scalar(values)))
        start = encode_sequences([known.items[i]])[0] if isinstance(known.items[i], str) else known.items[i]
        what = f"the best known sequence by the head ({known.keys[i][:20]}...)"
    log(f"mutation search from {what}: {settings.rounds} rounds of {settings.q} from pools of {d.mutation_pool}")

    def on_round(i, picked):
        best = max((p.objective for p in picked), default=float("nan"))
        log(f"round {i + 1}/{settings.rounds}: {len(picked)} new candidates (best objective {best:.4g})")

    if r.config.design.objectives and len(r.config.design.objectives) > 1:
        raise ConfigError("design.search: mutations takes one objective; use design.objective (or search: latent)")
    return mutation_design(space, torch.as_tensor(start), objective, settings, plaus, keys, pool=d.mutation_pool,
                           max_per_candidate=d.mutations_per_candidate,
                           floor_percentile=d.plausibility.floor_percentile, on_round=on_round)


def _seed_tokens(r: Run, item: str) -> torch.Tensor:
    """``L`` aligned tokens of a user's seed sequence (a sequence or a FASTA path)."""
    import tempfile

    from designer.config import sequence_options
    from designer.data.protein_dataset import load_protein_set
    from designer.generate_protein import read_for_run, reference_sequence

    p = Path(item).expanduser()
    if p.exists():
        return read_for_run(r, p, properties=[]).tokens[0]
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "seed.fasta"
        f.write_text(f">seed\n{item}\n")
        opts = sequence_options(r.config)
        opts.format = "fasta"
        return load_protein_set([f], [], opts, reference_sequence(r), use_cache=False).tokens[0]


def write_design_report(r: Run, proposals: list[Proposal], rows: list[dict], known, out: Path, summary: dict,
                        known_values: np.ndarray) -> Path:
    """``out/report.html`` plus the trace and latent-map PNGs beside it."""
    from designer.report.html import crystal_png, latent_map_png, trace_png, write_report

    images = {}
    if r.config.domain == "crystal":
        for row in rows:
            try:
                images[row["id"]] = crystal_png(proposals[row["_proposal"]].candidate.obj)
            except Exception:  # a picture is a courtesy; a failed render leaves the cell empty
                pass
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
    reference = None
    if r.config.domain == "protein":
        from designer.generate_protein import reference_sequence

        reference = reference_sequence(r)
    return write_report(out / "report.html", rows, r.config.domain, f"designer: {summary.get('pipeline')} candidates",
                        images=images, plots=plots, notes=notes, reference=reference)


def write_summary(out: Path, summary: dict) -> None:
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
