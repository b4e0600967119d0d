"""CHGNet single-point energies and relaxations (the pretrained weights ship inside the chgnet wheel).

``single_point`` -> energy per atom, largest force and stress; ``relax`` -> relaxed structure,
its energy per atom, the energy drop and the largest residual force. CPU by default.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import warnings

import numpy as np
from pymatgen.core import Structure

MODEL_VERSION = "0.3.0"


@functools.lru_cache(maxsize=1)
def load_model():
    """The pretrained CHGNet (``MODEL_VERSION``) from the installed wheel; no download."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        from chgnet.model import CHGNet

        return CHGNet.load(model_name=MODEL_VERSION, use_device="cpu", verbose=False)


def single_point(structures: list[Structure], batch_size: int = 32) -> list[dict]:
    """Per structure ``{"energy_per_atom" (eV), "max_force" (eV/A), "max_stress" (GPa)}``; NaN where CHGNet fails.

    In this process; ``per_structure.checks_and_single_points`` fans batches out over workers.
    """
    model = load_model()
    out: list[dict] = []
    for start in range(0, len(structures), batch_size):
        chunk = structures[start:start + batch_size]
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                preds = model.predict_structure(chunk, task="efs", batch_size=batch_size)
            preds = preds if isinstance(preds, list) else [preds]
        except Exception:  # one bad structure must not sink the batch: score one by one
            preds = []
            for s in chunk:
                try:
                    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                        warnings.simplefilter("ignore")
                        preds.append(model.predict_structure(s, task="efs"))
                except Exception:
                    preds.append(None)
        for p in preds:
            if p is None:
                out.append({"energy_per_atom": math.nan, "max_force": math.nan, "max_stress": math.nan})
                continue
            out.append({"energy_per_atom": float(np.asarray(p["e"]).reshape(-1)[0]),
                        "max_force": float(np.linalg.norm(np.asarray(p["f"]), axis=-1).max()),
                        "max_stress": float(np.abs(np.asarray(p["s"])).max())})
    return out


def relax(structure: Structure, steps: int = 200, fmax: float = 0.1, relax_cell: bool = True) -> dict:
    """Relax with CHGNet's ``StructOptimizer`` (FIRE, FrechetCellFilter), at most ``steps`` steps.

    Returns ``{"relaxed": Structure | None, "relaxed_energy_per_atom", "initial_energy_per_atom",
    "energy_drop" (initial - relaxed, eV/atom), "residual_max_force", "relax_steps", "relax_converged",
    "relax_error"}``.
    """
    from chgnet.model import StructOptimizer

    n = len(structure)
    out = {"relaxed": None, "relaxed_energy_per_atom": math.nan, "initial_energy_per_atom": math.nan,
           "energy_drop": math.nan, "residual_max_force": math.nan, "relax_steps": 0, "relax_converged": False,
           "relax_error": ""}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            opt = StructOptimizer(model=load_model(), optimizer_class="FIRE", use_device="cpu")
            res = opt.relax(structure, fmax=fmax, steps=steps, relax_cell=relax_cell, verbose=False)
        traj = res["trajectory"]
        forces = np.asarray(traj.forces[-1])
        out.update(relaxed=res["final_structure"],
                   initial_energy_per_atom=float(traj.energies[0]) / n,
                   relaxed_energy_per_atom=float(traj.energies[-1]) / n,
                   residual_max_force=float(np.linalg.norm(forces, axis=-1).max()),
                   relax_steps=len(traj.energies) - 1)
        out["energy_drop"] = out["initial_energy_per_atom"] - out["relaxed_energy_per_atom"]
        out["relax_converged"] = bool(out["residual_max_force"] <= fmax)
    except Exception as exc:
        out["relax_error"] = f"{type(exc).__name__}: {exc}"[:200]
    return out


def package_version() -> str:
    """The installed chgnet package version (pinned in pyproject: its wheel carries the weights used)."""
    from importlib.metadata import version

    return version("chgnet")
