"""Check that ``designer.objectives.ehrlich.Ehrlich`` agrees with holo's reference implementation.

Run in a virtual environment that has ``pytorch-holo`` installed (it pins numpy<2, so not the
project venv), e.g.::

    python3 -m venv /tmp/holovenv
    /tmp/holovenv/bin/pip install pytorch-holo 'numpy<2' torch
    WANDB_MODE=disabled /tmp/holovenv/bin/python scripts/ehrlich_agreement.py

For each configuration and seed it builds holo's ``Ehrlich`` and ours with the same arguments,
compares the instances (transition matrix, motifs, spacings, initial and optimal solutions) and
scores the same sequences with both: holo's initial solutions, random feasible walks, uniformly
random (mostly infeasible) sequences, the optimal solution and point mutants of it. It also checks
``Ehrlich.from_parameters`` built from holo's instance parameters and the ``negate`` path. Prints a
JSON summary; exits 1 on any disagreement.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "disabled")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from holo.test_functions.closed_form import Ehrlich as HoloEhrlich  # noqa: E402

from designer.objectives.ehrlich import Ehrlich  # noqa: E402

ATOL = 1e-6  # holo computes in float32, we in float64
SEEDS = (0, 1, 2, 3)
REQUIRED = [
    dict(num_states=32, dim=32, num_motifs=4, motif_length=4, quantization=4),
    dict(num_states=32, dim=128, num_motifs=4, motif_length=4, quantization=4),
]
EXTRA = [  # other quantisations / sizes / epistasis, for extra confidence
    dict(num_states=32, dim=32, num_motifs=2, motif_length=4, quantization=2),
    dict(num_states=20, dim=64, num_motifs=2, motif_length=6, quantization=3),
    dict(num_states=8, dim=24, num_motifs=3, motif_length=3),  # quantization=None
    dict(num_states=32, dim=64, num_motifs=2, motif_length=4, quantization=4, epistasis_factor=0.5),
]


def random_feasible_walks(support: np.ndarray, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Walks with a uniform first state and uniform allowed next states (not the DMP prior)."""
    out = np.zeros((n, length), dtype=np.int64)
    out[:, 0] = rng.integers(support.shape[0], size=n)
    for t in range(1, length):
        for i in range(n):
            out[i, t] = rng.choice(np.flatnonzero(support[out[i, t - 1]]))
    return out


def mutants(opt: np.ndarray, support: np.ndarray, n: int, rng: np.random.Generator, feasible: bool) -> np.ndarray:
    """``n`` copies of ``opt`` with 1-3 point mutations (kept feasible when ``feasible``)."""
    v, length = support.shape[0], opt.shape[0]
    out = np.repeat(opt[None], n, axis=0)
    for i in range(n):
        for pos in rng.choice(length, size=rng.integers(1, 4), replace=False):
            ok = np.ones(v, dtype=bool)
            if feasible:
                if pos > 0:
                    ok &= support[out[i, pos - 1]]
                if pos < length - 1:
                    ok &= support[:, out[i, pos + 1]]
            ok[out[i, pos]] = False
            if ok.any():
                out[i, pos] = rng.choice(np.flatnonzero(ok))
    return out


def compare(ref: torch.Tensor, ours: torch.Tensor) -> tuple[float, bool]:
    """(max |diff| over entries finite in both, whether the non-finite entries match exactly)."""
    ref = ref.double()
    ours = ours.double()
    fin = torch.isfinite(ref) & torch.isfinite(ours)
    same_inf = bool(torch.equal(torch.isfinite(ref), torch.isfinite(ours)) and torch.equal(ref[~fin], ours[~fin]))
    diff = float((ref[fin] - ours[fin]).abs().max()) if fin.any() else 0.0
    return diff, same_inf


def check(config: dict, seed: int) -> dict:
    holo = HoloEhrlich(**config, random_seed=seed)
    ours = Ehrlich(**config, random_seed=seed)
    support = (holo.transition_matrix > 0).numpy()
    rng = np.random.default_rng(1000 + seed)
    length = config["dim"]

    h_init = holo.initial_solution(n=32)
    h_opt = holo.optimal_solution()
    opt = h_opt.numpy()
    groups = {
        "holo_initial": h_init.numpy(),
        "random_feasible": random_feasible_walks(support, 32, length, rng),
        "random_uniform": holo.random_solution(n=32).numpy(),
        "optimal": opt[None],
        "mutant_feasible": mutants(opt, support, 64, rng, feasible=True),
        "mutant_any": mutants(opt, support, 32, rng, feasible=False),
    }
    x = torch.as_tensor(np.concatenate(list(groups.values())))

    ref = holo.evaluate_true(x).detach()
    val = ours(x)
    diff, same_inf = compare(ref, val)
    feas_ref = ref > -float("inf")
    feas_ours = ours.is_feasible(x)

    fp = Ehrlich.from_parameters(
        holo.transition_matrix,
        holo.motifs,
        holo.spacings,
        dim=length,
        initial_dist=holo.initial_dist,
        quantization=holo._quantization,
        epistasis_factor=holo._epistasis_factor,
        random_seed=seed,
    )
    fp_diff, fp_same_inf = compare(ref, fp(x))

    holo.negate = True  # BoTorch applies negate in forward(); avoids rebuilding holo's instance
    ours_neg = Ehrlich(**config, random_seed=seed, negate=True)
    neg_diff, neg_same_inf = compare(holo(x, noise=False).detach(), ours_neg(x))
    holo.negate = False

    same_instance = {
        "transition_matrix": bool(torch.equal(holo.transition_matrix, ours.transition_matrix)),
        "motifs": [m.tolist() for m in holo.motifs] == [m.tolist() for m in ours.motifs],
        "spacings": [s.tolist() for s in holo.spacings] == [s.tolist() for s in ours.spacings],
        "initial_solution": bool(torch.equal(h_init, ours.initial_solution(32))),
        "optimal_solution": bool(torch.equal(h_opt, ours.optimal_solution())),
    }
    per_group = {}
    start = 0
    for name, arr in groups.items():
        sl = slice(start, start + len(arr))
        r = ref[sl].double()
        per_group[name] = {
            "n": len(arr),
            "n_feasible": int(feas_ref[sl].sum()),
            "mean_f_feasible": round(float(r[torch.isfinite(r)].mean()), 4) if torch.isfinite(r).any() else None,
        }
        start += len(arr)
    ok = (
        all(same_instance.values())
        and diff <= ATOL
        and same_inf
        and bool(torch.equal(feas_ref, feas_ours))
        and fp_diff <= ATOL
        and fp_same_inf
        and neg_diff <= ATOL
        and neg_same_inf
    )
    return {
        "seed": seed,
        "ok": ok,
        "n_sequences": int(x.shape[0]),
        "n_feasible": int(feas_ref.sum()),
        "n_distinct_values": int(torch.unique(ref[torch.isfinite(ref)]).numel()),
        "max_abs_diff": diff,
        "infeasible_values_agree": same_inf,
        "feasibility_agree": bool(torch.equal(feas_ref, feas_ours)),
        "from_parameters_max_abs_diff": fp_diff,
        "negate_max_abs_diff": neg_diff,
        "negate_infeasible_agree": neg_same_inf,
        "same_instance": same_instance,
        "groups": per_group,
    }


def main() -> int:
    from importlib.metadata import version

    warnings.filterwarnings("ignore", category=UserWarning)
    # holo checks ergodicity with ~(v-1)^2 small matmuls; with several intra-op threads on a busy
    # machine each one can stall for ~15 ms (a minute per run), single-threaded they take microseconds
    torch.set_num_threads(1)
    torch.manual_seed(0)  # holo's random_solution draws from the global RNG
    summary = {
        "torch": torch.__version__,
        "pytorch-holo": version("pytorch-holo"),
        "atol": ATOL,
        "configs": [],
    }
    all_ok = True
    for required, configs in ((True, REQUIRED), (False, EXTRA)):
        for config in configs:
            results = [check(config, seed) for seed in SEEDS]
            ok = all(r["ok"] for r in results)
            all_ok &= ok
            summary["configs"].append(
                {
                    "config": config,
                    "required": required,
                    "ok": ok,
                    "n_sequences": sum(r["n_sequences"] for r in results),
                    "n_feasible": sum(r["n_feasible"] for r in results),
                    "max_abs_diff": max(r["max_abs_diff"] for r in results),
                    "feasibility_agree": all(r["feasibility_agree"] for r in results),
                    "identical_instances": all(all(r["same_instance"].values()) for r in results),
                    "per_seed": results if required else None,
                }
            )
    summary["ok"] = all_ok
    summary["n_sequences"] = sum(c["n_sequences"] for c in summary["configs"])
    summary["max_abs_diff"] = max(c["max_abs_diff"] for c in summary["configs"])
    print(json.dumps(summary, indent=1))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
