"""The acquisition function: qLogNEI (one objective) or qLogNEHVI (several), guided by plausibility.

Change the acquisition function here; ``bo.propose`` only fits the GP (``gp.py``), calls
``build_acquisition`` and optimises what it returns.

The plausibility score (log-density of the training latents) enters in one of four ways (``mode``):

- ``penalty``: the acquisition minus ``weight`` x (how far each point's log-density falls below
  the plausibility floor), via ``PenalizedAcquisitionFunction``;
- ``prior``: the same soft floor as a log-prior on the acquisition (``PriorGuidedAcquisitionFunction``,
  Hvarfner et al. 2022) with exponent ``weight``;
- ``constraint``: the log-density as a second, deterministic outcome that must stay above the
  floor (qLogNEI's outcome constraints; one objective only);
- ``none``: the bare acquisition (only the latent box limits the search).

The floor is the log-density at ``floor_percentile`` of the held-out training points.
"""

from __future__ import annotations

import numpy as np
import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective import logei as _mo_logei
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.objective import GenericMCObjective
from botorch.acquisition.penalized import PenalizedAcquisitionFunction
from botorch.acquisition.prior_guided import PriorGuidedAcquisitionFunction
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import Model, ModelList
from botorch.sampling import SobolQMCNormalSampler
from botorch.sampling.get_sampler import get_sampler
from torch import Tensor, nn

from designer.optimize.plausibility import Plausibility

MODES = ("penalty", "prior", "constraint", "none")
MC_SAMPLES = 128


def _without_botorch_jit_kernel() -> None:
    """Keep qLogNEHVI on botorch's pure-Python path: never compile its fused C++ kernel at run time.

    botorch >= 0.18 builds ``logei_fused_ext`` with ``torch.utils.cpp_extension.load`` the first time a
    qLog(N)EHVI is made. That needs a C++ compiler and about 45 s on 2 cores, and a process killed while
    compiling leaves a lock file in ``~/.cache/torch_extensions`` that makes every later run wait on it
    forever (a CI run stalled there for over an hour). The Python path computes the same values.
    Older botorch has no such kernel and nothing to skip.
    """
    if hasattr(_mo_logei, "_load_attempted") and getattr(_mo_logei, "_C", None) is None:
        _mo_logei._load_attempted = True


class SoftFloor(nn.Module):
    """``min(0, log p(z) - floor)`` per point: 0 inside the plausible region, linear below it.

    ``forward``: ``batch x q x d`` -> ``batch x q``.
    """

    def __init__(self, plausibility: Plausibility, floor: float):
        super().__init__()
        self.plausibility, self.floor = plausibility, floor

    def forward(self, X: Tensor) -> Tensor:
        return torch.clamp(self.plausibility.log_density_torch(X) - self.floor, max=0.0)


class FloorPenalty(nn.Module):
    """Sum over the q-batch of the shortfall below the floor: ``batch x q x d`` -> ``batch``."""

    def __init__(self, floor: SoftFloor):
        super().__init__()
        self.floor = floor

    def forward(self, X: Tensor) -> Tensor:
        return -self.floor(X).sum(-1)


def check_mode(mode: str, n_objectives: int = 1, q: int | None = None) -> None:
    """Raise ``ValueError`` for an unknown ``mode`` or one that cannot guide ``n_objectives`` objectives.

    ``constraint`` takes one objective; ``prior`` with several objectives takes ``q = 1`` only
    (BoTorch weights a q-batch by a prior only for sample-reducing acquisitions, which qLogNEHVI is not).
    """
    if mode not in MODES:
        raise ValueError(f"unknown plausibility mode {mode!r} ({', '.join(MODES)})")
    if mode == "constraint" and n_objectives > 1:
        raise ValueError("plausibility mode 'constraint' takes one objective; use 'penalty' or 'prior' with several")
    if mode == "prior" and n_objectives > 1 and q is not None and q > 1:
        raise ValueError("plausibility mode 'prior' with several objectives proposes one point at a time (q=1); "
                         "use 'penalty' for larger batches")


def plausibility_floor(plausibility: Plausibility, floor_percentile: float) -> float:
    """The log-density at ``floor_percentile`` (0-100) of the held-out training points."""
    return float(np.percentile(plausibility.reference, floor_percentile))


def hypervolume_reference(train_Y: Tensor) -> list[float]:
    """``m`` reference point for ``n x m`` objective values: just below the worst value of each objective."""
    lo, hi = train_Y.min(0).values, train_Y.max(0).values
    return (lo - 0.1 * (hi - lo).abs() - 1e-6).tolist()


def objective_acquisition(model: Model, train_X: Tensor, train_Y: Tensor,
                          sampler: SobolQMCNormalSampler) -> AcquisitionFunction:
    r"""The unguided acquisition: qLogNEI for one objective, qLogNEHVI for several.

    Args:
        model: the fitted GP (``m`` outputs).
        train_X: ``n x d`` baseline points (the GP's training inputs; inferior ones are pruned).
        train_Y: ``n`` or ``n x m`` training targets (to maximise): the number of objectives and
            the hypervolume reference point.
        sampler: the MC sampler of the posterior.
    """
    if train_Y.dim() == 2 and train_Y.shape[1] > 1:  # several objectives: Pareto front, hypervolume improvement
        _without_botorch_jit_kernel()
        return qLogNoisyExpectedHypervolumeImprovement(model, ref_point=hypervolume_reference(train_Y),
                                                       X_baseline=train_X, sampler=sampler, prune_baseline=True)
    return qLogNoisyExpectedImprovement(model, train_X, sampler=sampler, prune_baseline=True)


def density_constrained_acquisition(model: Model, train_X: Tensor, plausibility: Plausibility, floor: float,
                                    seed: int = 0, mc_samples: int = MC_SAMPLES) -> qLogNoisyExpectedImprovement:
    r"""qLogNEI of ``model``'s one objective subject to ``log p(x) >= floor`` (a deterministic second outcome).

    Args:
        model: the fitted GP (one output).
        train_X: ``n x d`` baseline points.
        plausibility, floor: the latent density and the least log-density allowed.
    """
    density = GenericDeterministicModel(lambda X: plausibility.log_density_torch(X).unsqueeze(-1), num_outputs=1)
    both = ModelList(model, density)
    sampler = get_sampler(both.posterior(train_X[:1]), torch.Size([mc_samples]), seed=seed)
    return qLogNoisyExpectedImprovement(
        both, train_X, sampler=sampler, objective=GenericMCObjective(lambda Y, X=None: Y[..., 0]),
        constraints=[lambda Y: floor - Y[..., 1]], prune_baseline=False,
    )


def build_acquisition(model: Model, train_X: Tensor, train_Y: Tensor, *, plausibility: Plausibility | None = None,
                      mode: str = "penalty", weight: float = 1.0, floor_percentile: float = 5.0, seed: int = 0,
                      X_pending: Tensor | None = None, mc_samples: int = MC_SAMPLES) -> AcquisitionFunction:
    r"""The acquisition function to maximise for the next batch, guided by ``plausibility`` as ``mode`` says.

    Args:
        model: the GP fitted on ``(train_X, train_Y)`` (``fit_gp``).
        train_X: ``n x d`` training inputs (double), the baseline of the noisy improvement.
        train_Y: ``n`` (one objective) or ``n x m`` (``m`` objectives) training targets, to maximise.
        plausibility: the latent density; ``None`` means no guidance whatever ``mode`` says.
        mode: ``penalty``, ``prior``, ``constraint`` or ``none`` (see the module docstring).
        weight: the penalty's weight (``penalty``) or the prior's exponent (``prior``).
        floor_percentile: where the plausibility floor sits (percentile of held-out training log-densities).
        seed: seed of the QMC sampler.
        X_pending: ``k x d`` points already proposed this round (not to be proposed again).
        mc_samples: number of MC samples of the posterior.

    Returns:
        ``penalty``: a ``PenalizedAcquisitionFunction``, ``prior``: a ``PriorGuidedAcquisitionFunction``,
        each around qLogNEI / qLogNEHVI; ``constraint``: a constrained qLogNEI on a ``ModelList``
        (GP, log-density); ``none`` (or no ``plausibility``): qLogNEI / qLogNEHVI itself.
    """
    n_objectives = train_Y.shape[1] if train_Y.dim() == 2 else 1
    check_mode(mode, n_objectives if plausibility is not None else 1)
    floor = plausibility_floor(plausibility, floor_percentile) if plausibility is not None and mode != "none" else None
    if floor is not None and mode == "constraint":
        acqf = density_constrained_acquisition(model, train_X, plausibility, floor, seed=seed, mc_samples=mc_samples)
    else:
        acqf = objective_acquisition(model, train_X, train_Y,
                                     SobolQMCNormalSampler(torch.Size([mc_samples]), seed=seed))
        if floor is not None and mode == "penalty":
            acqf = PenalizedAcquisitionFunction(acqf, FloorPenalty(SoftFloor(plausibility, floor)), weight)
        elif floor is not None and mode == "prior":
            acqf = PriorGuidedAcquisitionFunction(acqf, SoftFloor(plausibility, floor), log=True,
                                                  prior_exponent=weight)
    if X_pending is not None and len(X_pending):
        acqf.set_X_pending(X_pending.double())
    return acqf
