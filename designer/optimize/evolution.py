"""A genetic algorithm over discrete sequences: pytorch-holo's ``DiscreteEvolution``, ported step for step.

holo (``holo.optim.DiscreteEvolution``, v0.0.5) is the tuned GA baseline of the Ehrlich paper
(Stanton et al. 2024). It pins numpy < 2 and does not install on Python >= 3.13, so it cannot live
in this project's environment; this port reproduces its generations draw for draw from torch's
global random stream (checked against a trajectory recorded with holo itself:
``scripts/holo_ga_reference.py`` and ``tests/data/holo_ga_trajectory.json``).

One generation, as holo's ``step``:

1. score every particle (``num_particles`` oracle calls; lower loss is better);
2. particles whose loss is at most the ``survival_quantile`` quantile survive (all of them when
   that quantile is infinite, i.e. most are infeasible);
3. each missing particle is a uniform crossover of two random survivors (a site comes from the
   first parent with probability ``recombine_prob``);
4. every particle, survivors included, has each site replaced by a uniform random state with
   probability ``mutation_prob``.

The first generation is ``num_particles`` copies of the starting sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor


@dataclass
class DiscreteEvolution:
    """The population of holo's GA (see the module docstring).

    Args:
        x0: ``L`` starting sequence (integer states).
        num_states: alphabet size ``v``; mutations draw uniformly from ``0..v-1``.
        num_particles: population size.
        survival_quantile: fraction of the population kept each generation (at least two particles).
        mutation_prob: per-site mutation probability (holo's tuned value for Ehrlich: ``1.1 / L``).
        recombine_prob: per-site probability of taking the first parent's state in a crossover.
        dtype: float dtype holo keeps particles in (it changes the random draws, so keep the default
            to reproduce a holo run made with float32 parameters).

    Example:
        >>> ga = DiscreteEvolution(x0, num_states=32, num_particles=64, survival_quantile=1 / 16,
        ...                        mutation_prob=1.1 / 128, recombine_prob=1.1 / 128)
        >>> for _ in range(100):
        ...     loss = ga.step(lambda x: -f(x))   # x: num_particles x L int64; loss: num_particles
    """

    x0: Tensor
    num_states: int
    num_particles: int = 128
    survival_quantile: float = 0.5
    mutation_prob: float = 0.2
    recombine_prob: float = 0.5
    dtype: torch.dtype = torch.float32
    particles: Tensor = field(init=False)
    best_x: Tensor | None = field(init=False, default=None)

    def __post_init__(self):
        if not 0.0 < self.mutation_prob < 1.0:
            raise ValueError(f"mutation_prob must be in (0, 1), got {self.mutation_prob}")
        if not 0.0 <= self.recombine_prob < 1.0:
            raise ValueError(f"recombine_prob must be in [0, 1), got {self.recombine_prob}")
        if self.num_particles < 1:
            raise ValueError(f"num_particles must be positive, got {self.num_particles}")
        if not 0.0 < self.survival_quantile < 1.0:
            raise ValueError(f"survival_quantile must be in (0, 1), got {self.survival_quantile}")
        if self.survival_quantile * self.num_particles < 2:
            raise ValueError("survival_quantile * num_particles must keep at least two particles")
        x0 = torch.as_tensor(self.x0).reshape(-1).to(self.dtype)
        self.particles = x0.repeat(self.num_particles, 1)

    def step(self, loss_fn: Callable[[Tensor], Tensor]) -> Tensor:
        """Score the population with ``loss_fn`` (``n x L`` int64 -> ``n`` losses), then breed the next one.

        Returns:
            The generation's lowest loss (a 0-d tensor); ``best_x`` holds its sequence (``L`` int64).
        """
        loss = torch.as_tensor(loss_fn(self.particles.long())).reshape(-1)
        arg = torch.argmin(loss)
        self.best_x = self.particles[arg].long().clone()
        threshold = torch.quantile(loss, self.survival_quantile)
        surviving = loss <= threshold if threshold < float("inf") else torch.ones_like(loss, dtype=torch.bool)
        survivors = self.particles[surviving]
        missing = self.num_particles - survivors.size(0)
        parent_1 = torch.randint(0, survivors.size(0), (missing,))
        parent_2 = torch.randint(0, survivors.size(0), (missing,))
        take_first = torch.rand_like(survivors[parent_1]) < self.recombine_prob
        self.particles[~surviving] = torch.where(take_first, survivors[parent_1], survivors[parent_2])
        mutate = torch.rand_like(self.particles) < self.mutation_prob
        states = torch.randint(self.num_states, self.particles.shape, dtype=self.particles.dtype,
                               device=self.particles.device)
        self.particles = torch.where(mutate, states, self.particles)
        return loss[arg]
