"""Optimiser set-up from a pipeline: the objective(s), the loop settings, the model to use and the first GP's data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from designer.config import PipelineConfig
from designer.errors import ConfigError
from designer.optimize.loop import Objective, Settings
from designer.runs import Run, load_run, shipped_names
from designer.training.train import train


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
                    tr_length=d.tr_length, max_fit_points=d.max_fit_points, num_restarts=d.optimizer.num_restarts,
                    raw_samples=d.optimizer.raw_samples, maxiter=d.optimizer.maxiter,
                    seed=cfg.seed if seed is None else seed)


def resolve_run(cfg: PipelineConfig, run: str | None, progress: bool = True, one_shot: bool = False) -> tuple[Run, str]:
    """The model to design with: ``run`` if given, else runs/<name>, else the shipped model <name>, else train one.

    ``one_shot``: decode without the refinement stage (``load_run``)."""
    if run:
        return load_run(run, one_shot=one_shot), "given"
    local = Path("runs") / cfg.name
    if (local / "model.pt").exists():
        return load_run(local, one_shot=one_shot), "runs folder"
    if cfg.name in shipped_names():
        return load_run(cfg.name, one_shot=one_shot), "shipped"
    train(cfg, local, progress=progress)
    return load_run(local, one_shot=one_shot), "trained now"


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
