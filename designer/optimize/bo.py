"""One round of latent-space Bayesian optimisation (BoTorch): GP on (z, y), qLogNEI, plausibility.

Domain-free: takes latents and objective values, returns the next latents. The plausibility
score enters in one of three ways (``mode``):

- ``penalty``: qLogNEI minus ``weight`` x (how far each point's log-density falls below the
  plausibility floor), via ``PenalizedAcquisitionFunction``;
- ``prior``: the same soft floor as a log-prior on the acquisition (``PriorGuidedAcquisitionFunction``,
  Hvarfner et al. 2022);
- ``constraint``: the log-density as a second, deterministic outcome that must stay above the
  floor (qLogNEI's outcome constraints);
- ``none``: only the latent box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from designer.optimize.plausibility import Plausibility

MODES = ("penalty", "prior", "constraint", "none")


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


class SoftFloor(nn.Module):
    """``min(0, log p(z) - floor)`` per point: 0 inside the plausible region, linear below it.

    ``forward``: ``batch x q x d`` -> ``batch x q``.
    """

    def __init__(self, plausibility: Plausibility, floor: float):
        super().__init__()
        self.plausibility, self.floor = plausibility, floor

    def forward(self, X: Tensor) -> Tensor:
        return torch.clamp(self.plausibility.log_density_torch(X) - self.floor, max=0.0)


class _Penalty(nn.Module):
    """Sum over the q-batch of the shortfall below the floor: ``batch x q x d`` -> ``batch``."""

    def __init__(self, floor: SoftFloor):
        super().__init__()
        self.floor = floor

    def forward(self, X: Tensor) -> Tensor:
        return -self.floor(X).sum(-1)


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


def fit_subset(y: Tensor, max_points: int, recent: int = 0) -> Tensor:
    """Indices of at most ``max_points`` training points for the GP: the best ones plus the ``recent`` latest."""
    n = len(y)
    if n <= max_points:
        return torch.arange(n)
    if y.dim() == 2:  # several objectives: rank by the sum of standardised objectives
        y = ((y - y.mean(0)) / y.std(0).clamp(min=1e-9)).sum(-1)
    recent = min(recent, max_points // 2)
    latest = torch.arange(n - recent, n)
    rest = torch.ones(n, dtype=torch.bool)
    rest[latest] = False
    order = torch.nonzero(rest).squeeze(1)[torch.argsort(y[rest], descending=True)]
    return torch.cat([order[: max_points - recent], latest])


def fit_gp(z: Tensor, y: Tensor, box: Tensor):
    """SingleTaskGP on ``n x d`` latents and ``n`` (or ``n x m``) objective values (Normalize over the box, Standardize)."""
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    d = z.shape[-1]
    Y = y.double().unsqueeze(-1) if y.dim() == 1 else y.double()
    gp = SingleTaskGP(z.double(), Y, input_transform=Normalize(d, bounds=box.double()),
                      outcome_transform=Standardize(m=Y.shape[-1]))
    try:
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    except Exception:  # a failed hyperparameter fit keeps the priors' defaults: still a usable model
        pass
    return gp


def propose(z: Tensor, y: Tensor, box: Tensor, q: int, plausibility: Plausibility | None = None,
            mode: str = "penalty", weight: float = 1.0, floor_percentile: float = 5.0,
            bounds: Tensor | None = None, seed: int = 0, num_restarts: int = 8, raw_samples: int = 256,
            max_fit_points: int = 1000, pending: Tensor | None = None, maxiter: int = 60) -> Tensor:
    """Next ``q x d`` latents maximising qLogNEI of the objective values ``y`` (to maximise);
    qLogNEHVI when ``y`` is ``n x m`` (several objectives; reference point just below the worst).

    Args:
        z: ``n x d`` evaluated latents; y: ``n`` objective values (already transformed to maximise).
        box: ``2 x d`` latent box (the GP's Normalize bounds); ``bounds``: the search region
            inside it (a trust region; default the box).
        plausibility, mode, weight, floor_percentile: how the density score guides the search
            (see the module docstring); the floor is the log-density at ``floor_percentile`` of
            the held-out training points.
        pending: ``m x d`` latents already proposed this round (not to be proposed again).
    """
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.acquisition.penalized import PenalizedAcquisitionFunction
    from botorch.acquisition.prior_guided import PriorGuidedAcquisitionFunction
    from botorch.optim import optimize_acqf
    from botorch.sampling import SobolQMCNormalSampler

    if mode not in MODES:
        raise ValueError(f"unknown plausibility mode {mode!r} ({', '.join(MODES)})")
    torch.manual_seed(seed)
    idx = fit_subset(y, max_fit_points, recent=max(q, 64))
    zf, yf = z[idx].double(), y[idx].double()
    gp = fit_gp(zf, yf, box)
    sampler = SobolQMCNormalSampler(torch.Size([128]), seed=seed)
    search = (bounds if bounds is not None else box).double()
    floor = None
    if plausibility is not None and mode != "none":
        floor = float(np.percentile(plausibility.reference, floor_percentile))
    if mode == "constraint" and floor is not None and yf.dim() == 2 and yf.shape[1] > 1:
        raise ValueError("plausibility mode 'constraint' takes one objective; use 'penalty' or 'prior' with several")
    if mode == "constraint" and floor is not None:
        from botorch.models.deterministic import GenericDeterministicModel
        from botorch.models.model import ModelList

        density = GenericDeterministicModel(lambda X: plausibility.log_density_torch(X).unsqueeze(-1), num_outputs=1)
        model = ModelList(gp, density)
        from botorch.sampling.get_sampler import get_sampler

        sampler = get_sampler(model.posterior(zf[:1]), torch.Size([128]), seed=seed)
        acqf = qLogNoisyExpectedImprovement(
            model, zf, sampler=sampler, objective=GenericMCObjective(lambda Y, X=None: Y[..., 0]),
            constraints=[lambda Y: floor - Y[..., 1]], prune_baseline=False,
        )
    else:
        if yf.dim() == 2 and yf.shape[1] > 1:  # several objectives: Pareto front, hypervolume improvement
            from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement

            lo, hi = yf.min(0).values, yf.max(0).values
            ref = (lo - 0.1 * (hi - lo).abs() - 1e-6).tolist()
            acqf = qLogNoisyExpectedHypervolumeImprovement(gp, ref_point=ref, X_baseline=zf, sampler=sampler,
                                                           prune_baseline=True)
        else:
            acqf = qLogNoisyExpectedImprovement(gp, zf, sampler=sampler, prune_baseline=True)
        if floor is not None and mode == "penalty":
            acqf = PenalizedAcquisitionFunction(acqf, _Penalty(SoftFloor(plausibility, floor)), weight)
        elif floor is not None and mode == "prior":
            acqf = PriorGuidedAcquisitionFunction(acqf, SoftFloor(plausibility, floor), log=True, prior_exponent=weight)
    if pending is not None and len(pending):
        acqf.set_X_pending(pending.double())
    cand, _ = optimize_acqf(acqf, bounds=search, q=q, num_restarts=num_restarts, raw_samples=raw_samples,
                            options={"batch_limit": 8, "maxiter": maxiter, "seed": seed},
                            retry_on_optimization_warning=False)  # a flat acquisition is not worth a second try
    return cand.detach().to(z.dtype)
