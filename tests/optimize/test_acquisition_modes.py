"""Plausibility modes change where BO proposes, the acquisition builder's structure, ``ProposeInputs``.

The synthetic problem: a 2-D latent whose training density is two Gaussian blobs on the x-axis
(at x = -1 and x = +1, std 0.3) and an objective that grows with y, i.e. away from the data into
a region of (almost) zero density. Unguided BO walks off the data; each plausibility mode should
hold its proposals at the density floor.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.penalized import PenalizedAcquisitionFunction
from botorch.acquisition.prior_guided import PriorGuidedAcquisitionFunction
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import ModelList

from designer.optimize.acquisition import FloorPenalty, SoftFloor, build_acquisition, plausibility_floor
from designer.optimize.bo import ProposeInputs, propose
from designer.optimize.gp import fit_gp
from designer.optimize.plausibility import fit_plausibility

CENTRES = np.array([[-1.0, 0.0], [1.0, 0.0]])
BOX = torch.tensor([[-3.0, -3.0], [3.0, 3.0]], dtype=torch.float64)
FLOOR = 20.0  # floor_percentile: guided proposals should sit at about the 20th percentile, unguided at ~0
GUIDED = ["penalty", "prior", "constraint"]
EFFORT = dict(num_restarts=2, raw_samples=32, maxiter=20)


def _mixture(n: int, rng: np.random.Generator) -> np.ndarray:
    return CENTRES[rng.integers(0, len(CENTRES), n)] + 0.3 * rng.normal(size=(n, 2))


@pytest.fixture(scope="module")
def problem():
    """(plausibility fitted on 600 mixture latents, 40 evaluated latents ``z``, their objective ``y``)."""
    rng = np.random.default_rng(0)
    plaus = fit_plausibility(_mixture(600, rng), seed=0)
    z = torch.as_tensor(_mixture(40, rng), dtype=torch.float32)
    y = z[:, 1] + 0.2 * z[:, 0]  # increases towards y = +3: far from both blobs
    return plaus, z, y


def _inputs(problem, mode: str, q: int, seed: int = 0, **kw) -> ProposeInputs:
    plaus, z, y = problem
    return ProposeInputs(z=z, y=y, box=BOX, q=q, plausibility=plaus, mode=mode, floor_percentile=FLOOR,
                         seed=seed, **{**EFFORT, **kw})


@pytest.fixture(scope="module")
def unguided(problem):
    """Plausibility percentile of the unguided (mode ``none``) proposal."""
    return problem[0].percentile(propose(_inputs(problem, "none", 1)).numpy())


def test_unguided_bo_walks_off_the_training_density(unguided):
    """The setup has teeth: without guidance the objective pulls proposals to (nearly) zero density."""
    assert unguided.mean() < 2.0


@pytest.mark.parametrize("mode", GUIDED)
def test_guided_proposals_are_more_plausible_than_unguided_ones(problem, unguided, mode):
    """Same data, same seed: each mode keeps its proposal in the data's support; unguided BO does not."""
    pct = problem[0].percentile(propose(_inputs(problem, mode, 1)).numpy())
    assert pct.mean() > unguided.mean() + 5.0  # (the floor is soft: a proposal may sit somewhat below it)


def test_penalty_guides_every_point_of_a_joint_batch(problem, unguided):
    plaus = problem[0]
    pct = plaus.percentile(propose(_inputs(problem, "penalty", 3)).numpy())
    assert (pct > unguided.mean() + 5.0).all()  # the penalty sums the shortfall over the batch


# prior/constraint weight each point inside qLogNEI's max over the q-batch: optimised jointly, only the
# batch's best point was held above the floor, so propose builds their batches one point at a time. The
# constraint then holds every point; the prior is a soft log-prior, and at this test's low optimiser effort
# (2 restarts) one of three points still lands outside (all three are inside at the default effort).
@pytest.mark.parametrize("mode", ["constraint",
                                  pytest.param("prior", marks=pytest.mark.xfail(strict=True, reason="a soft prior"))])
def test_prior_and_constraint_guide_every_point_of_a_joint_batch(problem, mode):
    plaus = problem[0]
    pct = plaus.percentile(propose(_inputs(problem, mode, 3)).numpy())
    assert (pct > 0).all()


# ---------------------------------------------------------------- the acquisition builder


@pytest.fixture(scope="module")
def model(problem):
    _, z, y = problem
    torch.manual_seed(0)
    return fit_gp(z.double(), y.double(), BOX)


def _build(problem, model, mode, y=None, **kw):
    plaus, z, y0 = problem
    torch.manual_seed(0)  # baseline pruning draws from the global generator
    return build_acquisition(model, z.double(), (y0 if y is None else y).double(), plausibility=plaus, mode=mode,
                             floor_percentile=FLOOR, **kw)


def _floor_module(acqf) -> SoftFloor:
    return acqf.penalty_func.floor if isinstance(acqf, PenalizedAcquisitionFunction) else acqf.prior_module


def test_the_builder_returns_the_acquisition_each_mode_names(problem, model):
    plaus = problem[0]
    floor = plausibility_floor(plaus, FLOOR)
    assert floor == pytest.approx(np.percentile(plaus.reference, FLOOR))

    none = _build(problem, model, "none")
    assert type(none) is qLogNoisyExpectedImprovement and none.model is model

    penalty = _build(problem, model, "penalty", weight=2.5)
    assert isinstance(penalty, PenalizedAcquisitionFunction)
    assert type(penalty.raw_acqf) is qLogNoisyExpectedImprovement and isinstance(penalty.penalty_func, FloorPenalty)
    assert penalty.regularization_parameter == 2.5

    prior = _build(problem, model, "prior", weight=0.5)
    assert isinstance(prior, PriorGuidedAcquisitionFunction)
    assert type(prior.acq_func) is qLogNoisyExpectedImprovement and isinstance(prior.prior_module, SoftFloor)
    assert prior._log and prior._prior_exponent == 0.5

    for guided in (penalty, prior):
        assert _floor_module(guided).floor == floor and _floor_module(guided).plausibility is plaus

    constraint = _build(problem, model, "constraint")
    assert type(constraint) is qLogNoisyExpectedImprovement and isinstance(constraint.model, ModelList)
    gp, density = constraint.model.models
    assert gp is model and isinstance(density, GenericDeterministicModel)
    assert len(constraint._constraints) == 1
    x = torch.tensor([[[1.0, 0.0]], [[0.0, 3.0]]], dtype=torch.float64)  # on a blob / far off the data
    assert torch.allclose(density(x).squeeze(-1), plaus.log_density_torch(x))


def test_the_penalty_subtracts_weight_times_the_shortfall_below_the_floor(problem, model):
    plaus = problem[0]
    floor = plausibility_floor(plaus, FLOOR)
    x = torch.tensor([[[1.0, 0.0]], [[0.0, 2.0]], [[-1.0, 3.0]]], dtype=torch.float64)  # b x q=1 x d
    shortfall = torch.clamp(floor - plaus.log_density_torch(x), min=0).sum(-1)
    assert shortfall[0] == 0 and (shortfall[1:] > 0).all()
    with torch.no_grad():
        raw, penalised = _build(problem, model, "none")(x), _build(problem, model, "penalty", weight=3.0)(x)
    assert torch.allclose(penalised, raw - 3.0 * shortfall)


@pytest.mark.parametrize("mode", ["penalty", "prior", "constraint", "none"])
def test_without_a_plausibility_every_mode_is_plain_qlognei(problem, model, mode):
    _, z, y = problem
    acqf = build_acquisition(model, z.double(), y.double(), plausibility=None, mode=mode)
    assert type(acqf) is qLogNoisyExpectedImprovement


def test_several_objectives_use_hypervolume_and_reject_the_constraint_mode(problem, model):
    _, z, y = problem
    y2 = torch.stack([y, -(z[:, 0] ** 2)], 1)
    torch.manual_seed(0)
    model2 = fit_gp(z.double(), y2.double(), BOX)
    none = _build(problem, model2, "none", y=y2)
    assert type(none) is qLogNoisyExpectedHypervolumeImprovement
    lo, hi = y2.double().min(0).values, y2.double().max(0).values
    assert (none.ref_point < lo).all() and (none.ref_point > lo - 0.2 * (hi - lo)).all()  # just below the worst
    assert type(_build(problem, model2, "penalty", y=y2).raw_acqf) is qLogNoisyExpectedHypervolumeImprovement
    assert type(_build(problem, model2, "prior", y=y2).acq_func) is qLogNoisyExpectedHypervolumeImprovement
    with pytest.raises(ValueError, match="constraint"):
        _build(problem, model2, "constraint", y=y2)
    with pytest.raises(ValueError, match="unknown plausibility mode"):
        _build(problem, model, "soft")


def test_several_objectives_never_compile_a_cpp_kernel_at_run_time(problem, monkeypatch):
    """botorch >= 0.18 JIT-compiles a fused qLogEHVI kernel on first use; a stale lock from a killed compile
    then blocks every later run (it stalled CI for over an hour). designer keeps botorch on its Python path."""
    import botorch.acquisition.multi_objective.logei as mo_logei
    import torch.utils.cpp_extension as cpp_extension

    calls = []
    monkeypatch.setattr(cpp_extension, "load", lambda *a, **k: calls.append(k.get("name")) or None)
    monkeypatch.setattr(mo_logei, "_load_attempted", False, raising=False)
    monkeypatch.setattr(mo_logei, "_C", None, raising=False)
    _, z, y = problem
    y2 = torch.stack([y, -(z[:, 0] ** 2)], 1)
    torch.manual_seed(0)
    acqf = _build(problem, fit_gp(z.double(), y2.double(), BOX), "none", y=y2)
    assert type(acqf) is qLogNoisyExpectedHypervolumeImprovement
    assert calls == []
    assert torch.isfinite(acqf(z[:3].double().unsqueeze(1))).all()  # the Python path evaluates


def test_a_refit_on_the_same_data_reuses_the_hyperparameters_and_new_data_refits(problem, monkeypatch):
    """A batch re-proposed after duplicate decodes fits the GP on unchanged data: no second fit, same model."""
    import designer.optimize.gp as gp_module

    real, fits = gp_module.fit_gpytorch_mll, []
    monkeypatch.setattr(gp_module, "fit_gpytorch_mll", lambda mll: fits.append(1) or real(mll))
    monkeypatch.setattr(gp_module, "_FITTED", type(gp_module._FITTED)())
    _, z, y = problem
    X, Y = z.double(), y.double()
    first = fit_gp(X, Y, BOX)
    again = fit_gp(X.clone(), Y.clone(), BOX)
    assert len(fits) == 1 and again is not first
    test_X = torch.rand(7, 2, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        a, b = first.posterior(test_X), again.posterior(test_X)
    assert torch.equal(a.mean, b.mean) and torch.equal(a.variance, b.variance)
    Y2 = Y.clone()
    Y2[0] += 1.0  # one new value: a new fit
    fit_gp(X, Y2, BOX)
    assert len(fits) == 2


@pytest.mark.parametrize("mode", ["penalty", "prior", "none"])
def test_pending_points_are_set_on_the_returned_acquisition(problem, model, mode):
    pending = torch.tensor([[0.5, 0.5], [-0.5, 0.2]], dtype=torch.float64)
    acqf = _build(problem, model, mode, X_pending=pending)
    if isinstance(acqf, PriorGuidedAcquisitionFunction):  # the prior weighs the pending points too
        assert torch.equal(acqf.X_pending, pending) and acqf.acq_func.X_pending is None
    else:  # incremental qLogNEI: the pending points join the baseline
        raw = acqf.raw_acqf if isinstance(acqf, PenalizedAcquisitionFunction) else acqf
        assert torch.equal(raw.X_baseline[-len(pending):], pending)


# ---------------------------------------------------------------- ProposeInputs


def test_propose_inputs_are_frozen_keyword_only_and_checked(problem):
    inputs = _inputs(problem, "penalty", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.q = 3
    with pytest.raises(TypeError):
        ProposeInputs(problem[1], problem[2], BOX, 2)
    assert torch.equal(inputs.search_bounds, BOX) and dataclasses.replace(inputs, q=3).q == 3
    with pytest.raises(ValueError, match="unknown plausibility mode"):
        _inputs(problem, "soft", 2)
    y2 = torch.stack([problem[2], -problem[2]], 1)
    with pytest.raises(ValueError, match="'prior' with several objectives"):
        dataclasses.replace(inputs, y=y2, mode="prior")


def test_the_older_positional_call_gives_the_same_proposals(problem):
    plaus, z, y = problem
    small = dict(num_restarts=2, raw_samples=32, maxiter=10)
    old = propose(z, y, BOX, 2, plaus, "penalty", 1.0, FLOOR, seed=3, **small)
    new = propose(ProposeInputs(z=z, y=y, box=BOX, q=2, plausibility=plaus, mode="penalty", floor_percentile=FLOOR,
                                seed=3, **small))
    assert torch.equal(old, new) and old.dtype == z.dtype
    with pytest.raises(TypeError, match="several values for mode"):
        propose(z, y, BOX, 2, plaus, "penalty", mode="none")
    with pytest.raises(TypeError):
        propose(ProposeInputs(z=z, y=y, box=BOX, q=2), seed=1)
