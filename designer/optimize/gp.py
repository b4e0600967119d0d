"""The surrogate: which evaluated points the GP sees, and the GP fitted on them (BoTorch).

Change the surrogate model here; ``acquisition.py`` builds the acquisition on whatever model
``fit_gp`` returns.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor


def fit_subset(y: Tensor, max_points: int, recent: int = 0) -> Tensor:
    r"""Indices of at most ``max_points`` training points for the GP: the best ones plus the ``recent`` latest.

    Args:
        y: ``n`` objective values (to maximise), or ``n x m`` with several objectives (ranked by
            the sum of the standardised objectives).
        max_points: the most points to keep.
        recent: how many of the latest points (the end of ``y``) to keep whatever their value
            (at most half of ``max_points``).

    Returns:
        A ``k``-dim long tensor of indices into ``y``, ``k = min(n, max_points)``.
    """
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


_FITTED: OrderedDict[str, dict[str, Tensor]] = OrderedDict()  # hyperparameters of the latest fits, by their data
_FITTED_KEEP = 4


def _data_key(*tensors: Tensor) -> str:
    """A digest of the tensors' shapes, dtypes and values (copied to the CPU first)."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def fit_gp(train_X: Tensor, train_Y: Tensor, bounds: Tensor) -> SingleTaskGP:
    r"""Fit a ``SingleTaskGP`` (inputs normalised over ``bounds``, outcomes standardised).

    The hyperparameters are fitted by maximising the exact marginal log-likelihood; a failed fit
    keeps the priors' defaults (still a usable model). Nothing outside the returned model is
    changed; the fit draws from torch's global generator only as BoTorch's fitting does.

    The fitted hyperparameters of the last few data sets are remembered: a call on the same
    ``(train_X, train_Y, bounds)`` (a batch re-proposed because it decoded to duplicates) gets a new
    model with them instead of a second fit (seconds to tens of seconds on 2 cores). A converged fit
    is deterministic, so this is the model a refit would give; only a fit that fell back to BoTorch's
    random restarts could have come out differently.

    Args:
        train_X: ``n x d`` training inputs (latents).
        train_Y: ``n`` training targets (one objective, to maximise) or ``n x m`` (``m`` objectives).
        bounds: ``2 x d`` tensor of lower and upper bounds of the input space (the latent box):
            the ``Normalize`` input transform's bounds.

    Returns:
        A fitted ``SingleTaskGP`` in double precision with ``m`` (or 1) outputs.
    """
    d = train_X.shape[-1]
    Y = train_Y.double().unsqueeze(-1) if train_Y.dim() == 1 else train_Y.double()
    gp = SingleTaskGP(train_X.double(), Y, input_transform=Normalize(d, bounds=bounds.double()),
                      outcome_transform=Standardize(m=Y.shape[-1]))
    key = _data_key(train_X.double(), Y, bounds.double())
    if key in _FITTED:
        gp.load_state_dict(_FITTED[key])
        _FITTED.move_to_end(key)
        return gp.eval()
    try:
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    except Exception:  # a failed hyperparameter fit keeps the priors' defaults: still a usable model
        pass
    gp.eval()
    _FITTED[key] = {k: v.detach().clone() for k, v in gp.state_dict().items()}
    while len(_FITTED) > _FITTED_KEEP:
        _FITTED.popitem(last=False)
    return gp
