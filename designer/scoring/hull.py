"""Formation energy and energy above the convex hull, from CHGNet energies of a reference set.

The hull of each candidate's chemical system is built with pymatgen's ``PhaseDiagram`` from the
elemental references (``references.load_elemental_references``) and the reference compounds whose
elements lie in that system (e.g. a pipeline's training crystals, single-point CHGNet). The hull
is only as good as that set: with only the training crystals (5-atom perovskites for perov_5),
competing phases are missing and stability looks easier than it is; every report says so.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import math
from pathlib import Path

from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition

from designer.resources import dataset_path
from designer.scoring.references import load_elemental_references

CAVEAT = ("energy above hull is measured against CHGNet-relaxed elemental references and the reference compounds "
          "only (for perov_5: its 5-atom perovskites); real competing phases are missing, so stability is "
          "overestimated")


class HullReference:
    """Elemental reference energies plus reference compounds (formula, energy per atom)."""

    def __init__(self, elements: dict[str, float], compounds: list[tuple[str, float]], description: str = ""):
        self.elements = dict(elements)
        self.entries = [PDEntry(Composition(el), e) for el, e in self.elements.items()]
        for formula, e in compounds:
            if math.isfinite(e):
                c = Composition(formula)
                self.entries.append(PDEntry(c, e * c.num_atoms))
        self.description = description
        self._diagram = functools.lru_cache(maxsize=512)(self._build)

    @classmethod
    def from_files(cls, compound_files: list[Path] = ()) -> "HullReference":
        """Shipped elemental references plus compounds from ``chgnet_energies.csv.gz`` files."""
        compounds = []
        for f in compound_files:
            with gzip.open(f, "rt") if str(f).endswith(".gz") else open(f) as fh:
                for row in csv.DictReader(fh):
                    compounds.append((row["formula"], float(row["energy_per_atom"])))
        names = ", ".join(Path(f).parent.name + "/" + Path(f).name for f in compound_files) or "none"
        return cls(load_elemental_references(), compounds, f"elements + {len(compounds)} compounds ({names})")

    def _build(self, chemsys: tuple[str, ...]) -> PhaseDiagram:
        keep = set(chemsys)
        entries = [e for e in self.entries if {el.symbol for el in e.composition.elements} <= keep]
        return PhaseDiagram(entries)

    def missing_elements(self, composition: Composition) -> list[str]:
        return [el.symbol for el in composition.elements if el.symbol not in self.elements]

    def formation_energy(self, composition: Composition | str, energy_per_atom: float) -> float:
        """eV/atom relative to the elemental references (NaN when one is missing)."""
        comp = Composition(composition)
        if self.missing_elements(comp) or not math.isfinite(energy_per_atom):
            return math.nan
        n = comp.num_atoms
        return energy_per_atom - sum(self.elements[el.symbol] * amt for el, amt in comp.items()) / n

    def e_above_hull(self, composition: Composition | str, energy_per_atom: float) -> float:
        """eV/atom above the hull of the composition's chemical system (negative: below it; NaN if unknown)."""
        comp = Composition(composition)
        if self.missing_elements(comp) or not math.isfinite(energy_per_atom):
            return math.nan
        pd = self._diagram(tuple(sorted(el.symbol for el in comp.elements)))
        entry = PDEntry(comp, energy_per_atom * comp.num_atoms)
        decomp, e = pd.get_decomp_and_e_above_hull(entry, allow_negative=True, check_stable=False)
        return float(e)


def default_hull_files(training_paths: list) -> list[Path]:
    """Reference-compound energy tables: a ``chgnet_energies.csv.gz`` beside any of the training inputs,
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
