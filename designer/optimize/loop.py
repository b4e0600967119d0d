"""Rounds of latent BO through a ``LatentSpace``: ask (propose, decode, filter, deduplicate) and tell.

``ask`` makes one batch of new, valid, constraint-satisfying candidates from (z, y) pairs;
``optimise`` runs several rounds with the property head as the objective (no lab data yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from designer.optimize.bo import TrustRegion, objective_transform, propose
from designer.optimize.plausibility import Plausibility
from designer.optimize.space import Candidate, LatentSpace


@dataclass
class Objective:
    """Which property, and what "better" means: ``maximize``, ``minimize`` or ``target`` [lo, hi]."""

    property: str
    index: int = 0
    direction: str = "maximize"
    target: tuple[float, float] | None = None

    def score(self, y: np.ndarray) -> np.ndarray:
        """Raw property values -> values to maximise (same shape)."""
        return np.asarray(objective_transform(self.direction, self.target)(np.asarray(y, dtype=float)), dtype=float)


@dataclass
class Settings:
    """Optimiser knobs (the pipeline's ``design`` section)."""

    q: int = 16
    rounds: int = 4
    mode: str = "penalty"
    weight: float = 1.0
    floor_percentile: float = 5.0
    trust_region: bool = True
    tr_length: float = 0.4
    max_fit_points: int = 1000
    reproposals: int = 3
    num_restarts: int = 8
    raw_samples: int = 256
    seed: int = 0


@dataclass
class Proposal:
    """An accepted candidate with its scores (``predicted``/``std``: ``P`` property head values)."""

    round: int
    candidate: Candidate
    predicted: np.ndarray
    std: np.ndarray
    objective: float
    plausibility: float


@dataclass
class AskResult:
    proposals: list[Proposal]
    violations: list = field(default_factory=list)  # latents whose decode broke a rule (d each)
    rejected: dict = field(default_factory=dict)  # reason -> count
    attempts: int = 0


def _evaluate(space: LatentSpace, cands: list[Candidate], objective: Objective,
              plausibility: Plausibility | None, round_: int) -> list[Proposal]:
    if not cands:
        return []
    zr = torch.as_tensor(np.stack([c.z_roundtrip if c.z_roundtrip is not None else c.z for c in cands]),
                         dtype=torch.float32)
    mean, std = space.predict(zr)
    obj = objective.score(mean[:, objective.index]) if mean.shape[1] else np.zeros(len(cands))
    pl = plausibility.percentile(zr.numpy()) if plausibility is not None else np.full(len(cands), np.nan)
    return [Proposal(round_, c, mean[i], std[i], float(obj[i]), float(pl[i])) for i, c in enumerate(cands)]


def ask(space: LatentSpace, z: Tensor, y: Tensor, q: int, box: Tensor, known_keys: set,
        objective: Objective, settings: Settings, plausibility: Plausibility | None = None,
        bounds: Tensor | None = None, round_: int = 0) -> AskResult:
    """One batch: up to ``q`` new candidates that are valid, satisfy the constraints and are not in ``known_keys``.

    Args:
        z, y: ``n x d`` latents and ``n`` objective values (to maximise) the GP is fitted on.
        known_keys: keys of the training data and of every earlier proposal (updated in place).
        bounds: search region inside ``box`` (a trust region), default the box.

    A batch that collapses to duplicates or violations is re-proposed (up to
    ``settings.reproposals`` times) with the rejected latents as pending points, a search region
    twice as wide each time, and the violating latents entered into the GP at the worst value seen.
    """
    accepted: list[Candidate] = []
    rejected: dict[str, int] = {}
    pending: list[Tensor] = []
    attempts = 0
    # an invalid or constraint-violating decode teaches the GP: it enters with the worst value seen
    worst = float(y.min() - 0.1 * (y.max() - y.min()).abs() - 1e-6) if len(y) else -1.0
    z_fit, y_fit = z, y
    while len(accepted) < q and attempts <= settings.reproposals:
        need = q - len(accepted)
        if attempts and bounds is not None:  # a collapsed batch: look wider (twice the region, within the box)
            mid, half = (bounds[0] + bounds[1]) / 2, (bounds[1] - bounds[0])
            bounds = torch.stack([torch.maximum(mid - half, box[0]), torch.minimum(mid + half, box[1])])
        zq = propose(z_fit, y_fit, box, need, plausibility, settings.mode, settings.weight, settings.floor_percentile,
                     bounds=bounds, seed=settings.seed + 1000 * round_ + attempts,
                     num_restarts=settings.num_restarts, raw_samples=settings.raw_samples,
                     max_fit_points=settings.max_fit_points,
                     pending=torch.cat(pending) if pending else None)
        attempts += 1
        pending.append(zq)
        bad = []
        for cand in space.decode(zq):
            if cand.violation is not None:
                reason = cand.violation.split(":")[0]
                rejected[reason] = rejected.get(reason, 0) + 1
                bad.append(torch.as_tensor(cand.z, dtype=z.dtype))
                continue
            if cand.key in known_keys:
                rejected["duplicate"] = rejected.get("duplicate", 0) + 1
                continue
            known_keys.add(cand.key)
            accepted.append(cand)
        if bad:
            z_fit = torch.cat([z_fit, torch.stack(bad)])
            y_fit = torch.cat([y_fit, torch.full((len(bad),), worst, dtype=y.dtype)])
    violations = list(z_fit[len(z):])
    return AskResult(_evaluate(space, accepted[:q], objective, plausibility, round_), violations, rejected, attempts)


def optimise(space: LatentSpace, start_z: Tensor, start_y: np.ndarray, box: Tensor, known_keys: set,
             objective: Objective, settings: Settings, plausibility: Plausibility | None = None,
             center: Tensor | None = None, on_round: Callable[[int, AskResult], None] | None = None) -> list[Proposal]:
    """``settings.rounds`` rounds of ask + tell with the property head's prediction as the measurement.

    Args:
        start_z, start_y: ``n x d`` starting latents and their ``n`` objective values (to maximise).
        center: trust-region centre for the first round (a user's seed); default the best start point.
    """
    z = start_z.clone().float()
    y = torch.as_tensor(start_y, dtype=torch.float32).clone()
    region = TrustRegion(length=settings.tr_length) if settings.trust_region else None
    best = float(y.max()) if len(y) else -np.inf
    out: list[Proposal] = []
    for r in range(settings.rounds):
        c = center if (center is not None and r == 0) else z[int(torch.argmax(y))]
        bounds = region.bounds(c.double(), box) if region is not None else None
        res = ask(space, z, y, settings.q, box, known_keys, objective, settings, plausibility, bounds, r)
        out += res.proposals
        if res.violations:
            worst = float(y.min() - 0.1 * (y.max() - y.min()).abs() - 1e-6)
            z = torch.cat([z, torch.stack(res.violations).float()])
            y = torch.cat([y, torch.full((len(res.violations),), worst)])
        if res.proposals:
            z = torch.cat([z, torch.as_tensor(np.stack([p.candidate.z for p in res.proposals]), dtype=torch.float32)])
            y = torch.cat([y, torch.tensor([p.objective for p in res.proposals], dtype=torch.float32)])
        round_best = max((p.objective for p in res.proposals), default=-np.inf)
        if region is not None:
            region.update(round_best > best + 1e-3 * abs(best))
        best = max(best, round_best)
        if on_round:
            on_round(r, res)
    return out
