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

from designer.optimize.bo import ProposeInputs, TrustRegion, objective_transform, propose
from designer.optimize.plausibility import Plausibility
from designer.optimize.space import Candidate, LatentSpace


@dataclass
class Objective:
    """Which property, and what "better" means: ``maximize``, ``minimize`` or ``target`` [lo, hi].

    ``extra``: further objectives (several objectives: the optimiser uses qLogNEHVI and ranks by
    ``scalar``, the sum of the objectives each divided by ``scales``, their spread over the data).
    """

    property: str
    index: int = 0
    direction: str = "maximize"
    target: tuple[float, float] | None = None
    extra: tuple = ()
    scales: np.ndarray | None = None

    def score(self, y: np.ndarray) -> np.ndarray:
        """Raw values of this objective's own property -> values to maximise (same shape)."""
        return np.asarray(objective_transform(self.direction, self.target)(np.asarray(y, dtype=float)), dtype=float)

    @property
    def parts(self) -> tuple["Objective", ...]:
        return (Objective(self.property, self.index, self.direction, self.target),) + tuple(self.extra)

    @property
    def multi(self) -> bool:
        return bool(self.extra)

    @property
    def properties(self) -> list[str]:
        return [o.property for o in self.parts]

    def values(self, predicted: np.ndarray) -> np.ndarray:
        """``n x P`` property values -> ``n`` values to maximise (``n x m`` with several objectives)."""
        predicted = np.asarray(predicted, dtype=float)
        if not self.multi:
            return self.score(predicted[:, self.index])
        return np.stack([o.score(predicted[:, o.index]) for o in self.parts], axis=1)

    def scalar(self, values: np.ndarray) -> np.ndarray:
        """``n`` (or ``n x m``) values to maximise -> ``n`` scalars for ranking."""
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            return values
        scales = self.scales if self.scales is not None else np.ones(values.shape[1])
        return (values / np.where(scales > 0, scales, 1.0)).sum(axis=1)


def non_dominated(values: np.ndarray) -> np.ndarray:
    """``n`` bool: rows of ``n x m`` values (to maximise) that no other row dominates."""
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        return v >= v.max() if len(v) else np.zeros(0, dtype=bool)
    ge = (v[:, None, :] >= v[None, :, :]).all(-1)
    gt = (v[:, None, :] > v[None, :, :]).any(-1)
    dominated = (ge & gt).any(0)
    return ~dominated


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
    maxiter: int = 60
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
    objectives: np.ndarray | None = None  # ``m`` values to maximise, with several objectives


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
    vals = objective.values(mean) if mean.shape[1] else np.zeros(len(cands))
    obj = objective.scalar(vals)
    pl = plausibility.percentile(zr.numpy()) if plausibility is not None else np.full(len(cands), np.nan)
    return [Proposal(round_, c, mean[i], std[i], float(obj[i]), float(pl[i]), vals[i] if vals.ndim == 2 else None)
            for i, c in enumerate(cands)]


def _worst(y: Tensor) -> Tensor:
    """Below the worst value seen (per objective): what a broken decode is told it scored."""
    if not len(y):
        return torch.full(y.shape[1:], -1.0)
    lo, hi = y.min(0).values, y.max(0).values
    return lo - 0.1 * (hi - lo).abs() - 1e-6


def _improved(y_before: Tensor, y_new: Tensor) -> bool:
    """A new value beats the best (one objective) or is not dominated by any earlier point (several)."""
    if not len(y_new):
        return False
    if y_before.dim() == 1:
        best = float(y_before.max()) if len(y_before) else -np.inf
        return float(y_new.max()) > best + 1e-3 * abs(best)
    if not len(y_before):
        return True
    both = torch.cat([y_before, y_new]).numpy()
    return bool(non_dominated(both)[len(y_before):].any())


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
    worst = _worst(y)
    z_fit, y_fit = z, y
    while len(accepted) < q and attempts <= settings.reproposals:
        need = q - len(accepted)
        if attempts and bounds is not None:  # a collapsed batch: look wider (twice the region, within the box)
            mid, half = (bounds[0] + bounds[1]) / 2, (bounds[1] - bounds[0])
            bounds = torch.stack([torch.maximum(mid - half, box[0]), torch.minimum(mid + half, box[1])])
        zq = propose(ProposeInputs(
            z=z_fit, y=y_fit, box=box, q=need, plausibility=plausibility, mode=settings.mode,
            weight=settings.weight, floor_percentile=settings.floor_percentile, bounds=bounds,
            seed=settings.seed + 1000 * round_ + attempts, num_restarts=settings.num_restarts,
            raw_samples=settings.raw_samples, max_fit_points=settings.max_fit_points, maxiter=settings.maxiter,
            pending=torch.cat(pending) if pending else None))
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
            y_fit = torch.cat([y_fit, worst.expand(len(bad), *y.shape[1:]).to(y.dtype)])
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
    out: list[Proposal] = []
    for r in range(settings.rounds):
        best_i = int(torch.argmax(torch.as_tensor(objective.scalar(y.numpy()))))
        c = center if (center is not None and r == 0) else z[best_i]
        bounds = region.bounds(c.double(), box) if region is not None else None
        res = ask(space, z, y, settings.q, box, known_keys, objective, settings, plausibility, bounds, r)
        out += res.proposals
        y_before = y
        if res.violations:
            z = torch.cat([z, torch.stack(res.violations).float()])
            y = torch.cat([y, _worst(y).expand(len(res.violations), *y.shape[1:])])
        y_new = torch.zeros((0, *y.shape[1:]))
        if res.proposals:
            z = torch.cat([z, torch.as_tensor(np.stack([p.candidate.z for p in res.proposals]), dtype=torch.float32)])
            y_new = torch.as_tensor(np.stack([_value(p) for p in res.proposals]), dtype=torch.float32).reshape(-1, *y.shape[1:])
            y = torch.cat([y, y_new])
        if region is not None:
            region.update(_improved(y_before, y_new))
        if on_round:
            on_round(r, res)
    return out


def _value(p: Proposal) -> np.ndarray:
    return np.asarray(p.objectives if p.objectives is not None else p.objective, dtype=float)
