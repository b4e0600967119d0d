"""Ehrlich functions: closed-form test functions for biological sequence design.

Reference: S. Stanton, R. Alberstein, N. Frey, et al., "Closed-Form Test Functions for
Biophysical Sequence Design", 2024, arXiv:2407.00236.

An Ehrlich function is defined on sequences ``x`` of length ``L`` over ``v`` states. A sequence is
*feasible* when every transition ``x[t] -> x[t + 1]`` has non-zero probability under a sparse
(banded, row-shuffled) ergodic transition matrix ``A``; infeasible sequences score
``infeasible_value`` (``-inf``, as in the reference implementation). For feasible sequences

    f(x) = prod_{i=1..c} q(h_i(x)),

where ``h_i`` is the largest fraction of the ``k`` elements of motif ``a^(i)`` found at the offsets
``s^(i)`` (the motif's spacing) over all window positions, and ``q`` quantises that fraction. All
motifs can be satisfied at once by a feasible sequence, so the optimum is exactly 1.

The random construction (initial distribution, transition matrix, motifs, spacings, initial
solutions, optimal solution) follows the reference implementation ``pytorch-holo``
(``holo.test_functions.closed_form.Ehrlich``, v0.0.5) draw for draw, so that an instance built here
with a given seed is the same instance as holo's with that seed (same torch version, CPU). Only
numpy and torch are needed; holo itself is not imported.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "Ehrlich",
    "banded_mask",
    "sample_dmp",
    "sample_sparse_ergodic_transition_matrix",
    "stationary_distribution",
]

# holo builds its instances in torch's default dtype (float32); pin it so that a caller's
# ``torch.set_default_dtype(torch.float64)`` cannot change which instance a seed gives.
_PARAM_DTYPE = torch.float32


# --------------------------------------------------------------------------------------------
# Discrete Markov process (DMP) helpers
# --------------------------------------------------------------------------------------------


def banded_mask(num_states: int, bandwidth: int) -> Tensor:
    """Cyclic band of allowed transitions.

    Args:
        num_states: ``v``, the number of states.
        bandwidth: ``b``; row ``i`` allows states ``i - b, ..., i + b`` (modulo ``v``).

    Returns:
        A ``v x v`` bool tensor with ``min(2 b + 1, v)`` True entries per row.
    """
    idx = torch.arange(num_states)
    offset = (idx.unsqueeze(0) - idx.unsqueeze(1)) % num_states  # (j - i) mod v
    return (offset <= bandwidth) | (offset >= num_states - bandwidth)


def _is_primitive(support: Tensor) -> bool:
    """Whether the non-negative matrix with this ``v x v`` bool support is primitive.

    Exact boolean version of holo's Perron-Frobenius check ``P^m > 0`` with Wielandt's bound
    ``m = (v - 1)^2 + 1`` (computed by repeated squaring instead of ``m`` float matmuls).
    """
    v = support.shape[0]
    m = (v - 1) ** 2 + 1
    base = support.to(torch.float64)
    result: Tensor | None = None
    while m:
        if m & 1:
            result = base if result is None else ((result @ base) > 0).to(torch.float64)
        m >>= 1
        if m:
            base = ((base @ base) > 0).to(torch.float64)
    assert result is not None
    return bool((result > 0).all())


def sample_sparse_ergodic_transition_matrix(
    num_states: int,
    bandwidth: int,
    softmax_temp: float = 0.5,
    generator: torch.Generator | None = None,
    repeats_always_possible: bool = True,
) -> Tensor:
    """Random sparse transition matrix of an ergodic (irreducible, aperiodic) Markov chain.

    Dense rows are ``softmax(randn / softmax_temp)``; a cyclic band of width ``2 b + 1`` whose rows
    are shuffled by a random permutation selects the allowed transitions (plus the diagonal when
    ``repeats_always_possible``), and rows are renormalised. Random draws, in order:
    ``randn(v, v)``, ``randperm(v)``.

    Args:
        num_states: ``v``.
        bandwidth: ``b``.
        softmax_temp: temperature of the dense row softmax (must be > 0).
        generator: torch generator the draws are taken from.
        repeats_always_possible: allow every self-transition ``s -> s``.

    Returns:
        A ``v x v`` float32 row-stochastic tensor.

    Raises:
        ValueError: on a non-positive temperature.
        RuntimeError: when the sampled support is not primitive (the chain is not ergodic).
    """
    if softmax_temp <= 0:
        raise ValueError("softmax_temp must be greater than 0")
    if generator is None:
        generator = torch.Generator()
    logits = torch.randn(num_states, num_states, generator=generator, dtype=_PARAM_DTYPE)
    dense = (logits / softmax_temp).softmax(dim=-1)
    support = banded_mask(num_states, bandwidth)[torch.randperm(num_states, generator=generator)]
    if repeats_always_possible:
        support = support | torch.eye(num_states, dtype=torch.bool)
    matrix = torch.where(support, dense, torch.zeros_like(dense))
    matrix = matrix / matrix.sum(dim=-1, keepdim=True)
    if not _is_primitive(matrix > 0):
        raise RuntimeError("sampled transition matrix is not ergodic (Perron-Frobenius check failed)")
    return matrix


def stationary_distribution(transition_matrix: Tensor, tolerance: float = 1e-5) -> Tensor:
    """Stationary distribution ``pi`` of a row-stochastic matrix (``pi A = pi``, ``sum pi = 1``).

    Solved as the least-squares system ``[(I - A)^T; 1^T] pi = [0; 1]`` via a QR decomposition,
    in the matrix's dtype (the same computation as holo, so the same floats).

    Args:
        transition_matrix: ``v x v`` row-stochastic tensor.
        tolerance: largest accepted relative residual.

    Returns:
        A ``v`` tensor.

    Raises:
        RuntimeError: when the solve fails or leaves a residual above ``tolerance``.
    """
    v = transition_matrix.shape[0]
    dtype = transition_matrix.dtype
    lhs = torch.cat([(torch.eye(v, dtype=dtype) - transition_matrix).T, torch.ones(1, v, dtype=dtype)], dim=0)
    rhs = torch.zeros(v + 1, 1, dtype=dtype)
    rhs[-1] = 1
    try:
        q_mat, r_mat = torch.linalg.qr(lhs)
        pi = torch.linalg.solve(r_mat, q_mat.T @ rhs)
    except RuntimeError as err:  # torch.linalg.LinAlgError subclasses RuntimeError
        raise RuntimeError("stationary distribution solve failed; is the chain ergodic?") from err
    if torch.norm(lhs @ pi - rhs) / torch.norm(rhs) > tolerance:
        raise RuntimeError("stationary distribution solve failed; is the chain ergodic?")
    return pi.squeeze(-1)


def sample_dmp(
    initial_dist: Tensor,
    transition_matrix: Tensor,
    num_steps: int,
    num_samples: int = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sample trajectories of a discrete Markov process.

    Random draws, in order: one ``multinomial(initial_dist, num_samples, replacement=True)``, then
    for each later step one ``multinomial(rows, 1)`` over the rows of the previous states (the
    same draws as holo's ``sample_dmp``).

    Args:
        initial_dist: ``v`` distribution of the first state.
        transition_matrix: ``v x v`` row-stochastic tensor.
        num_steps: ``T``, the trajectory length.
        num_samples: ``n``.
        generator: torch generator the draws are taken from.

    Returns:
        An ``n x T`` int64 tensor of states.
    """
    if generator is None:
        generator = torch.Generator()
    out = torch.zeros(num_samples, num_steps, dtype=torch.int64)
    if num_steps == 0:
        return out
    out[:, 0] = torch.multinomial(initial_dist, num_samples, replacement=True, generator=generator)
    for t in range(1, num_steps):
        rows = transition_matrix[out[:, t - 1]]
        out[:, t] = torch.multinomial(rows, 1, generator=generator).squeeze(-1)
    return out


# --------------------------------------------------------------------------------------------
# The test function
# --------------------------------------------------------------------------------------------


class Ehrlich:
    r"""Ehrlich function ``f: {0..v-1}^L -> [0, 1] ∪ {infeasible_value}`` (to be maximised).

    ``f(x) = prod_i r(q(h_i(x)))`` for feasible ``x``, where ``h_i(x) = max_l (1/k) sum_j
    1[x_{l + o_ij} = a_ij]`` is the best fraction of motif ``i`` found with its offsets
    ``o_i = [0, cumsum(s_i)]``, ``q`` quantises (holo's rule, see below) and ``r(h) = h (1 + e h
    (h - 1))`` is the epistasis response (identity for ``epistasis_factor = 0``).

    Quantisation follows holo exactly: with ``m = ceil(k / quantization)``, a count ``n`` of
    matching elements scores ``floor(n / m) / (k / m)``. When ``quantization`` divides ``k`` this is
    ``floor(n q / k) / q`` (``q + 1`` levels); otherwise the number of levels is ``floor(k / m) + 1``
    (e.g. ``k = 4, q = 3`` behaves like ``q = 2``) and when ``m`` does not divide ``k`` a complete
    motif scores < 1, so the optimum 1 is unreachable (a warning is issued).

    Construction (holo's, draw for draw, from ``torch.Generator().manual_seed(random_seed)``):
    uniform initial distribution; transition matrix from
    :func:`sample_sparse_ergodic_transition_matrix` with bandwidth ``int(0.4 v)``, softmax
    temperature 0.5 and self-transitions always allowed; the ``c`` motifs as one DMP trajectory of
    length ``c k`` started from the stationary distribution and cut into ``c`` chunks (so they can
    be chained feasibly); then per motif a spacing ``s = 1 + floor(((L - c k) // c) * w)`` with
    ``w = u / sum(u)``, ``u ~ U(0, 1)^{k-1}``.

    Args:
        num_states: ``v``, the vocabulary size.
        dim: ``L``, the sequence length.
        num_motifs: ``c``.
        motif_length: ``k``.
        quantization: number of quantisation levels (default ``k``, i.e. none).
        epistasis_factor: ``e`` of the response ``r`` (default 0, as holo).
        noise_std: std of Gaussian observation noise added to feasible values in ``__call__``.
        negate: return ``-f`` (the infeasible value is negated too, as in BoTorch/holo).
        random_seed: seed of the instance (and of ``initial_solution`` by default).
        infeasible_value: value of infeasible sequences (holo: ``-inf``; ``0.0`` is a common
            alternative).

    Example:
        >>> fn = Ehrlich(num_states=32, dim=32, num_motifs=2, motif_length=4, random_seed=0)
        >>> x = fn.initial_solution(8)           # 8 x 32 int64, feasible
        >>> fn(x).shape, float(fn(fn.optimal_solution()))
        (torch.Size([8]), 1.0)
    """

    optimal_value_unnegated: float = 1.0

    def __init__(
        self,
        num_states: int = 5,
        dim: int = 7,
        num_motifs: int = 1,
        motif_length: int = 3,
        quantization: int | None = None,
        epistasis_factor: float = 0.0,
        noise_std: float = 0.0,
        negate: bool = False,
        random_seed: int = 0,
        infeasible_value: float = float("-inf"),
    ) -> None:
        if num_states < 2:
            raise ValueError(f"num_states must be >= 2, got {num_states}")
        if num_motifs < 1 or motif_length < 1:
            raise ValueError("num_motifs and motif_length must be >= 1")
        slack = dim - num_motifs * motif_length
        if slack < 0:
            raise ValueError(
                f"dim={dim} < num_motifs * motif_length = {num_motifs * motif_length}: "
                "cannot guarantee a solution satisfying all motifs exists"
            )
        generator = torch.Generator().manual_seed(random_seed)
        transition_matrix = sample_sparse_ergodic_transition_matrix(
            num_states,
            int(num_states * 0.4),
            softmax_temp=0.5,
            generator=generator,
            repeats_always_possible=True,
        )
        stationary = stationary_distribution(transition_matrix)
        # all motifs drawn as one DMP trajectory, then chunked: motif i's last element can be
        # followed by motif i+1's first, so a feasible sequence containing every motif exists
        chain = sample_dmp(stationary, transition_matrix, num_motifs * motif_length, 1, generator)[0]
        motifs = list(chain.split(motif_length))
        spacings = []
        budget = slack // num_motifs  # extra positions each motif may spread over
        for _ in range(num_motifs):
            weights = torch.rand(motif_length - 1, generator=generator, dtype=_PARAM_DTYPE)
            weights = weights / weights.sum()
            spacings.append(1 + (budget * weights).floor().to(torch.int64))
        self._setup(
            transition_matrix=transition_matrix,
            motifs=motifs,
            spacings=spacings,
            initial_dist=torch.full((num_states,), 1.0 / num_states, dtype=_PARAM_DTYPE),
            dim=dim,
            quantization=quantization,
            epistasis_factor=epistasis_factor,
            noise_std=noise_std,
            negate=negate,
            random_seed=random_seed,
            infeasible_value=infeasible_value,
            stationary_dist=stationary,
        )

    # ---------------------------------------------------------------- construction helpers

    @classmethod
    def from_parameters(
        cls,
        transition_matrix: Tensor | np.ndarray,
        motifs: Sequence[Tensor | np.ndarray | Sequence[int]],
        spacings: Sequence[Tensor | np.ndarray | Sequence[int]],
        dim: int,
        initial_dist: Tensor | np.ndarray | None = None,
        quantization: int | None = None,
        epistasis_factor: float = 0.0,
        noise_std: float = 0.0,
        negate: bool = False,
        random_seed: int = 0,
        infeasible_value: float = float("-inf"),
    ) -> "Ehrlich":
        """An Ehrlich function with explicitly given parameters (e.g. copied from a holo instance).

        Args:
            transition_matrix: ``v x v`` row-stochastic matrix; its zero pattern defines feasibility.
            motifs: ``c`` motifs of ``k`` states each.
            spacings: ``c`` spacings of ``k - 1`` positive gaps each.
            dim: ``L``.
            initial_dist: ``v`` first-state distribution (default uniform).
            quantization, epistasis_factor, noise_std, negate, infeasible_value: as in the
                constructor.
            random_seed: default seed of :meth:`initial_solution`.

        Returns:
            The function; :meth:`optimal_solution` only succeeds when the motifs chain feasibly
            and fit into ``dim``.
        """
        matrix = torch.as_tensor(transition_matrix, dtype=_PARAM_DTYPE)
        v = matrix.shape[0]
        if matrix.shape != (v, v):
            raise ValueError(f"transition_matrix must be square, got shape {tuple(matrix.shape)}")
        motif_list = [torch.as_tensor(m, dtype=torch.int64).reshape(-1) for m in motifs]
        spacing_list = [torch.as_tensor(s, dtype=torch.int64).reshape(-1) for s in spacings]
        if not motif_list or len(motif_list) != len(spacing_list):
            raise ValueError("need as many spacings as motifs (at least one)")
        k = motif_list[0].numel()
        for m, s in zip(motif_list, spacing_list):
            if m.numel() != k or s.numel() != k - 1:
                raise ValueError("every motif needs k states and every spacing k - 1 gaps")
            if (m < 0).any() or (m >= v).any() or (s < 1).any():
                raise ValueError("motif states must lie in [0, v) and spacings be >= 1")
        dist = (
            torch.full((v,), 1.0 / v, dtype=_PARAM_DTYPE)
            if initial_dist is None
            else torch.as_tensor(initial_dist, dtype=_PARAM_DTYPE).reshape(-1)
        )
        obj = cls.__new__(cls)
        obj._setup(
            transition_matrix=matrix,
            motifs=motif_list,
            spacings=spacing_list,
            initial_dist=dist,
            dim=dim,
            quantization=quantization,
            epistasis_factor=epistasis_factor,
            noise_std=noise_std,
            negate=negate,
            random_seed=random_seed,
            infeasible_value=infeasible_value,
            stationary_dist=None,
        )
        return obj

    def _setup(
        self,
        *,
        transition_matrix: Tensor,
        motifs: list[Tensor],
        spacings: list[Tensor],
        initial_dist: Tensor,
        dim: int,
        quantization: int | None,
        epistasis_factor: float,
        noise_std: float,
        negate: bool,
        random_seed: int,
        infeasible_value: float,
        stationary_dist: Tensor | None,
    ) -> None:
        k = motifs[0].numel()
        q = k if quantization is None else int(quantization)
        if q < 1:
            raise ValueError(f"quantization must be >= 1, got {quantization}")
        self.num_states = int(transition_matrix.shape[0])
        self.dim = int(dim)
        self.num_motifs = len(motifs)
        self.motif_length = k
        self.quantization = q
        self.epistasis_factor = float(epistasis_factor)
        self.noise_std = float(noise_std)
        self.negate = bool(negate)
        self.random_seed = int(random_seed)
        self.infeasible_value = float(infeasible_value)
        self.transition_matrix = transition_matrix
        self.initial_dist = initial_dist
        self._stationary = stationary_dist
        self.motifs = motifs
        self.spacings = spacings
        # offsets o_i = [0, cumsum(s_i)] of each motif's elements within its window
        self._offsets = [torch.cat([torch.zeros(1, dtype=torch.int64), s.cumsum(0)]) for s in spacings]
        # holo's quantisation: floor(n / m) / (k / m) with m = ceil(k / q)
        self._quant_step = math.ceil(k / q)
        self._quant_scale = k / self._quant_step
        if k % self._quant_step:
            warnings.warn(
                f"quantization={q} with motif_length={k}: ceil(k/q)={self._quant_step} does not divide k, "
                "so a complete motif scores < 1 and the optimum 1 is unreachable (holo behaves the same)",
                stacklevel=3,
            )

    # ---------------------------------------------------------------- properties

    @property
    def stationary_dist(self) -> Tensor:
        """``v`` stationary distribution of the transition matrix (start of DMP samples)."""
        if self._stationary is None:
            self._stationary = stationary_distribution(self.transition_matrix)
        return self._stationary

    @property
    def feasibility_mask(self) -> Tensor:
        """``v x v`` bool tensor: ``[a, b]`` is True when the transition ``a -> b`` is allowed."""
        return self.transition_matrix > 0

    @property
    def optimal_value(self) -> float:
        """The optimum, 1 (or -1 with ``negate``)."""
        return -self.optimal_value_unnegated if self.negate else self.optimal_value_unnegated

    @property
    def quantization_levels(self) -> int:
        """Number of distinct values a single motif term ``q(h_i)`` can take."""
        return self.motif_length // self._quant_step + 1

    # ---------------------------------------------------------------- evaluation

    def _as_states(self, x: Tensor | np.ndarray | Sequence) -> Tensor:
        t = torch.as_tensor(x)
        if t.ndim == 0 or t.shape[-1] != self.dim:
            raise ValueError(f"expected sequences of length {self.dim} (last dimension), got shape {tuple(t.shape)}")
        if t.is_floating_point():
            if not torch.equal(t, t.round()):
                raise ValueError("states must be integers")
        elif t.dtype == torch.bool or t.is_complex():
            raise ValueError(f"states must be integers, got dtype {t.dtype}")
        t = t.to(torch.int64)
        if t.numel() and (t.min() < 0 or t.max() >= self.num_states):
            raise ValueError(f"states must lie in [0, {self.num_states})")
        return t

    @staticmethod
    def _like_input(x: object, value: Tensor) -> Tensor | np.ndarray:
        return value.cpu().numpy() if isinstance(x, np.ndarray) else value

    def _feasible(self, x: Tensor) -> Tensor:
        allowed = self.feasibility_mask.to(x.device)
        ok = self.initial_dist.to(x.device)[x[..., 0]] > 0
        if self.dim > 1:
            ok = ok & allowed[x[..., :-1], x[..., 1:]].all(dim=-1)
        return ok

    def _motif_presence(self, x: Tensor) -> Tensor:
        """``batch_shape x c`` quantised presence ``q(h_i(x))`` (float64) of each motif."""
        terms = []
        for motif, offsets in zip(self.motifs, self._offsets):
            span = int(offsets[-1]) + 1
            if span > self.dim:  # the motif does not fit: nothing of it can be present
                terms.append(torch.zeros(x.shape[:-1], dtype=torch.float64, device=x.device))
                continue
            windows = x.unfold(-1, span, 1)[..., offsets.to(x.device)]  # batch x (L - span + 1) x k
            count = (windows == motif.to(x.device)).sum(dim=-1)
            level = torch.div(count, self._quant_step, rounding_mode="floor").to(torch.float64)
            terms.append((level / self._quant_scale).amax(dim=-1))
        return torch.stack(terms, dim=-1)

    def motif_presence(self, x: Tensor | np.ndarray) -> Tensor | np.ndarray:
        """Quantised presence of each motif, ignoring feasibility.

        Args:
            x: ``batch_shape x L`` integer states in ``[0, v)``.

        Returns:
            ``batch_shape x c`` float64 values in ``[0, 1]`` (same array type as ``x``).
        """
        return self._like_input(x, self._motif_presence(self._as_states(x)))

    def is_feasible(self, x: Tensor | np.ndarray) -> Tensor | np.ndarray:
        """Whether every transition of each sequence is allowed by the transition matrix.

        Args:
            x: ``batch_shape x L`` integer states in ``[0, v)``.

        Returns:
            ``batch_shape`` bool tensor (numpy array for numpy input).
        """
        return self._like_input(x, self._feasible(self._as_states(x)))

    def _evaluate(self, states: Tensor) -> tuple[Tensor, Tensor]:
        presence = self._motif_presence(states)
        e = self.epistasis_factor
        response = presence * (1.0 + e * presence * (presence - 1.0))
        value = response.prod(dim=-1)
        feasible = self._feasible(states)
        return torch.where(feasible, value, torch.full_like(value, self.infeasible_value)), feasible

    def evaluate_true(self, x: Tensor | np.ndarray) -> Tensor | np.ndarray:
        """Noise-free, un-negated ``f(x)``.

        Args:
            x: ``batch_shape x L`` integer states in ``[0, v)`` (float tensors holding integers are
                accepted, as BoTorch passes them).

        Returns:
            ``batch_shape`` float64 values in ``[0, 1]``, ``infeasible_value`` where infeasible
            (same array type as ``x``).
        """
        return self._like_input(x, self._evaluate(self._as_states(x))[0])

    def __call__(
        self, x: Tensor | np.ndarray, noise: bool = True, generator: torch.Generator | None = None
    ) -> Tensor | np.ndarray:
        """Evaluate ``f`` (with noise if ``noise_std > 0`` and ``noise``; negated if ``negate``).

        Args:
            x: ``batch_shape x L`` integer states in ``[0, v)``.
            noise: add ``N(0, noise_std^2)`` noise to the values of feasible sequences.
            generator: torch generator for the noise (default: torch's global RNG).

        Returns:
            ``batch_shape`` float64 values (same array type as ``x``); with ``negate`` the
            infeasible value is negated too (``+inf`` for the default), as in BoTorch/holo.
        """
        value, feasible = self._evaluate(self._as_states(x))
        if noise and self.noise_std > 0:
            eps = torch.randn(value.shape, generator=generator, dtype=value.dtype).to(value.device)
            value = torch.where(feasible, value + self.noise_std * eps, value)
        if self.negate:
            value = -value
        return self._like_input(x, value)

    forward = __call__

    # ---------------------------------------------------------------- solutions

    def initial_solution(self, n: int = 1, seed: int | None = None) -> Tensor:
        """Feasible sequences sampled from the function's own DMP (holo's ``initial_solution``).

        Trajectories start from the stationary distribution; with ``seed=None`` the generator is
        seeded with ``random_seed``, which gives holo's initial solutions (holo always reseeds, so
        repeated calls return the same sequences).

        Args:
            n: number of sequences.
            seed: generator seed (default ``random_seed``).

        Returns:
            ``n x L`` int64 tensor (holo squeezes to ``L`` when ``n == 1``; this does not).
        """
        generator = torch.Generator().manual_seed(self.random_seed if seed is None else int(seed))
        return sample_dmp(self.stationary_dist, self.transition_matrix, self.dim, n, generator)

    def random_solution(self, n: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Uniformly random (usually infeasible) sequences.

        Returns:
            ``n x L`` int64 tensor.
        """
        return torch.randint(self.num_states, (n, self.dim), generator=generator)

    def optimal_solution(self) -> Tensor:
        """A feasible sequence with ``f = 1`` (holo's construction).

        The motifs are laid out one after the other, each over its span ``1 + sum(s_i)``, with the
        gaps inside a motif filled by repeating the previous motif element; the tail is filled with
        the last element. Self-transitions are always allowed and consecutive motifs were drawn as
        one DMP trajectory, so the sequence is feasible.

        Returns:
            ``L`` int64 tensor.

        Raises:
            RuntimeError: if the construction does not reach the optimum (e.g. a quantisation for
                which the optimum 1 is unreachable, or parameters given to :meth:`from_parameters`
                that do not chain feasibly or fit).
        """
        pieces = []
        for motif, offsets in zip(self.motifs, self._offsets):
            span = int(offsets[-1]) + 1
            element = torch.searchsorted(offsets, torch.arange(span), right=True) - 1
            pieces.append(motif[element])
        body = torch.cat(pieces)
        if body.numel() > self.dim:
            raise RuntimeError("the spaced motifs do not fit into dim positions")
        soln = torch.cat([body, body[-1].repeat(self.dim - body.numel())])
        value = self.evaluate_true(soln.unsqueeze(0))
        if not bool(value[0] == self.optimal_value_unnegated):
            raise RuntimeError(f"optimal value not achieved by the constructed solution (f = {float(value[0])})")
        return soln

    def __repr__(self) -> str:
        motifs = ", ".join(str(m.tolist()) for m in self.motifs)
        spacings = ", ".join(str(s.tolist()) for s in self.spacings)
        return (
            f"Ehrlich(num_states={self.num_states}, dim={self.dim}, num_motifs={self.num_motifs}, "
            f"motif_length={self.motif_length}, quantization={self.quantization}, motifs=[{motifs}], "
            f"spacings=[{spacings}], epistasis_factor={self.epistasis_factor}, noise_std={self.noise_std}, "
            f"negate={self.negate}, random_seed={self.random_seed}, infeasible_value={self.infeasible_value})"
        )
