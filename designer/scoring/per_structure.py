"""The per-structure part of the crystal scorecard: identity, symmetry, geometry, charge balance and
CHGNet's single point, one structure (or one batch) at a time. This is what scoring's worker
processes run, so the module imports little (no hull, no metrics suite): a spawned worker starts
with pymatgen, SMACT and, once it loads the model, torch and CHGNet.
"""

from __future__ import annotations

from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from designer.parallel import model_pool_map
from designer.scoring.chgnet_energy import load_model, single_point
from designer.scoring.crystal_checks import charge_balance, geometry


def spacegroup(structure: Structure, symprec: float = 0.1) -> tuple[str, int]:
    try:
        sga = SpacegroupAnalyzer(structure, symprec=symprec)
        return sga.get_space_group_symbol(), int(sga.get_space_group_number())
    except Exception:
        return "", 0


def structure_checks(args: tuple[Structure, float]) -> dict:
    """``(structure, symprec)`` -> identity, symmetry, geometry and charge-balance columns (a worker's unit)."""
    s, symprec = args
    row = {"formula": s.composition.reduced_formula, "num_atoms": len(s)}
    row["spacegroup"], row["spacegroup_number"] = spacegroup(s, symprec)
    row.update(geometry(s))
    row.update(charge_balance(s))
    return row


def _checks_then_single_points(args: tuple[list[Structure], float]) -> list[dict]:
    """A batch's checks, then CHGNet single points of those whose geometry passes (a worker's unit)."""
    batch, symprec = args
    rows = [structure_checks((s, symprec)) for s in batch]
    ok = [i for i, r in enumerate(rows) if r["geometry_ok"]]
    for i, e in zip(ok, single_point([batch[i] for i in ok], batch_size=max(1, len(batch)))):
        rows[i].update(e)
    return rows


def checks_and_single_points(structures: list[Structure], symprec: float = 0.1, jobs: int = 1,
                             batch_size: int = 32) -> list[dict]:
    """``structure_checks`` of every structure plus CHGNet's single point where the geometry passes,
    in batches of ``batch_size`` over ``jobs`` processes of one pool (``designer.parallel.model_pool_map``:
    each loads CHGNet once); one pool for both, so the checks pay no second start-up."""
    batches = [structures[i:i + batch_size] for i in range(0, len(structures), batch_size)]
    parts = model_pool_map(_checks_then_single_points, [(b, symprec) for b in batches], n_jobs=jobs,
                           init=load_model)
    return [row for part in parts for row in part]
