"""Ehrlich-function benchmark (Stanton et al. 2024; issue 4): oracle calls to solve, per method and seed.

Methods, side by side on the same instances (every scored sequence is an oracle call):
- ``designer``: latent BO — a sequence β-VAE trained on unlabelled feasible sequences from the
  function's own prior (free), then TuRBO-style qLogNEI rounds on log f in its latent space;
- ``hill_climb``: random single-site mutations from an initial solution, kept when not worse;
- ``random``: decodes of prior draws from the same VAE (random search in latent space);
- ``ga``: pytorch-holo's ``DiscreteEvolution`` (tuned: population 64, survival quantile 1/16,
  mutation and recombination probability 1.1/L), only where holo is installed (``[bench]`` extra).

Each (setting, seed, method) result is written to ``results/ehrlich/`` as it finishes, so long
campaigns can be run in pieces (``--seeds``, ``--settings``) and ``results/ehrlich.json`` aggregates
whatever exists.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from designer.objectives.ehrlich import Ehrlich

SETTINGS = {
    "L32": {"num_states": 32, "dim": 32, "num_motifs": 4, "motif_length": 4, "quantization": 4},
    "L128": {"num_states": 32, "dim": 128, "num_motifs": 4, "motif_length": 4, "quantization": 4},
}


class Exhausted(Exception):
    """The oracle budget is spent."""


@dataclass
class Oracle:
    """Counts calls to ``f`` and keeps the best-so-far trace; refuses calls beyond ``budget``."""

    f: Ehrlich
    budget: int
    calls: int = 0
    best: float = -math.inf
    trace: list = field(default_factory=list)  # (calls, best) at each improvement
    solved_at: int | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``n x L`` states -> ``n`` values (only the affordable prefix is scored; raises when none is)."""
        left = self.budget - self.calls
        if left <= 0:
            raise Exhausted
        x = x[:left]
        y = torch.as_tensor(self.f(x), dtype=torch.float64).reshape(-1)
        for k, v in enumerate(y.tolist()):
            if v > self.best:
                self.best = v
                self.trace.append((self.calls + k + 1, v))
                if v >= 1.0 and self.solved_at is None:
                    self.solved_at = self.calls + k + 1
        self.calls += len(y)
        return y

    def best_at(self, calls: int) -> float:
        vals = [b for c, b in self.trace if c <= calls]
        return vals[-1] if vals else -math.inf


# --------------------------------------------------------------------------- baselines


def hill_climb(f: Ehrlich, budget: int, seed: int) -> Oracle:
    """Single-site random mutations from ``f.initial_solution``; a mutant replaces the parent when not worse."""
    oracle = Oracle(f, budget)
    gen = torch.Generator().manual_seed(seed)
    x = f.initial_solution(1, seed=seed)[:1].clone()
    fx = float(oracle(x)[0])
    L, v = x.shape[1], f.num_states
    try:
        while oracle.solved_at is None:
            y = x.clone()
            pos = int(torch.randint(L, (1,), generator=gen))
            y[0, pos] = int(torch.randint(v, (1,), generator=gen))
            fy = float(oracle(y)[0])
            if fy >= fx:
                x, fx = y, fy
    except Exhausted:
        pass
    return oracle


def genetic_algorithm(f: Ehrlich, budget: int, seed: int) -> Oracle | None:
    """pytorch-holo's tuned DiscreteEvolution (None when holo is not installed)."""
    try:
        from holo.optim import DiscreteEvolution  # noqa: F401
    except ImportError:
        return None
    import os

    os.environ.setdefault("WANDB_MODE", "disabled")
    from holo.optim import DiscreteEvolution

    oracle = Oracle(f, budget)
    L = f.dim
    x0 = f.initial_solution(64, seed=seed)
    torch.manual_seed(seed)

    def negated(x):  # DiscreteEvolution minimises; every evaluation it makes is an oracle call
        return -oracle(x)

    opt = DiscreteEvolution(x0, negated, mutation_prob=1.1 / L, recombine_prob=1.1 / L, num_particles=64,
                            survival_quantile=1 / 16, num_states=f.num_states)
    try:
        while oracle.solved_at is None:
            opt.step()
    except Exhausted:
        pass
    return oracle


# --------------------------------------------------------------------------- the sequence VAE


def train_sequence_vae(f: Ehrlich, n: int, seed: int, latent_dim: int = 32, epochs: int = 30,
                       batch_size: int = 256, beta: float = 0.1, hidden: int = 512):
    """A β-VAE over ``n`` feasible prior sequences (no oracle calls); returns the model in eval mode."""
    from designer.models.protein.plugin import ProteinPlugin
    from designer.models.vae import BetaVAE, beta_at

    torch.manual_seed(seed)
    data = f.initial_solution(n, seed=seed).long()
    plugin = ProteinPlugin(f.dim, latent_dim, hidden, 2, 256, hidden, 2, 0.0, alphabet_size=f.num_states, gap_index=None)
    model = BetaVAE(plugin, latent_dim)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    steps = max(1, n // batch_size)
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for s in range(steps):
            b = data[perm[s * batch_size:(s + 1) * batch_size]]
            out = model.loss({"tokens": b, "y": torch.zeros(len(b), 0)}, beta_at(epoch + s / steps, beta, "linear", 5.0))
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def decode(model, z: torch.Tensor) -> torch.Tensor:
    return model.plugin.to_tokens(model.decode(z.float()), constrained=False)


def random_latent(model, f: Ehrlich, budget: int, seed: int, batch: int = 1000) -> Oracle:
    oracle = Oracle(f, budget)
    gen = torch.Generator().manual_seed(seed)
    try:
        while oracle.solved_at is None:
            oracle(decode(model, torch.randn(batch, model.latent_dim, generator=gen)))
    except Exhausted:
        pass
    return oracle


def _log_objective(y: torch.Tensor, floor: float = 1e-4) -> torch.Tensor:
    """log f with infeasible (-inf) and zero values mapped below every feasible value."""
    return torch.log(torch.nan_to_num(y, neginf=0.0).clamp(min=floor))


def latent_bo(model, f: Ehrlich, budget: int, seed: int, q: int = 128, init: int = 512,
              max_fit_points: int = 1024) -> Oracle:
    """TuRBO-style latent BO on log f: GP on the best + most recent points, qLogNEI in a trust region."""
    from designer.optimize.bo import TrustRegion, propose

    oracle = Oracle(f, budget)
    gen = torch.Generator().manual_seed(seed)
    d = model.latent_dim
    box = torch.stack([-3.0 * torch.ones(d), 3.0 * torch.ones(d)]).double()
    region = TrustRegion(length=0.5, min_length=0.02, succ_tol=3, fail_tol=4)
    seen: set[bytes] = set()
    zs, ys = [], []
    try:
        z = torch.randn(init, d, generator=gen)
        x = decode(model, z)
        zs.append(z)
        ys.append(_log_objective(oracle(x)).float())
        seen.update(bytes(r) for r in x.numpy().astype(np.int8))
        r = 0
        while oracle.solved_at is None:
            Z, Y = torch.cat(zs), torch.cat(ys)
            best_before = float(Y.max())
            bounds = region.bounds(Z[int(torch.argmax(Y))].double(), box)
            zq = propose(Z, Y, box, q, None, "none", bounds=bounds, seed=seed + r, num_restarts=2, raw_samples=256,
                         max_fit_points=max_fit_points, maxiter=30)
            x = decode(model, zq)
            fresh = [i for i, row in enumerate(x.numpy().astype(np.int8)) if bytes(row) not in seen]
            if fresh:
                x, zq = x[fresh], zq[fresh]
                seen.update(bytes(row) for row in x.numpy().astype(np.int8))
                zs.append(zq.float())
                ys.append(_log_objective(oracle(x)).float())
            region.update(float(torch.cat(ys).max()) > best_before + 1e-6)
            r += 1
    except Exhausted:
        pass
    return oracle


# --------------------------------------------------------------------------- campaign


def _result(oracle: Oracle | None, minutes: float) -> dict | None:
    if oracle is None:
        return None
    return {"calls": oracle.calls, "solved_at": oracle.solved_at, "best": oracle.best,
            "best_at_1k": oracle.best_at(1000), "best_at_5k": oracle.best_at(5000),
            "trace": oracle.trace, "minutes": round(minutes, 2)}


def run_one(setting: str, seed: int, method: str, budget: int, vae_sequences: int = 10_000) -> dict | None:
    f = Ehrlich(**SETTINGS[setting], random_seed=seed)
    t = time.time()
    if method == "hill_climb":
        o = hill_climb(f, budget, seed)
    elif method == "ga":
        o = genetic_algorithm(f, budget, seed)
    else:
        model = train_sequence_vae(f, vae_sequences, seed)
        o = random_latent(model, f, budget, seed) if method == "random" else latent_bo(model, f, budget, seed)
    return _result(o, (time.time() - t) / 60)


def designer_search(f: Ehrlich, budget: int, seed: int, q: int = 64, prior_sequences: int = 10_000,
                    rank: Callable | None = None, drift: int = 64, max_per_candidate: int = 1) -> Oracle:
    """designer's sequence search: a Hamming trust region around the incumbent (``MutationSearch``).

    Transitions are learned from the same free prior sample the VAE is trained on; the search starts
    from the same initial solution as hill climbing.
    """
    from designer.optimize.local import MutationSearch, learned_transitions

    oracle = Oracle(f, budget)
    allowed = learned_transitions(f.initial_solution(prior_sequences, seed=seed).numpy(), f.num_states)
    x0 = f.initial_solution(1, seed=seed)[:1]
    try:
        y0 = float(_log_objective(oracle(x0))[0])
        search = MutationSearch(x0[0].numpy(), y0, f.num_states, allowed=allowed, seed=seed, drift=drift,
                                max_per_candidate=max_per_candidate)
        while oracle.solved_at is None:
            cands = search.ask(q, rank=rank)
            if not cands:
                break
            y = oracle(torch.as_tensor(np.stack([c.x for c in cands])))
            search.tell(cands[: len(y)], _log_objective(y).numpy())
    except Exhausted:
        pass
    return oracle
