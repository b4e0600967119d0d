"""Write crystals as CIF files and tables as CSV, atomically."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Iterable

from pymatgen.io.cif import CifWriter

from designer.io.atomic import atomic_write, atomic_write_text


def safe_name(name: str) -> str:
    """A file-name-safe version of an id (letters, digits, ``-_.``)."""
    out = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._")
    return out or "item"


def structure_to_cif(structure, symprec: float | None = None) -> str:
    return str(CifWriter(structure, symprec=symprec))


def write_cif(structure, path: Path, symprec: float | None = None) -> None:
    atomic_write_text(path, structure_to_cif(structure, symprec))


def write_table(rows: list[dict], path: Path, columns: Iterable[str] | None = None) -> None:
    """Write dict rows to CSV (columns: the given order, else first-seen order)."""
    cols: list[str] = list(columns) if columns else []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    with atomic_write(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
