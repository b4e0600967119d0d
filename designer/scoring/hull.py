"""Formation energy, energy above the convex hull, decomposition and hull coverage.

The hull of each candidate's chemical system is a pymatgen ``PhaseDiagram`` built from:

* the elemental references (``references.load_elemental_references``);
* the frozen competing-phase set (``competing_phases``: binary oxides, nitrides, fluorides,
  sulfides, halides, ... in their usual prototypes, and MP-20's known training phases), all
  relaxed with CHGNet;
* optionally the user's training crystals (``chgnet_energies.csv.gz`` beside the training files).

All energies, references and candidates alike, pass once through ``energy_convention.apply``.
Each evaluation says which phases the candidate would fall apart into (``decomposition``) and
whether the system is covered (``hull_coverage``): ``complete`` when every element has a
reference and every lower-order subsystem of two or more elements holds at least one reference
compound (a binary system, whose lower-order subsystems are its elements, needs a reference
compound of its own besides the one judged), ``partial`` otherwise. A partial hull never calls a candidate stable (``stable`` is None).
"""

from __future__ import annotations

import csv
import functools
import gzip
import itertools
import math
from pathlib import Path

from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition

from designer.resources import dataset_path
from designer.scoring import energy_convention
from designer.scoring.competing_phases import PHASES_FILE, frozen_hash, read_rows
from designer.scoring.elemental import load_elemental_references

STABLE = 0.1  # eV/atom above the hull still called stable (metastable but often synthesisable)
CAVEAT = ("energy above hull is measured with CHGNet against its relaxed elemental references and a frozen set of "
          "competing phases: binary oxides, nitrides, fluorides, sulfides, halides, hydrides, chalcogenides, "
          "phosphides and carbides in common prototypes at smact's common oxidation states; CsCl cells for every "
          "metal pair and L1_2, AlB2 and Laves cells and perovskite and K2NiF4 oxides for the pairs of "
          "MP-20's training crystals; and 847 known MP-20 phases. Missing: other polymorphs and structure types "
          "(e.g. spinels, scheelites, pentoxides such as Ta2O5 unless MP-20 has them), mixed-valence binaries (e.g. Fe3O4), ternary "
          "non-oxides and most quaternaries, so energies above hull lean low; a system marked partial is not judged")


_FROM_FILES: dict[tuple, "HullReference"] = {}  # HullReference.from_files, by the files' identity


class HullReference:
    """Reference phases (formula, energy per atom, name) and the hulls of their chemical systems.

    Args:
        elements: element symbol -> CHGNet energy per atom of its reference state.
        compounds: ``(formula, energy_per_atom, name)`` of reference phases (elements allowed:
            an elemental crystal below the reference state replaces it).
        convention: ``energy_convention`` name applied to every energy.
    """

    def __init__(self, elements: dict[str, float], compounds: list[tuple[str, float, str]], description: str = "",
                 convention: str = energy_convention.CONVENTION):
        self.convention = convention
        self.entries: list[PDEntry] = []
        for el, e in elements.items():
            if math.isfinite(e):
                self.entries.append(PDEntry(Composition(el), e, name=f"{el} (reference state)"))
        for formula, e, name in compounds:
            if not math.isfinite(e):
                continue
            c = Composition(formula)
            e = energy_convention.apply(c, e, convention)
            if math.isfinite(e):
                self.entries.append(PDEntry(c, e * c.num_atoms, name=name))
        self._systems = [frozenset(el.symbol for el in e.composition.elements) for e in self.entries]
        self.elements = {}
        for sys_, e in zip(self._systems, self.entries):
            if len(sys_) == 1:
                (el,) = sys_
                self.elements[el] = min(self.elements.get(el, math.inf), e.energy_per_atom)
        self.compound_systems: dict[frozenset, set[str]] = {}  # system -> reduced formulas of its compounds
        for sys_, e in zip(self._systems, self.entries):
            if len(sys_) > 1:
                self.compound_systems.setdefault(sys_, set()).add(e.composition.reduced_formula)
        self.description = description
        self._diagram = functools.lru_cache(maxsize=1024)(self._build)

    @classmethod
    def from_files(cls, compound_files: list[Path] = (), phases: Path | None = PHASES_FILE) -> "HullReference":
        """Shipped elemental references, the frozen competing phases (``phases``; None: leave them out) and
        compounds from ``chgnet_energies.csv.gz`` files (e.g. the training crystals).

        Remembered per process by the files' paths, sizes and modification times (the last 4), so
        scoring again in a notebook or a test does not re-read 17k phases; treat the result as read-only."""
        files = [Path(f) for f in compound_files] + ([Path(phases)] if phases is not None else [])
        try:
            key = tuple((str(f.resolve()), st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()]) \
                + ((phases is None),)
        except OSError:  # a missing file: read as before (which names it or leaves it out)
            return cls._read_files(compound_files, phases)
        if key not in _FROM_FILES:
            _FROM_FILES[key] = cls._read_files(compound_files, phases)
            while len(_FROM_FILES) > 4:
                _FROM_FILES.pop(next(iter(_FROM_FILES)))
        return _FROM_FILES[key]

    @classmethod
    def _read_files(cls, compound_files, phases) -> "HullReference":
        compounds: list[tuple[str, float, str]] = []
        parts = []
        if phases is not None and Path(phases).exists():
            rows = read_rows(phases)
            for r in rows:
                e = float(r["energy_per_atom"]) if r.get("energy_per_atom") not in ("", None) else math.nan
                label = f"{r['reduced_formula'] or r['formula']} ({r['prototype'] or r['id']})"
                compounds.append((r["formula"], e, label))
            parts.append(f"{len(rows)} competing phases (sha256 {frozen_hash(phases)[:12]})")
        for f in compound_files:
            n = 0
            with gzip.open(f, "rt") if str(f).endswith(".gz") else open(f) as fh:
                for row in csv.DictReader(fh):
                    compounds.append((row["formula"], float(row["energy_per_atom"]), f"{row['formula']} (training {row['id']})"))
                    n += 1
            parts.append(f"{n} training compounds ({Path(f).parent.name}/{Path(f).name})")
        return cls(load_elemental_references(), compounds, "elements + " + (" + ".join(parts) or "nothing else"))

    def _build(self, chemsys: tuple[str, ...], exclude: str = "") -> PhaseDiagram:
        keep = set(chemsys)
        entries = [e for s, e in zip(self._systems, self.entries)  # elements stay: they are the hull's corners
                   if s <= keep and not (exclude and len(s) > 1 and e.composition.reduced_formula == exclude)]
        return PhaseDiagram(entries)

    def missing_elements(self, composition: Composition) -> list[str]:
        return [el.symbol for el in composition.elements if el.symbol not in self.elements]

    def coverage(self, composition: Composition | str, exclude_formula: str = "") -> str:
        """``complete`` when each element has a reference and every lower-order subsystem with two or
        more elements holds a reference compound; a binary also needs a compound of its own system other
        than ``exclude_formula`` (its lower-order subsystems are only its elements). Else ``partial``."""
        comp = Composition(composition)
        symbols = sorted(el.symbol for el in comp.elements)
        if self.missing_elements(comp):
            return "partial"
        for k in range(2, len(symbols)):
            for sub in itertools.combinations(symbols, k):
                if frozenset(sub) not in self.compound_systems:
                    return "partial"
        if len(symbols) == 2 and not self.compound_systems.get(frozenset(symbols), set()) - {exclude_formula}:
            return "partial"
        return "complete"

    def formation_energy(self, composition: Composition | str, energy_per_atom: float) -> float:
        """eV/atom relative to the elemental references (NaN when one is missing)."""
        comp = Composition(composition)
        if self.missing_elements(comp) or not math.isfinite(energy_per_atom):
            return math.nan
        return self._formation(comp, energy_convention.apply(comp, energy_per_atom, self.convention))

    def _formation(self, comp: Composition, energy_per_atom: float) -> float:
        """Formation energy of an energy already on the hull's convention."""
        return energy_per_atom - sum(self.elements[el.symbol] * amt for el, amt in comp.items()) / comp.num_atoms

    def evaluate(self, composition: Composition | str, energy_per_atom: float, exclude_formula: str = "") -> dict:
        """``formation_energy``, ``e_above_hull`` (negative: below the hull), ``decomposition`` (the phases the
        composition falls apart into, with fractions), ``hull_coverage`` and ``stable`` (None on a partial hull).

        ``exclude_formula``: leave this reduced formula (all its polymorphs) out of the hull; an element's
        reference states always stay.
        """
        comp = Composition(composition)
        out = {"formation_energy": math.nan, "e_above_hull": math.nan, "decomposition": "",
               "hull_coverage": self.coverage(comp, exclude_formula), "stable": None}
        if self.missing_elements(comp) or not math.isfinite(energy_per_atom):
            return out
        e = energy_convention.apply(comp, energy_per_atom, self.convention)
        if not math.isfinite(e):
            return out
        out["formation_energy"] = self._formation(comp, e)
        pd = self._diagram(tuple(sorted(el.symbol for el in comp.elements)), exclude_formula)
        decomp, e_hull = pd.get_decomp_and_e_above_hull(PDEntry(comp, e * comp.num_atoms), allow_negative=True,
                                                        check_stable=False)
        out["e_above_hull"] = float(e_hull)
        parts = sorted(decomp.items(), key=lambda kv: -kv[1])
        out["decomposition"] = " + ".join(f"{amt:.2f} {entry.name}" for entry, amt in parts)
        if out["hull_coverage"] == "complete":
            out["stable"] = bool(e_hull <= STABLE)
        return out

    def e_above_hull(self, composition: Composition | str, energy_per_atom: float) -> float:
        """eV/atom above the hull of the composition's chemical system (negative: below it; NaN if unknown)."""
        return self.evaluate(composition, energy_per_atom)["e_above_hull"]


def compare_conventions(elements: dict[str, float], rows: list[tuple]) -> dict:
    """Formation-energy MAE against a reference under each ``energy_convention``.

    Args:
        elements: element -> model energy per atom of its reference state.
        rows: ``(composition, model energy per atom, reference formation energy per atom)``.

    Returns ``{convention: {"formation_energy_mae", "n"}, "better": the lower one}``.
    """
    out: dict = {}
    for conv in energy_convention.CONVENTIONS:
        h = HullReference(elements, [], convention=conv)  # the same elemental references
        errs = []
        for comp, e, ref in rows:
            ef = h.formation_energy(comp, e) if math.isfinite(e) else math.nan
            if math.isfinite(ef) and math.isfinite(ref):
                errs.append(abs(ef - ref))
        out[conv] = {"formation_energy_mae": sum(errs) / len(errs) if errs else None, "n": len(errs)}
    maes = {k: v["formation_energy_mae"] for k, v in out.items() if v["formation_energy_mae"] is not None}
    out["better"] = min(maes, key=maes.get) if maes else None
    return out


def default_hull_files(training_paths: list) -> list[Path]:
    """Training-compound energy tables: a ``chgnet_energies.csv.gz`` beside any of the training inputs,
    else the shipped perov_5 table (package data)."""
    files: list[Path] = []
    for p in training_paths:
        f = Path(p).parent / "chgnet_energies.csv.gz"
        if f.exists() and f not in files:
            files.append(f)
    shipped = dataset_path("perov_5", "chgnet_energies.csv.gz")
    if not files and shipped.exists():
        files.append(shipped)
    return files
