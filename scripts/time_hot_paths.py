"""Time two hot paths against the formulas they replaced; writes results/hot_paths.{json,md}.

    python scripts/time_hot_paths.py

1. ``lattice_automorphisms`` (every crystal graph): the shipped row-length filter against the full
   ``einsum("nij,jk,nlk->nil")`` over all ~3.5k unimodular candidates, on cubic, hexagonal and
   triclinic cells (same operations checked).
2. The GMM plausibility's log-density in an acquisition (a 128 x 96 joint batch, 32 components in
   64 dimensions): the shipped cached inverse Cholesky factors + one einsum, against a Cholesky and
   triangular solves over the expanded batch in every call (same values checked).
3. Loading each shipped model (``load_run``): the plausibility density stored as float64 tensors, as
   shipped, against the same file with it stored as nested lists, as before (same density checked).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import tempfile

import numpy as np
import torch

from designer.data.lattice_symmetry import MAX_OPS, _candidates, lattice_automorphisms
from designer.optimize.plausibility import Plausibility
from designer.report.results import command_line, device_info, write_results
from designer.runs import SHIPPED, load_run, shipped_names
from designer.workflow.state import shipped_plausibility


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _automorphisms_before(lattice: np.ndarray, rtol: float = 2e-3) -> np.ndarray:
    g = lattice @ lattice.T
    mats = _candidates()[0]
    gm = np.einsum("nij,jk,nlk->nil", mats, g, mats)
    ops = mats[np.all(np.abs(gm - g) <= rtol * np.trace(g) / 3.0, axis=(1, 2))]
    ident = np.all(ops == np.eye(3), axis=(1, 2))
    return np.concatenate([ops[ident], ops[~ident]])[:MAX_OPS]


def _log_density_before(p: Plausibility, z: torch.Tensor) -> torch.Tensor:
    means, logw = torch.as_tensor(p.means), torch.log(torch.as_tensor(p.weights))
    d = means.shape[-1]
    chol = torch.linalg.cholesky(torch.as_tensor(p.covariances))
    diff = (z.unsqueeze(-2) - means).unsqueeze(-1)
    sol = torch.linalg.solve_triangular(chol.expand(*diff.shape[:-2], d, d), diff, upper=False).squeeze(-1)
    logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return torch.logsumexp(-0.5 * (sol ** 2).sum(-1) - 0.5 * logdet - 0.5 * d * math.log(2 * math.pi) + logw, -1)


def _model_loads(repeats: int = 5) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in shipped_names():
            payload = torch.load(SHIPPED / f"{name}.pt", weights_only=True)
            density = Plausibility.from_tensor_dict(payload["meta"]["plausibility"]["density_tensors"])
            payload["meta"]["plausibility"] = {**payload["meta"]["plausibility"], "density": density.to_dict()}
            del payload["meta"]["plausibility"]["density_tensors"]
            before = Path(tmp) / f"{name}.pt"
            torch.save(payload, before)
            old, new = load_run(before), load_run(name)
            seed = new.config.seed
            assert np.array_equal(shipped_plausibility(old, seed).means, shipped_plausibility(new, seed).means)
            out[name] = {"s_before": _median_seconds(lambda: load_run(before), repeats),
                         "s_after": _median_seconds(lambda: load_run(name), repeats)}
    return out


def main() -> None:
    rng = np.random.default_rng(0)
    lattices = {"cubic": np.eye(3) * 4.0,
                "hexagonal": np.array([[3.0, 0, 0], [-1.5, 2.598076, 0], [0, 0, 5.0]]),
                "triclinic": np.eye(3) * 3 + rng.normal(0, 0.3, (3, 3))}
    auto = {}
    for name, lat in lattices.items():
        assert np.array_equal(lattice_automorphisms(lat), _automorphisms_before(lat))
        auto[name] = {"ops": int(len(lattice_automorphisms(lat))),
                      "ms_before": 1e3 * _median_seconds(lambda: _automorphisms_before(lat), 50),
                      "ms_after": 1e3 * _median_seconds(lambda: lattice_automorphisms(lat), 50)}

    K, d = 32, 64
    a = rng.normal(size=(K, d, d))
    p = Plausibility("gmm", rng.normal(size=(K, d)), np.full(K, 1.0 / K), a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d))
    z = torch.randn(128, 96, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    diff = float((p.log_density_torch(z) - _log_density_before(p, z)).abs().max())
    gmm = {"batch": [128, 96], "components": K, "dim": d, "max_abs_difference": diff,
           "s_before": _median_seconds(lambda: _log_density_before(p, z), 3),
           "s_after": _median_seconds(lambda: p.log_density_torch(z), 3)}

    loads = _model_loads()
    res = {"benchmark": "hot_paths", "command": command_line(), "device": device_info(),
           "lattice_automorphisms": auto, "gmm_log_density": gmm, "model_load": loads}
    lines = ["# Hot paths against the formulas they replaced", "", f"Command: `{res['command']}`", "",
             "| lattice | operations | before (ms) | after (ms) |", "|---|---|---|---|"]
    lines += [f"| {k} | {v['ops']} | {v['ms_before']:.2f} | {v['ms_after']:.2f} |" for k, v in auto.items()]
    lines += ["", f"GMM log-density of a 128 x 96 joint batch ({K} components, {d} dimensions): "
              f"{gmm['s_before']:.2f} s before, {gmm['s_after']:.2f} s after (median of 3; largest difference "
              f"{diff:.1e}).", "", "Loading a shipped model (`load_run`, median of 5), density stored as lists (before) "
              "or as tensors (after):", "", "| model | before (s) | after (s) |", "|---|---|---|"]
    lines += [f"| {k} | {v['s_before']:.3f} | {v['s_after']:.3f} |" for k, v in loads.items()]
    lines += [""]
    write_results(Path("results/hot_paths.json"), res, "\n".join(lines))


if __name__ == "__main__":
    main()
