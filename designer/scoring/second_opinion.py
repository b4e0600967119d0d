"""SevenNet-0 as a second opinion on the stability call (its weights ship in the ``sevenn`` wheel).

Same geometry, another model: SevenNet-0 (Park et al., J. Chem. Theory Comput. 2024; trained, like
CHGNet, on MPtrj) gives single-point energies on the CHGNet-relaxed structures of every reference
phase, and on a candidate's structure. A hull built from them gives a second energy above hull
without a second relaxation. Where the two models disagree on a call, the call rests on one model's
error and is flagged.

Its energy convention is measured, as CHGNet's was, on mp_20_subset/train only (the frozen set's
tier-d rows): formation-energy MAE against MP as predicted and with MP2020 corrections added; the
better one is recorded with the energies and used by ``load_hull`` (SevenNet-0 learned MPtrj's
uncorrected energies, CHGNet its corrected ones, so the two can differ).

``python -m designer.scoring.references second-opinion`` computes the reference energies once and
ships them as ``sevennet_energies.csv.gz``, tied to the frozen competing-phase set by its SHA-256;
an elemental reference's structure is rebuilt from its shipped description and relaxed with CHGNet
as the shipped energy was. Optional: ``pip install 'designer[sevenn]'``; without it nothing here is
imported and the scorecard has no second-opinion column.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import hashlib
import importlib.util
import io
import json
import math
import time
import warnings
from pathlib import Path
from typing import Callable

from pymatgen.core import Composition, Structure

from designer.io.atomic import atomic_write_text
from designer.resources import data_file
from designer.scoring.competing_phases import PHASES_FILE, frozen_hash, read_rows, structure_from_compact
from designer.scoring.elemental import ELEMENTS_FILE

MODEL = "7net-0"  # SevenNet-0 (11 Jul 2024), shipped in the sevenn wheel
ENERGIES_FILE = data_file("sevennet_energies.csv.gz")
META_FILE = data_file("sevennet_energies.meta.json")
DISAGREE = "CHGNet and SevenNet-0 disagree on stability"


def available() -> bool:
    """Whether ``sevenn`` is installed (the optional ``sevenn`` extra)."""
    return importlib.util.find_spec("sevenn") is not None


@functools.lru_cache(maxsize=2)
def load_calculator(device: str = "cpu"):
    """The SevenNet-0 ASE calculator from the installed wheel (no download)."""
    if not available():
        raise RuntimeError("SevenNet-0 second opinion: sevenn is not installed; run pip install 'designer[sevenn]'")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator(MODEL, device=device)


def single_point(structures: list[Structure], device: str = "cpu") -> list[float]:
    """SevenNet-0 energy per atom (eV) of each structure; NaN where it fails."""
    from pymatgen.io.ase import AseAtomsAdaptor

    calc = load_calculator(device)
    out = []
    for s in structures:
        try:
            atoms = AseAtomsAdaptor.get_atoms(s)
            atoms.calc = calc
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(float(atoms.get_potential_energy()) / len(atoms))
        except Exception:
            out.append(math.nan)
    return out


def element_structures(log: Callable[[str], None] = print) -> dict[str, Structure]:
    """Each shipped elemental reference's structure: rebuilt from its description, relaxed with CHGNet
    as ``references.build_elemental_references`` relaxed it."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from designer.scoring.chgnet_energy import relax
    from designer.scoring.elemental import _candidates

    out = {}
    for sym, ref in json.loads(ELEMENTS_FILE.read_text())["elements"].items():
        for desc, atoms, cell in _candidates(sym):
            if desc == ref["structure"]:
                r = relax(AseAtomsAdaptor.get_structure(atoms), steps=300, fmax=0.05, relax_cell=cell)
                if r["relaxed"] is not None:
                    out[sym] = r["relaxed"]
                break
        else:
            log(f"{sym}: no starting structure named {ref['structure']!r}")
    return out


def build(out: Path = ENERGIES_FILE, meta: Path = META_FILE, phases: Path = PHASES_FILE,
          log: Callable[[str], None] = print) -> dict:
    """SevenNet-0 energies of the elemental references and of every row of the frozen set ``phases``."""
    t = time.time()
    rows = []
    elements = element_structures(log)
    for sym, e in zip(elements, single_point(list(elements.values()))):
        rows.append({"id": f"element:{sym}", "formula": sym, "energy_per_atom": e})
    log(f"{len(elements)} elements")
    frozen = [r for r in read_rows(phases) if r.get("structure")]
    for k in range(0, len(frozen), 200):
        chunk = frozen[k:k + 200]
        for r, e in zip(chunk, single_point([structure_from_compact(r["structure"]) for r in chunk])):
            rows.append({"id": r["id"], "formula": r["formula"], "energy_per_atom": e})
        log(f"{min(k + 200, len(frozen))}/{len(frozen)} reference phases")
    convention = _convention_on_train(rows, {r["id"]: r["tier"] for r in frozen})
    log(f"convention on mp_20_subset/train: {convention}")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "formula", "energy_per_atom"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "energy_per_atom": f"{r['energy_per_atom']:.6f}"})
    data = gzip.compress(buf.getvalue().encode(), mtime=0)
    tmp = Path(out).with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    from importlib.metadata import version

    doc = {"file": Path(out).name, "sha256": hashlib.sha256(data).hexdigest(), "rows": len(rows),
           "model": f"SevenNet-0 ({MODEL}, sevenn {version('sevenn')})",
           "geometry": "CHGNet-relaxed structures of the frozen set; elements rebuilt and relaxed with CHGNet",
           "competing_phases_sha256": frozen_hash(phases), "convention": convention,
           "cpu_seconds": round(time.time() - t, 1)}
    atomic_write_text(Path(meta), json.dumps(doc, indent=1) + "\n")
    return doc


def _convention_on_train(rows: list[dict], tiers: dict[str, str]) -> dict:
    """``hull.compare_conventions`` on the frozen set's mp_20_subset/train rows (tier d), with MP's formation
    energies of those rows; ``used`` is the better convention."""
    from designer.data.crystal_dataset import load_records
    from designer.resources import dataset_path
    from designer.scoring.hull import compare_conventions

    mp = {rec.id: rec.properties["formation_energy_per_atom"]
          for rec in load_records(dataset_path("mp_20_subset", "train.csv.gz"), ["formation_energy_per_atom"])}
    elements = {r["formula"]: r["energy_per_atom"] for r in rows if r["id"].startswith("element:")}
    pairs = [(Composition(r["formula"]), r["energy_per_atom"], mp[r["id"]]) for r in rows
             if tiers.get(r["id"]) == "d" and r["id"] in mp]
    out = compare_conventions(elements, pairs)
    out["used"] = out["better"]
    return out


@functools.lru_cache(maxsize=2)
def load_hull(path: Path = ENERGIES_FILE, meta: Path = META_FILE, phases: Path = PHASES_FILE):
    """A ``HullReference`` of SevenNet-0 energies on the shipped reference geometries.

    Raises ``RuntimeError`` (one line, with the fix) when the energies are missing or belong to
    another frozen set than ``phases``.
    """
    from designer.scoring.hull import HullReference

    fix = "run python -m designer.scoring.references second-opinion"
    if not Path(path).exists() or not Path(meta).exists():
        raise RuntimeError(f"SevenNet-0 second opinion: {Path(path).name} is missing; {fix}")
    doc = json.loads(Path(meta).read_text())
    want = doc.get("competing_phases_sha256", "")
    if want != frozen_hash(phases):
        raise RuntimeError(f"SevenNet-0 second opinion: {Path(path).name} was computed for competing phases "
                           f"{want[:12]}, not {frozen_hash(phases)[:12]}; {fix}")
    elements, compounds = {}, []
    names = {r["id"]: f"{r['reduced_formula'] or r['formula']} ({r['prototype'] or r['id']})" for r in read_rows(phases)}
    with gzip.open(path, "rt", newline="") as fh:
        for r in csv.DictReader(fh):
            e = float(r["energy_per_atom"])
            if r["id"].startswith("element:"):
                elements[r["formula"]] = e
            else:
                compounds.append((r["formula"], e, names.get(r["id"], r["id"])))
    convention = (doc.get("convention") or {}).get("used") or "chgnet"
    return HullReference(elements, compounds, f"SevenNet-0 ({convention} convention): elements + "
                         f"{len(compounds)} competing phases", convention=convention)


class SecondOpinion:
    """SevenNet-0 energy above hull for scorecard rows: ``e_above_hull_sevennet`` beside CHGNet's.

    Args:
        hull: SevenNet-0 ``HullReference`` (default: ``load_hull()``).
        device: where SevenNet-0 runs.
    """

    def __init__(self, hull=None, device: str = "cpu"):
        self.hull = hull if hull is not None else load_hull()
        self.device = device

    def score(self, structures: list[Structure]) -> list[dict]:
        """Per structure ``{"energy_per_atom_sevennet", "e_above_hull_sevennet"}`` (NaN where unknown)."""
        out = []
        for s, e in zip(structures, single_point(structures, self.device)):
            ev = self.hull.evaluate(s.composition, e)
            out.append({"energy_per_atom_sevennet": e, "e_above_hull_sevennet": ev["e_above_hull"]})
        return out
