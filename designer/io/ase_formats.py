"""Crystals in ASE's file formats: extended XYZ (MatterGen's ``generated_crystals.extxyz``), VASP
POSCAR / CONTCAR / ``*.vasp`` and ASE databases (``.db``), read with ``ase.io`` / ``ase.db`` and
converted with pymatgen's ``AseAtomsAdaptor``; candidates written as extended XYZ.

A structure without a periodic cell (a molecule, or an XYZ file without a ``Lattice``) is refused
with one line naming the file and frame: designer models crystals.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from designer.errors import DataError
from designer.io.atomic import atomic_write

ASE_SUFFIXES = (".extxyz", ".xyz", ".vasp", ".db")
VASP_NAMES = ("POSCAR", "CONTCAR")


def is_ase_file(path: str | os.PathLike) -> bool:
    """True for the file names this module reads (by suffix; POSCAR / CONTCAR by name, any case)."""
    p = Path(path)
    return p.suffix.lower() in ASE_SUFFIXES or p.name.upper().startswith(VASP_NAMES)


def is_atoms(obj) -> bool:
    try:
        from ase import Atoms
    except ImportError:  # pragma: no cover - ase is a core dependency
        return False
    return isinstance(obj, Atoms)


def structure_from_atoms(atoms, where: str):
    """A pymatgen ``Structure`` of a periodic ``ase.Atoms``; one-line ``DataError`` for a molecule."""
    from pymatgen.io.ase import AseAtomsAdaptor

    pbc = np.asarray(atoms.get_pbc(), dtype=bool)
    cell = np.asarray(atoms.get_cell(), dtype=float)
    if not pbc.all() or not np.isfinite(cell).all() or abs(float(np.linalg.det(cell))) < 1e-8:
        what = "has no cell" if not cell.any() else "is not periodic in all three directions" if not pbc.all() \
            else "has a degenerate cell"
        raise DataError(f"{where}: the structure {what} (a molecule?); designer models crystals: give a periodic "
                        "cell (extxyz: a Lattice=\"...\" with pbc=\"T T T\"; ASE: atoms.cell and atoms.pbc)")
    if len(atoms) == 0:
        raise DataError(f"{where}: the structure has no atoms; fix or drop it")
    s = AseAtomsAdaptor.get_structure(atoms)
    return s.remove_site_property("magmom") if "magmom" in s.site_properties else s


def _frames(path: Path) -> list[tuple[str, object, dict]]:
    """``[(id, Atoms, info)]`` of every frame or database row of ``path``."""
    import ase.io

    if path.suffix.lower() == ".db":
        from ase.db import connect

        try:
            with connect(str(path), type="db") as db:
                rows = list(db.select())
                return [(str(r.get("name") or r.get("material_id") or f"{path.stem}_{r.id}"), r.toatoms(),
                         dict(r.key_value_pairs)) for r in rows]
        except Exception as exc:
            raise DataError(f"{path}: not a readable ASE database ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:160]})") from None
    fmt = "vasp" if path.suffix.lower() == ".vasp" or path.name.upper().startswith(VASP_NAMES) else None
    try:
        frames = ase.io.read(str(path), index=":", format=fmt)
    except Exception as exc:  # ase raises many kinds on malformed text
        kind = "VASP POSCAR" if fmt else "extended XYZ"
        raise DataError(f"{path}: cannot read it as {kind} ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:160]})") from None
    if not isinstance(frames, list):
        frames = [frames]
    out = []
    for k, atoms in enumerate(frames):
        info = dict(atoms.info)
        rid = info.get("id") or info.get("material_id") or info.get("name")
        out.append((str(rid) if rid is not None else path.stem if len(frames) == 1 else f"{path.stem}_{k}", atoms, info))
    return out


def read_ase_structures(path: str | os.PathLike) -> list[tuple[str, object, dict]]:
    """``[(id, Structure, info)]`` of every frame of an ASE-readable file (``info``: its scalar
    key-value pairs, e.g. labels). One-line ``DataError`` for an empty, unreadable or non-periodic input."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    frames = _frames(path)
    if not frames:
        raise DataError(f"{path}: no structures in the file")
    out = []
    for k, (rid, atoms, info) in enumerate(frames):
        where = f"{path} (frame {k + 1})" if len(frames) > 1 else str(path)
        out.append((rid, structure_from_atoms(atoms, where), info))
    return out


def label_of(info: dict, name: str, where: str) -> float:
    """A property ``name`` from an ASE ``info`` dict: NaN when absent (unlabelled), else a finite number."""
    if name not in info:
        return math.nan
    try:
        value = float(info[name])
    except (TypeError, ValueError):
        raise DataError(f"{where}: property {name!r} is {info[name]!r}, not a number; fix the value") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: property {name!r} is {value}; give a finite number or leave it out")
    return value


def write_extxyz(structures: list, infos: list[dict], path: str | os.PathLike) -> None:
    """Write ``structures`` (pymatgen) as one extended-XYZ file, each frame's ``info`` holding the
    scalar entries of its dict (scores, predictions); written to a temporary file, then renamed."""
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    frames = []
    for s, info in zip(structures, infos):
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.info = {k: _plain(v) for k, v in info.items() if _plain(v) is not None}
        frames.append(atoms)
    with atomic_write(path, "w") as f:
        ase.io.write(f, frames, format="extxyz")


def _plain(v):
    """A value extxyz can hold in ``info`` (str, int, float, bool), else None; NaN is left out."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, str):
        return v if v and "\n" not in v and '"' not in v else None
    return None
