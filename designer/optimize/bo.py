"""One round of latent-space Bayesian optimisation (BoTorch): fit the GP, build the acquisition, optimise it.

Domain-free: takes latents and objective values, returns the next latents. ``propose`` is a thin
orchestrator over a frozen ``ProposeInputs``:

1. ``gp.fit_subset`` / ``gp.fit_gp``: the GP on (z, y) (``gp.py``);
2. ``acquisition.build_acquisition``: qLogNEI / qLogNEHVI guided by plausibility (``penalty``,
   ``prior``, ``constraint`` or ``none``; see ``acquisition.py``);
3. ``optimize_acquisition``: ``optimize_acqf`` in the latent box or a trust region inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.optim import optimize_acqf
from torch import Tensor

from designer.optimize.acquisition import MODES, SoftFloor, build_acquisition, check_mode
from designer.optimize.gp import fit_gp, fit_subset
from designer.optimize.plausibility import Plausibility

__all__ = ["MODES", "ProposeInputs", "SoftFloor", "TrustRegion", "fit_gp", "fit_subset", "latent_box",
           "objective_transform", "optimize_acquisition", "propose"]


def latent_box(mu: Tensor, margin: float = 1.1, quantile: float = 0.999) -> Tensor:
    """``2 x d`` bounds: +-``margin`` x the ``quantile`` of |mu| per dimension (at least 1e-3 wide)."""
    half = margin * torch.quantile(mu.abs().double(), quantile, dim=0).clamp(min=1e-3)
    return torch.stack([-half, half])


def objective_transform(direction: str, target: tuple[float, float] | None = None):
    """Map raw property values (``...``) to a quantity to maximise.

    ``maximize``: y; ``minimize``: -y; ``target``: minus the distance to the interval [lo, hi].
    """
    if direction == "maximize":
        return lambda y: y
    if direction == "minimize":
        return lambda y: -y
    if direction == "target":
        if target is None:
            raise ValueError("a target objective needs (lo, hi)")
        lo, hi = target
        return lambda y: -(torch.relu(lo - y) + torch.relu(y - hi)) if isinstance(y, Tensor) else \
            -(np.maximum(lo - y, 0) + np.maximum(y - hi, 0))
    raise ValueError(f"unknown direction {direction!r} (maximize, minimize, target)")


@dataclass
class TrustRegion:
    """TuRBO-style trust region (Eriksson et al. 2019) as a fraction of the latent box.

    ``length`` shrinks by half after ``fail_tol`` rounds without improvement and doubles after
    ``succ_tol`` improving rounds (capped at 1 = the whole box).
    """

    length: float = 0.4
    min_length: float = 0.01
    succ_tol: int = 3
    fail_tol: int = 3
    successes: int = 0
    failures: int = 0

    def update(self, improved: bool) -> None:
        if improved:
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures = 0, self.failures + 1
        if self.successes >= self.succ_tol:
            self.length, self.successes = min(1.0, 2 * self.length), 0
        if self.failures >= self.fail_tol:
            self.length, self.failures = max(self.min_length, self.length / 2), 0

    def bounds(self, center: Tensor, box: Tensor) -> Tensor:
        """``2 x d``: the box-relative cube of side ``length`` around ``center``, clipped to the box."""
        half = 0.5 * self.length * (box[1] - box[0])
        return torch.stack([torch.maximum(center - half, box[0]), torch.minimum(center + half, box[1])])


@dataclass(frozen=True, kw_only=True, eq=False)
class ProposeInputs:
    r"""Everything one ``propose`` call needs (build it with keyword arguments).

    Attributes:
        z: ``n x d`` evaluated latents.
        y: ``n`` objective values (already transformed to maximise), or ``n x m`` with ``m``
            objectives (qLogNEHVI, reference point just below the worst).
        box: ``2 x d`` latent box (the GP's ``Normalize`` bounds).
        q: number of latents to propose.
        plausibility, mode, weight, floor_percentile: how the density score guides the search
            (see ``designer.optimize.acquisition``); no ``plausibility``: no guidance.
        bounds: ``2 x d`` search region inside the box (a trust region); default the box.
        seed: seeds torch, the QMC sampler and the optimiser's initial conditions.
        num_restarts, raw_samples, maxiter: ``optimize_acqf``'s effort.
        max_fit_points: the most points the GP is fitted on (the best, plus the ``max(q, 64)`` latest).
        pending: ``k x d`` latents already proposed this round (not to be proposed again).
    """

    z: Tensor
    y: Tensor
    box: Tensor
    q: int
    plausibility: Plausibility | None = None
    mode: str = "penalty"
    weight: float = 1.0
    floor_percentile: float = 5.0
    bounds: Tensor | None = None
    seed: int = 0
    num_restarts: int = 8
    raw_samples: int = 256
    max_fit_points: int = 1000
    pending: Tensor | None = None
    maxiter: int = 60

    def __post_init__(self) -> None:
        n_objectives = self.y.shape[1] if self.y.dim() == 2 else 1
        check_mode(self.mode, n_objectives if self.plausibility is not None else 1, self.q)

    @property
    def search_bounds(self) -> Tensor:
        """``2 x d`` (double): where the candidates may lie, the trust region or else the box."""
        return (self.bounds if self.bounds is not None else self.box).double()


# modes whose guidance reaches only the best point of a jointly optimised q-batch (see optimize_acquisition)
SEQUENTIAL_MODES = ("prior", "constraint")

# the positional order of the older ``propose(z, y, box, q, plausibility, mode, ...)`` signature
_CALL_ORDER = ("z", "y", "box", "q", "plausibility", "mode", "weight", "floor_percentile", "bounds", "seed",
               "num_restarts", "raw_samples", "max_fit_points", "pending", "maxiter")


def optimize_acquisition(acqf: AcquisitionFunction, bounds: Tensor, q: int, *, num_restarts: int = 8,
                         raw_samples: int = 256, maxiter: int = 60, seed: int = 0, sequential: bool = False) -> Tensor:
    r"""Maximise ``acqf`` over a q-batch inside ``bounds`` (multi-start L-BFGS-B), jointly or one point at a time.

    Args:
        acqf: the acquisition function (``build_acquisition``).
        bounds: ``2 x d`` search region (double).
        q: batch size.
        num_restarts, raw_samples, maxiter, seed: ``optimize_acqf``'s restarts, raw Sobol
            samples for the initial conditions, L-BFGS-B iterations and seed.
        sequential: greedy q-batch, each point optimised with the earlier ones pending. The
            ``prior`` and ``constraint`` modes need it: they weight each point inside qLogNEI's max
            over the batch, so a joint batch holds only its best point above the plausibility floor.

    Returns:
        ``q x d`` candidates (detached, double).
    """
    cand, _ = optimize_acqf(acqf, bounds=bounds, q=q, num_restarts=num_restarts, raw_samples=raw_samples,
                            options={"batch_limit": 8, "maxiter": maxiter, "seed": seed}, sequential=sequential,
                            retry_on_optimization_warning=False)  # a flat acquisition is not worth a second try
    return cand.detach()


def _inputs_from_call(*args, **kwargs) -> ProposeInputs:
    if len(args) > len(_CALL_ORDER):
        raise TypeError(f"propose takes at most {len(_CALL_ORDER)} positional arguments ({len(args)} given)")
    named = dict(zip(_CALL_ORDER, args))
    twice = sorted(set(named) & set(kwargs))
    if twice:
        raise TypeError(f"propose got several values for {', '.join(twice)}")
    return ProposeInputs(**named, **kwargs)


def propose(inputs: ProposeInputs | Tensor, *args, **kwargs) -> Tensor:
    r"""Next ``q x d`` latents: fit the GP, build the acquisition, optimise it in the search region.

    Args:
        inputs: a ``ProposeInputs``. The older call ``propose(z, y, box, q, plausibility, mode,
            weight, floor_percentile, bounds=..., seed=..., ...)`` (positional or keyword, the
            names of ``ProposeInputs``' fields) is still accepted and builds one.

    Returns:
        ``q x d`` latents in ``z``'s dtype.
    """
    if not isinstance(inputs, ProposeInputs):
        inputs = _inputs_from_call(inputs, *args, **kwargs)
    elif args or kwargs:
        raise TypeError("propose(ProposeInputs) takes no further arguments")
    torch.manual_seed(inputs.seed)
    idx = fit_subset(inputs.y, inputs.max_fit_points, recent=max(inputs.q, 64))
    train_X, train_Y = inputs.z[idx].double(), inputs.y[idx].double()
    gp = fit_gp(train_X, train_Y, inputs.box)
    acqf = build_acquisition(gp, train_X, train_Y, plausibility=inputs.plausibility, mode=inputs.mode,
                             weight=inputs.weight, floor_percentile=inputs.floor_percentile, seed=inputs.seed,
                             X_pending=inputs.pending)
    sequential = inputs.q > 1 and inputs.plausibility is not None and inputs.mode in SEQUENTIAL_MODES
    cand = optimize_acquisition(acqf, inputs.search_bounds, inputs.q, num_restarts=inputs.num_restarts,
                                raw_samples=inputs.raw_samples, maxiter=inputs.maxiter, seed=inputs.seed,
                                sequential=sequential)
    return cand.to(inputs.z.dtype)
