"""Run pytorch-holo's own ``DiscreteEvolution`` on Ehrlich functions: the reference for designer's GA port.

holo pins numpy < 2 (and does not install on Python >= 3.13), so it is never installed into the
project's environment. Run this in a virtual environment of its own::

    python3 -m venv /tmp/holovenv
    /tmp/holovenv/bin/pip install pytorch-holo torch
    /tmp/holovenv/bin/python scripts/holo_ga_reference.py trajectory --out tests/data/holo_ga_trajectory.json
    /tmp/holovenv/bin/python scripts/holo_ga_reference.py solve --setting L128 --seeds 1001-1016

The Ehrlich instances come from ``designer.objectives.ehrlich`` (imported from this checkout; it
needs only numpy and torch), which builds holo's instances draw for draw
(``scripts/ehrlich_agreement.py``). The optimiser is set up as in the Ehrlich paper's tuned
baseline (holo-bench ``scripts/benchmark_optimizer.py``): one float32 parameter holding
``initial_solution()``, 64 particles, survival quantile 1/16, mutation and recombination probability
1.1/L, ``torch.manual_seed(seed)`` before the first step, and a closure returning ``-f`` of every
particle (every particle is one oracle call).

``trajectory`` records, per generation, the lowest loss, the number of survivors and the whole
population after a few generations: ``tests/test_holo_ga_port.py`` checks that
``designer.optimize.evolution.DiscreteEvolution`` reproduces it exactly. ``solve`` prints the oracle
calls each seed needs to reach f = 1 within a budget, for comparison with
``designer benchmark ehrlich --methods ga``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from holo.optim import DiscreteEvolution  # noqa: E402

from designer.objectives.ehrlich import Ehrlich  # noqa: E402

SETTINGS = {
    "L32": {"num_states": 32, "dim": 32, "num_motifs": 4, "motif_length": 4, "quantization": 4},
    "L128": {"num_states": 32, "dim": 128, "num_motifs": 4, "motif_length": 4, "quantization": 4},
}


def holo_run(setting: str, seed: int, steps: int, keep_population_at: tuple[int, ...] = ()):
    """Yield (step, lowest loss, survivors, population or None) for ``steps`` generations of holo's GA."""
    f = Ehrlich(**SETTINGS[setting], random_seed=seed)
    L = f.dim
    torch.manual_seed(seed)
    param = torch.nn.Parameter(f.initial_solution()[0].float())
    opt = DiscreteEvolution([param], vocab=list(range(f.num_states)), mutation_prob=1.1 / L,
                            recombine_prob=1.1 / L, num_particles=64, survival_quantile=1 / 16)

    def closure(particles):
        return -torch.as_tensor(f(particles[0].long()), dtype=torch.float64)

    for t in range(steps):
        loss = opt.step(closure)
        pl = opt.particle_loss
        threshold = torch.quantile(pl, 1 / 16)
        survivors = int((pl <= threshold).sum()) if threshold < float("inf") else len(pl)
        population = None
        if t + 1 in keep_population_at:
            population = opt.state[param]["particles"].long().tolist()
        yield t + 1, float(loss), survivors, population


def trajectory(args) -> None:
    runs = []
    for setting, seed in (("L32", 1001), ("L128", 1003)):
        rows, populations = [], {}
        for t, loss, survivors, pop in holo_run(setting, seed, args.steps, keep_population_at=(1, 5, args.steps)):
            rows.append([t, loss, survivors])
            if pop is not None:
                populations[str(t)] = pop
        runs.append({"setting": setting, "seed": seed, "steps": rows, "populations_after_step": populations})
    out = {"holo": "pytorch-holo 0.0.5, holo.optim.DiscreteEvolution", "torch": torch.__version__,
           "settings": {k: SETTINGS[k] for k in ("L32", "L128")}, "optimizer": {
               "num_particles": 64, "survival_quantile": 1 / 16, "mutation_prob": "1.1/L",
               "recombine_prob": "1.1/L", "param_dtype": "float32"}, "runs": runs}
    path = Path(args.out)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, separators=(",", ":")))
    tmp.replace(path)
    print(f"wrote {path}")


def solve(args) -> None:
    a, b = (int(x) for x in args.seeds.split("-"))
    results = {}
    for seed in range(a, b + 1):
        solved = None
        for t, loss, _, _ in holo_run(args.setting, seed, args.budget // 64):
            if loss <= -1.0:
                solved = t * 64
                break
        results[seed] = solved
        print(f"{args.setting} seed {seed}: solved at {solved}", flush=True)
    print(json.dumps({"setting": args.setting, "budget": args.budget, "solved_at": results}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("trajectory", help="record holo's generations for the port's test")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--out", default="tests/data/holo_ga_trajectory.json")
    p.set_defaults(func=trajectory)
    p = sub.add_parser("solve", help="oracle calls to solve per seed")
    p.add_argument("--setting", default="L128", choices=sorted(SETTINGS))
    p.add_argument("--seeds", default="1001-1016")
    p.add_argument("--budget", type=int, default=200_000)
    p.set_defaults(func=solve)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
