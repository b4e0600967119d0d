"""The competing-phase reference set: built once with CHGNet, frozen, shipped compressed.

Tiers, built in this order (``python -m designer.scoring.references build``):

* **a** each element's reference state (``references.build_elemental_references``; shipped
  separately as ``elemental_references.json``, and any elemental crystal below adds to it);
* **b** binary oxides, nitrides, fluorides and sulfides at smact's common oxidation states, in the
  prototypes of ``prototypes.PROTOTYPES`` (except the large ones);
* **d** the known phases of MP-20's first 847 training rows (``datasets/mp_20_subset/train``),
  which bring ternaries; only their structures are used, never MP's energies;
* **i** intermetallics: a CsCl-type AB cell for every pair of the vocabulary's metals and metalloids
  (pairs that share a perov_5 or MP-20 training crystal first), then Cu3Au-type A3B and AB3 cells for
  the pairs that share an MP-20 training crystal (a real intermetallic of another type, e.g. a Laves
  phase, can be missed);
* **c** chlorides, bromides, iodides, hydrides, selenides, tellurides, phosphides and carbides;
* **b+** the large prototypes (bixbyite) of the tier-b anions;
* **i2** AlB2-type and C15 Laves AB2 cells, both ways round, for the metal pairs that share an MP-20
  training crystal;
* **e** ternary oxides of the same pairs, both ways round, at smact's common oxidation states:
  cubic perovskite ABO3, K2NiF4-type A2BO4 and spinel AB2O4.

Every structure is relaxed with CHGNet (FIRE, cell and positions). The build appends one JSON line
per structure to a progress file and so resumes where it stopped; ``freeze`` merges the progress
into ``designer/data_files/competing_phases.csv.gz`` (written to a temp file, then renamed) and
records its SHA-256, row counts and build time in ``competing_phases.meta.json``. Energies are
CHGNet's own (the convention is applied in ``hull``, once, to references and candidates alike).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import time
from pathlib import Path
from typing import Callable, Iterator

from designer.resources import data_file

PHASES_FILE = data_file("competing_phases.csv.gz")
META_FILE = data_file("competing_phases.meta.json")
COLUMNS = ["id", "tier", "source", "formula", "reduced_formula", "prototype", "num_atoms", "energy_per_atom",
           "initial_energy_per_atom", "residual_max_force", "relax_steps", "spacegroup", "structure"]
TIER_ORDER = ("a", "b", "d", "i", "c", "b+", "i2", "e")
RELAX_STEPS, FMAX = 200, 0.05


def vocabulary() -> list[str]:
    """Elements of perov_5, carbon_24 and mp_20_subset (the shipped copies), sorted by atomic number."""
    from pymatgen.core import Element

    from designer.resources import dataset_path

    symbols = {"C"}  # carbon_24
    for name, files in (("perov_5", ("dev_train.csv.gz", "val.csv.gz", "test.csv.gz")),
                        ("mp_20_subset", ("train.csv.gz", "val.csv.gz"))):
        for f in files:
            for els in element_sets(dataset_path(name, f)):
                symbols |= els
    return sorted(symbols, key=lambda s: Element(s).Z)


def element_sets(path) -> list[set[str]]:
    """The element symbols of each crystal of a shipped CSV: from its formula column (perov_5 ``formula``,
    MP-20 ``pretty_formula``), which the datasets derive from the structures, else from the parsed CIFs.
    Reading a formula costs microseconds; parsing the CIF, milliseconds (18k perov_5 crystals: a minute)."""
    import pandas as pd
    from pymatgen.core import Composition, Element

    from designer.data.crystal_dataset import load_records

    frame = pd.read_csv(path, usecols=lambda c: c in ("formula", "pretty_formula"))
    column = next((c for c in ("formula", "pretty_formula") if c in frame.columns), None)
    if column is None or frame[column].isna().any():
        return [{Element.from_Z(int(z)).symbol for z in rec.atomic_numbers} for rec in load_records(path, [])]
    return [{e.symbol for e in Composition(f).elements} for f in frame[column]]


def intermetallic_elements(symbols: list[str]) -> list[str]:
    """The vocabulary's metals and metalloids that are no tier-b/c anion (sorted by atomic number)."""
    from pymatgen.core import Element

    from designer.scoring.prototypes import ANIONS_B, ANIONS_C

    return [s for s in symbols if s not in ANIONS_B and s not in ANIONS_C
            and (Element(s).is_metal or Element(s).is_metalloid)]


def _training_pairs(name: str, files: tuple[str, ...], metals: set[str]) -> set[tuple[str, str]]:
    """Pairs of ``metals`` that share a crystal of the shipped training files of dataset ``name``."""
    import itertools

    from pymatgen.core import Element

    from designer.resources import dataset_path

    pairs = set()
    for f in files:
        for found in element_sets(dataset_path(name, f)):
            els = found & metals
            pairs |= set(itertools.combinations(sorted(els, key=lambda s: Element(s).Z), 2))
    return pairs


def intermetallic_pairs(symbols: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(all pairs, MP-20 training pairs)`` of intermetallic elements; the first list puts the pairs
    that share a perov_5 (dev_train, val) or MP-20 training crystal first. Only training files are read."""
    import itertools

    from pymatgen.core import Element

    metals = intermetallic_elements(symbols)
    mp = _training_pairs("mp_20_subset", ("train.csv.gz",), set(metals))
    seen = mp | _training_pairs("perov_5", ("dev_train.csv.gz", "val.csv.gz"), set(metals))
    key = lambda p: (Element(p[0]).Z, Element(p[1]).Z)  # noqa: E731
    every = sorted(itertools.combinations(metals, 2), key=lambda p: (p not in seen, *key(p)))
    return every, sorted(mp, key=key)


def compact_structure(structure) -> str:
    """JSON text of a structure: lattice rows, species, fractional coordinates (5 decimals)."""
    return json.dumps({"lattice": [[round(float(x), 5) for x in row] for row in structure.lattice.matrix],
                       "species": [sp.symbol for sp in structure.species],
                       "frac": [[round(float(x) % 1.0, 5) for x in site.frac_coords] for site in structure]},
                      separators=(",", ":"))


def structure_from_compact(text: str):
    from pymatgen.core import Lattice, Structure

    d = json.loads(text)
    return Structure(Lattice(d["lattice"]), d["species"], d["frac"])


def tasks(tiers: tuple[str, ...] = TIER_ORDER) -> Iterator[dict]:
    """Build tasks in priority order: ``{"id", "tier", "source", "formula", "prototype", "make"}``
    where ``make()`` returns the starting structure."""
    from pymatgen.core import Element

    from designer.scoring import prototypes as P

    symbols = vocabulary()
    cations = [s for s in symbols if Element(s).is_metal or Element(s).is_metalloid or s in ("B", "C", "Si", "P", "H")]
    for tier in tiers:
        if tier == "a":  # vocabulary elements the shipped elemental references lack (e.g. the actinides)
            from designer.scoring.elemental import SKIP, _candidates, load_elemental_references

            have = load_elemental_references()
            for sym in symbols:
                if sym in have or sym in SKIP:
                    continue
                for desc, atoms, cell in _candidates(sym):
                    yield {"id": f"{sym}:{desc}", "tier": "a", "source": "element", "formula": sym, "prototype": desc,
                           "relax_cell": cell, "make": (lambda a=atoms: _from_ase(a))}
        elif tier in ("b", "c", "b+"):
            anions = P.ANIONS_C if tier == "c" else P.ANIONS_B
            anions = {a: p for a, p in anions.items() if a in symbols}
            for t in P.binary_tasks([c for c in cations if c not in anions], anions, large=tier == "b+"):
                yield {"id": t["id"], "tier": tier, "source": "prototype", "formula": t["formula"],
                       "prototype": t["prototype"],
                       "make": (lambda t=t: P.prototype_structure(t["prototype"], t["cation"], t["q"], t["anion"], t["p"]))}
        elif tier == "d":
            from designer.data.crystal_dataset import load_records
            from designer.resources import dataset_path

            for rec in load_records(dataset_path("mp_20_subset", "train.csv.gz"), []):
                s = rec.to_structure()
                yield {"id": rec.id, "tier": "d", "source": "mp_20_subset/train", "formula": s.composition.formula.replace(" ", ""),
                       "prototype": "", "make": (lambda s=s: s)}
        elif tier == "i":
            every, mp_pairs = intermetallic_pairs(symbols)
            for a, b in every:
                yield {"id": f"{a}{b}:CsCl", "tier": "i", "source": "prototype", "formula": f"{a}{b}", "prototype": "CsCl",
                       "make": (lambda a=a, b=b: P.intermetallic_structure(a, b, "CsCl"))}
            for a, b in mp_pairs:
                for x, y in ((a, b), (b, a)):
                    yield {"id": f"{x}3{y}:L12", "tier": "i", "source": "prototype", "formula": f"{x}3{y}",
                           "prototype": "L12", "make": (lambda x=x, y=y: P.intermetallic_structure(x, y, "L12"))}
        elif tier == "i2":
            _, mp_pairs = intermetallic_pairs(symbols)
            for a, b in mp_pairs:
                for x, y in ((a, b), (b, a)):
                    for proto in ("AlB2", "C15"):
                        yield {"id": f"{x}{y}2:{proto}", "tier": "i2", "source": "prototype", "formula": f"{x}{y}2",
                               "prototype": proto, "make": (lambda x=x, y=y, proto=proto: P.intermetallic_structure(x, y, proto))}
        elif tier == "e":
            _, mp_pairs = intermetallic_pairs(symbols)
            for t in P.ternary_tasks(mp_pairs, {"O": -2}):
                yield {"id": t["id"], "tier": "e", "source": "prototype", "formula": t["formula"], "prototype": t["prototype"],
                       "make": (lambda t=t: P.ternary_structure(t["prototype"], t["a"], t["qa"], t["b"], t["qb"], t["x"], t["p"]))}
        else:
            raise ValueError(f"unknown tier {tier!r}; known: {TIER_ORDER}")


def _from_ase(atoms):
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(atoms)


def relax_task(task: dict) -> dict:
    """Relax one task's structure with CHGNet; a row of ``COLUMNS`` (energy NaN when it fails)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from designer.scoring.chgnet_energy import relax

    s = task["make"]()
    r = relax(s, steps=RELAX_STEPS, fmax=FMAX, relax_cell=task.get("relax_cell", True))
    final = r["relaxed"] if r["relaxed"] is not None else s
    try:
        sg = SpacegroupAnalyzer(final, symprec=0.1).get_space_group_symbol()
    except Exception:
        sg = ""
    return {"id": task["id"], "tier": task["tier"], "source": task["source"], "formula": task["formula"],
            "reduced_formula": final.composition.reduced_formula, "prototype": task["prototype"], "num_atoms": len(final),
            "energy_per_atom": r["relaxed_energy_per_atom"], "initial_energy_per_atom": r["initial_energy_per_atom"],
            "residual_max_force": r["residual_max_force"], "relax_steps": r["relax_steps"], "spacegroup": sg,
            "structure": compact_structure(final)}


def read_rows(path: Path) -> list[dict]:
    """Rows of a frozen set (``.csv.gz``) or a progress file (``.jsonl``); [] if it does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def build(progress: Path, tiers: tuple[str, ...] = TIER_ORDER, budget_minutes: float = 240.0,
          frozen: Path = PHASES_FILE, log: Callable[[str], None] = print, freeze_every: int = 0) -> int:
    """Relax every task not yet in ``frozen`` or ``progress``, appending each result to ``progress``.

    Stops after ``budget_minutes`` (the next call resumes); ``freeze_every`` > 0 freezes after every
    that many structures, so partial sets can be committed. Returns the number of structures relaxed.
    """
    progress = Path(progress)
    progress.parent.mkdir(parents=True, exist_ok=True)
    done = {r["id"] for r in read_rows(frozen)} | {r["id"] for r in read_rows(progress)}
    start, n = time.time(), 0
    with open(progress, "a") as out:
        for task in tasks(tiers):
            if task["id"] in done:
                continue
            if n and (time.time() - start) / 60 > budget_minutes:
                log(f"budget of {budget_minutes} min spent; rerun to resume")
                break
            t0 = time.time()
            try:
                row = relax_task(task)
            except Exception as exc:  # a prototype that cannot be built is recorded, not retried forever
                row = {c: "" for c in COLUMNS} | {"id": task["id"], "tier": task["tier"], "source": task["source"],
                                                   "formula": task["formula"], "prototype": task["prototype"],
                                                   "energy_per_atom": float("nan"),
                                                   "spacegroup": f"failed: {type(exc).__name__}"}
            row["seconds"] = round(time.time() - t0, 2)
            out.write(json.dumps(row) + "\n")
            out.flush()
            done.add(task["id"])
            n += 1
            if freeze_every and n % freeze_every == 0:
                freeze(progress, frozen)
            log(f"[{task['tier']}] {task['id']}: {row['energy_per_atom']} eV/atom ({row['seconds']} s)")
    return n


def freeze(progress: Path, frozen: Path = PHASES_FILE, meta: Path = META_FILE) -> dict:
    """Merge ``progress`` into the frozen set; write it atomically with its SHA-256 in ``meta``."""
    rows = {r["id"]: r for r in read_rows(frozen)}
    seconds = float(json.loads(Path(meta).read_text()).get("build_cpu_seconds", 0.0)) if Path(meta).exists() else 0.0
    for r in read_rows(progress):
        if r["id"] not in rows:
            seconds += float(r.get("seconds") or 0.0)
            rows[r["id"]] = r
    order = {t: i for i, t in enumerate(TIER_ORDER)}
    ordered = sorted(rows.values(), key=lambda r: (order.get(r["tier"], 99), r["id"]))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(ordered)
    data = gzip.compress(buf.getvalue().encode(), mtime=0)
    tmp = Path(frozen).with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(frozen)
    from designer.scoring.chgnet_energy import MODEL_VERSION, package_version

    counts: dict[str, int] = {}
    for r in ordered:
        if r.get("energy_per_atom") not in ("", None) and str(r["energy_per_atom"]) != "nan":
            counts[r["tier"]] = counts.get(r["tier"], 0) + 1
    doc = {"file": Path(frozen).name, "sha256": hashlib.sha256(data).hexdigest(), "rows": len(ordered),
           "relaxed_by_tier": counts, "model": f"CHGNet {MODEL_VERSION} (chgnet {package_version()})",
           "relaxation": f"FIRE, cell and positions, at most {RELAX_STEPS} steps, fmax {FMAX} eV/A",
           "build_cpu_seconds": round(seconds, 1)}
    from designer.io.atomic import atomic_write_text

    atomic_write_text(Path(meta), json.dumps(doc, indent=1) + "\n")
    return doc


def frozen_hash(path: Path = PHASES_FILE) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).exists() else ""
