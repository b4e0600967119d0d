"""designer's GA is holo's DiscreteEvolution: same generations, draw for draw, as a run recorded with holo itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from designer.benchmarks.ehrlich import SETTINGS, genetic_algorithm
from designer.objectives.ehrlich import Ehrlich
from designer.optimize.evolution import DiscreteEvolution

RECORD = json.loads((Path(__file__).parents[1] / "data" / "holo_ga_trajectory.json").read_text())


@pytest.mark.parametrize("run", RECORD["runs"], ids=lambda r: f"{r['setting']}-{r['seed']}")
def test_port_reproduces_holos_recorded_generations(run):
    f = Ehrlich(**SETTINGS[run["setting"]], random_seed=run["seed"])
    L = f.dim
    torch.manual_seed(run["seed"])
    ga = DiscreteEvolution(f.initial_solution()[0], f.num_states, num_particles=64, survival_quantile=1 / 16,
                           mutation_prob=1.1 / L, recombine_prob=1.1 / L)
    for t, loss, survivors in run["steps"]:
        got = ga.step(lambda x: -torch.as_tensor(f(x), dtype=torch.float64))
        assert float(got) == loss, f"generation {t}"
        if str(t) in run["populations_after_step"]:
            assert ga.particles.long().tolist() == run["populations_after_step"][str(t)], f"population after {t}"
    # the recorded run improved on its start: the population really evolves (holo with vocab=[[...]] did not)
    assert min(loss for _, loss, _ in run["steps"]) < run["steps"][0][1]


def test_mutations_draw_every_state_not_only_the_first():
    torch.manual_seed(0)
    ga = DiscreteEvolution(torch.zeros(64, dtype=torch.long), num_states=32, num_particles=64, survival_quantile=0.5,
                           mutation_prob=0.5, recombine_prob=0.5)
    ga.step(lambda x: torch.zeros(len(x)))
    assert len(torch.unique(ga.particles)) == 32


def test_benchmark_ga_improves_on_the_start_and_counts_every_particle():
    f = Ehrlich(**SETTINGS["L32"], random_seed=1001)
    oracle = genetic_algorithm(f, budget=64 * 60, seed=1001)
    assert oracle.calls == 64 * 60
    assert oracle.trace[-1][1] > oracle.trace[0][1]


@pytest.mark.parametrize("bad", [dict(mutation_prob=0.0), dict(recombine_prob=1.0), dict(survival_quantile=1 / 64)])
def test_settings_holo_refuses_are_refused(bad):
    kw = dict(num_particles=64, survival_quantile=1 / 16, mutation_prob=0.1, recombine_prob=0.1) | bad
    with pytest.raises(ValueError):
        DiscreteEvolution(torch.zeros(8, dtype=torch.long), 4, **kw)
