"""Read crystals from a CDVAE-style CSV, a folder of CIF files, or one CIF file.

Every structure is checked (ordered, parsable), Niggli-reduced and its fractional coordinates
wrapped into [0, 1). Errors are one line naming the file and row.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element, Lattice, Structure
from pymatgen.io.cif import CifParser

from designer.io.text import open_text, read_text
from designer.data.cell_checks import cell_problem, cif_parameter_problem
from designer.errors import DataError, DesignerError
from designer.parallel import parallel_map

CIF_SUFFIXES = (".cif", ".mcif")


@dataclass
class CrystalRecord:
    """One crystal as read from disk (canonical Niggli cell, coordinates in [0, 1))."""

    id: str
    lattice: np.ndarray  # 3 x 3 rows = lattice vectors (Å)
    frac_coords: np.ndarray  # N x 3
    atomic_numbers: np.ndarray  # N (int)
    properties: dict[str, float] = field(default_factory=dict)
    source: str = ""  # "file:row" for messages

    @property
    def num_atoms(self) -> int:
        return len(self.atomic_numbers)

    def to_structure(self):
        return Structure(Lattice(self.lattice), [int(z) for z in self.atomic_numbers], self.frac_coords)

    @property
    def reduced_formula(self) -> str:
        """pymatgen's reduced formula, without building a Structure."""
        zs, ns = np.unique(np.asarray(self.atomic_numbers), return_counts=True)
        return _formula_of_counts(tuple(zip(zs.tolist(), ns.tolist())))


@functools.lru_cache(maxsize=65536)
def _formula_of_counts(counts: tuple) -> str:
    return Composition({Element.from_Z(z): n for z, n in counts}).reduced_formula


MIN_PAIR_DISTANCE = 0.5  # Å; CDVAE's structural validity threshold


def check_structure(structure, where: str, pairs: bool = True) -> None:
    """DataError naming ``where`` for a structure no reader may pass on: disorder, no atoms, an unknown
    element, or a cell outside the limits of ``cell_checks`` (checked before any reduction or neighbour search);
    with ``pairs``, also atoms closer than ``MIN_PAIR_DISTANCE`` (the scorecard reports those instead)."""
    if not structure.is_ordered:
        bad = next(s for s in structure if not s.is_ordered)
        raise DataError(
            f"{where}: partial occupancy / disorder at site {bad.species_string!r}; designer models "
            "ordered crystals only: order the structure (e.g. pymatgen OrderDisorderedStructureTransformation) or drop it"
        )
    if len(structure) == 0:
        raise DataError(f"{where}: the structure has no atoms; fix or drop it")
    unknown = sorted({getattr(sp, "symbol", str(sp)) for site in structure for sp in site.species
                      if not 1 <= int(getattr(sp, "Z", 0) or 0) <= 118 or type(sp).__name__ == "DummySpecies"})
    if unknown:  # pymatgen reads an unknown symbol as a dummy species with a meaningless atomic number
        raise DataError(f"{where}: unknown element {unknown[0]!r}; use real element symbols (H to Og)")
    problem = cell_problem(structure.lattice.matrix, len(structure))  # before any reduction or neighbour search
    if problem:
        raise DataError(f"{where}: {problem}; check the cell (lengths in Å, angles in degrees) or drop it")
    if not pairs:
        return
    centers, points, _, distances = structure.get_neighbor_list(MIN_PAIR_DISTANCE)  # bounded by the cell checks
    if len(distances):
        j = int(np.argmin(distances))
        a, b = structure[int(centers[j])], structure[int(points[j])]
        raise DataError(f"{where}: atoms {a.species_string} and {b.species_string} are {distances[j]:.3f} Å apart "
                        f"(less than {MIN_PAIR_DISTANCE} Å: overlapping sites, e.g. a duplicated atom or a broken "
                        "symmetry operation); fix the structure or drop it")


def canonicalize(structure, where: str):
    """Niggli-reduce ``structure`` and wrap its coordinates; raise DataError for what ``check_structure`` refuses."""
    check_structure(structure, where)
    try:
        reduced = structure.get_reduced_structure(reduction_algo="niggli")
    except Exception as exc:  # degenerate cell
        raise DataError(f"{where}: cannot Niggli-reduce the cell ({exc}); check the lattice") from None
    lattice = reduced.lattice.matrix.copy()
    frac = reduced.frac_coords.copy()
    if np.linalg.det(lattice) < 0:  # right-handed basis: flip all three vectors (same crystal, same metric)
        lattice, frac = -lattice, -frac
    frac = np.mod(frac, 1.0)
    frac[frac >= 1.0 - 1e-9] = 0.0  # -0.0 and 0.9999999999 -> 0
    return lattice, frac, np.array(reduced.atomic_numbers, dtype=np.int64)


def parse_cif_text(text: str, where: str) -> list:
    """Parse CIF text into pymatgen structures (one per data block); DataError when unusable."""
    if not text or not text.strip():
        raise DataError(f"{where}: empty CIF; fix or drop it")
    problem = cif_parameter_problem(text)
    if problem:
        raise DataError(f"{where}: {problem}; fix or drop it")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser(io.StringIO(text), occupancy_tolerance=1.0)
            structures = parser.parse_structures(primitive=False, on_error="raise")
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = "; ".join(str(w.message).splitlines()[0] for w in caught[:2])
            raise DataError(
                f"{where}: cannot parse the CIF ({reason}{'; ' + hint if hint else ''}); fix or drop it"
            ) from None
    if not structures:
        raise DataError(f"{where}: the CIF holds no structure; fix or drop it")
    dropped = [str(w.message).splitlines()[0] for w in caught if "invalid formula" in str(w.message)
               or "Cannot determine chemical composition" in str(w.message)]
    if dropped:  # pymatgen skips a site it cannot read and carries on with the rest
        raise DataError(f"{where}: a site was dropped while parsing ({dropped[0]}); fix its _atom_site_type_symbol")
    return structures


def _check_numeric(value, name: str, where: str) -> float:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: property {name!r} is {value!r}, not a number; fix the value or leave it empty") from None
    if math.isinf(out):
        raise DataError(f"{where}: property {name!r} is infinite; fix the value or leave it empty")
    return out


def parse_csv_row(args) -> CrystalRecord:
    """``(id, cif text, {property: raw value}, where)`` -> a canonical record (a worker's unit)."""
    rid, cif, raw, where = args
    structures = parse_cif_text(cif if isinstance(cif, str) else "", where)
    lattice, frac, z = canonicalize(structures[0], where)
    props = {p: _check_numeric(v, p, where) for p, v in raw.items()}
    return CrystalRecord(rid, lattice, frac, z, props, where)


def read_crystal_csv(path: Path, properties: list[str], id_column: str | None = None, jobs: int = 1) -> list[CrystalRecord]:
    """Read a CDVAE-style CSV (``cif`` column, property columns, an unnamed index column);
    ``jobs`` worker processes parse the CIFs."""
    try:
        df = pd.read_csv(open_text(path), index_col=None)
    except DesignerError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; give a CSV with a 'cif' column") from None
    except Exception as exc:
        raise DataError(f"{path}: cannot read the CSV ({' '.join(str(exc).split())}); a crystal CSV is comma-separated "
                        "with a 'cif' column") from None
    if df.empty:
        raise DataError(f"{path}: the CSV has no rows")
    if "cif" not in df.columns:
        raise DataError(f"{path}: no 'cif' column (columns: {', '.join(map(str, df.columns))}); a crystal CSV needs one")
    missing = [p for p in properties if p not in df.columns]
    if missing:
        cols = [c for c in df.columns if c not in ("cif",) and not str(c).startswith("Unnamed")]
        raise DataError(
            f"{path}: property column {missing[0]!r} not found (columns: {', '.join(map(str, cols))}); "
            "fix data.properties in the pipeline file"
        )
    if id_column is None:
        id_column = "material_id" if "material_id" in df.columns else None
    rows = []
    for row, rec in enumerate(df.to_dict("records")):
        rid = str(rec[id_column]) if id_column else str(row)
        rows.append((rid, rec["cif"], {p: rec[p] for p in properties}, f"{path}: row {row + 1} (id {rid})"))
    return parallel_map(parse_csv_row, rows, n_jobs=jobs)


def _read_properties_table(folder: Path, properties: list[str]) -> dict[str, dict[str, float]]:
    """Optional ``properties.csv`` (columns ``id`` + property names) beside a folder of CIFs."""
    table = folder / "properties.csv"
    if not properties or not table.exists():
        return {}
    try:
        df = pd.read_csv(open_text(table))
    except pd.errors.EmptyDataError:
        raise DataError(f"{table}: the file is empty; give an 'id' column and the property columns") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{table}: cannot read the CSV ({str(exc).strip().splitlines()[0]})") from None
    if "id" not in df.columns:
        raise DataError(f"{table}: needs an 'id' column naming each CIF file's stem")
    missing = [p for p in properties if p not in df.columns]
    if missing:
        raise DataError(f"{table}: property column {missing[0]!r} not found; fix data.properties in the pipeline file")
    return {
        str(r["id"]): {p: _check_numeric(r[p], p, f"{table}: id {r['id']}") for p in properties}
        for r in df.to_dict("records")
    }


def read_cif_files(paths: list[Path], properties: list[str], table: dict | None = None) -> list[CrystalRecord]:
    records = []
    table = table or {}
    for path in paths:
        text = read_text(path, lenient=True)  # gzip / UTF-16 sniffed; a Latin-1 author name does not matter
        structures = parse_cif_text(text, str(path))
        for k, s in enumerate(structures):
            rid = path.stem if len(structures) == 1 else f"{path.stem}_{k}"
            lattice, frac, z = canonicalize(s, f"{path} (block {k + 1})" if len(structures) > 1 else str(path))
            props = table.get(rid, {p: math.nan for p in properties})
            records.append(CrystalRecord(rid, lattice, frac, z, dict(props), str(path)))
    return records


def read_ase_files(paths: list[Path], properties: list[str]) -> list[CrystalRecord]:
    """Crystals of extended-XYZ, VASP (POSCAR / CONTCAR / ``*.vasp``) and ASE ``.db`` files; labels come
    from each frame's ``info`` (extxyz) or key-value pairs (db), NaN where absent."""
    from designer.io.ase_formats import label_of, read_ase_structures

    records = []
    for path in paths:
        frames = read_ase_structures(path)
        for k, (rid, s, info) in enumerate(frames):
            where = f"{path} (frame {k + 1})" if len(frames) > 1 else str(path)
            lattice, frac, z = canonicalize(s, where)
            props = {p: label_of(info, p, where) for p in properties}
            records.append(CrystalRecord(rid, lattice, frac, z, props, where))
    return records


def read_crystals(path: str | Path, properties: list[str] | None = None, jobs: int = 1) -> list[CrystalRecord]:
    """Read crystals from a CSV (``.csv``/``.csv.gz``), a folder of CIFs, one CIF file, or ASE's formats
    (``.extxyz`` / ``.xyz``, POSCAR / CONTCAR / ``*.vasp``, ``.db``; ``designer.io.ase_formats``).

    Args:
        path: the input.
        properties: property columns to read (CSV) or look up in ``properties.csv`` (folder).
            Empty cells become NaN (unlabelled rows still train the VAE).
        jobs: worker processes parsing a CSV's CIFs.

    Raises:
        DataError: one line naming the file/row and the fix.
    """
    properties = list(properties or [])
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; check the path (relative paths resolve against the pipeline file)")
    from designer.io.ase_formats import is_ase_file

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in CIF_SUFFIXES)
        others = sorted(p for p in path.iterdir() if p.is_file() and is_ase_file(p))
        if not files and not others:
            raise DataError(f"{path}: the folder holds no .cif (or .extxyz / .xyz / POSCAR / .vasp / .db) files")
        records = read_cif_files(files, properties, _read_properties_table(path, properties)) if files else []
        return records + read_ase_files(others, properties)
    name = path.name.lower()
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    if name.endswith((".csv", ".csv.gz")):
        return read_crystal_csv(path, properties, jobs=jobs)
    if name.endswith(CIF_SUFFIXES):
        return read_cif_files([path], properties)
    if is_ase_file(path):
        return read_ase_files([path], properties)
    raise DataError(f"{path}: unknown crystal file type; give a .csv/.csv.gz (with a 'cif' column), a .cif, .extxyz, "
                    ".xyz, POSCAR/CONTCAR, .vasp or ASE .db file, or a folder of them")
