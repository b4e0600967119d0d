"""``designer predict-structure``: k CIFs per formula, ranked by CHGNet energy, and a table.

Every formula is checked against the model (elements, atom count) before the latent pool is built,
so a typo in the tenth formula costs nothing. Files are written atomically; the table
``predictions.csv`` comes last, so a folder with a table is complete.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Callable

from pymatgen.analysis.structure_matcher import FrameworkComparator, StructureMatcher
from pymatgen.core import Composition, Element

from designer.domains.crystal.csp import DEFAULT_TEMPLATES, StructurePredictor, parse_formula, read_formulas
from designer.io.crystal_files import safe_name, write_cif, write_table
from designer.metrics import match_structures
from designer.scoring.per_structure import spacegroup

MAX_COMPARED = 200  # training crystals compared per prediction when looking for the closest one


def expand_formulas(items: list[str]) -> list[str]:
    """Formulas as given, where an item naming a ``.csv`` file stands for its ``formula`` column."""
    out = []
    for item in items:
        if item.lower().endswith(".csv"):
            out += read_formulas(Path(item))
        else:
            out.append(item)
    return out


class TrainingIndex:
    """The run's training crystals grouped by reduced and by anonymous formula (built once per command)."""

    def __init__(self, records: list):
        self.by_formula: dict[str, list] = {}
        self.by_prototype: dict[str, list] = {}
        self._structures: dict[int, object] = {}  # id(record) -> its Structure, built once when first compared
        for rec in records:
            comp = Composition({Element.from_Z(int(a)): n for a, n in Counter(rec.atomic_numbers.tolist()).items()})
            self.by_formula.setdefault(comp.reduced_formula, []).append(rec)
            self.by_prototype.setdefault(comp.anonymized_formula, []).append(rec)

    def _structure(self, rec):
        if id(rec) not in self._structures:
            self._structures[id(rec)] = rec.to_structure()
        return self._structures[id(rec)]

    def closest(self, structure, limit: int = MAX_COMPARED) -> tuple[str | None, float | None, str]:
        """``(id, rms, basis)`` of the closest training crystal.

        ``basis`` is ``"same formula"`` (DESIGN section 5's StructureMatcher against training crystals
        of the same reduced formula), ``"same prototype"`` (the same matcher ignoring species, against
        those of the same anonymous formula), or ``"none"`` when none matches either way.
        """
        if structure is None:
            return None, None, "none"
        comp = structure.composition
        best = self._best(structure, self.by_formula.get(comp.reduced_formula, [])[:limit], None)
        if best[0] is not None:
            return (*best, "same formula")
        matcher = StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3, comparator=FrameworkComparator())
        best = self._best(structure, self.by_prototype.get(comp.anonymized_formula, [])[:limit], matcher)
        return (*best, "same prototype") if best[0] is not None else (None, None, "none")

    def _best(self, structure, records: list, matcher) -> tuple[str | None, float | None]:
        best_id, best_rms = None, math.inf
        for rec in records:
            s = self._structure(rec)
            if matcher is None:
                rms = match_structures(structure, s)
            else:
                try:
                    got = matcher.get_rms_dist(structure, s)
                    rms = None if got is None else float(got[0])
                except Exception:
                    rms = None
            if rms is not None and rms < best_rms:
                best_id, best_rms = rec.id, rms
        return (best_id, best_rms) if best_id is not None else (None, None)


def predict_structure_files(run, formulas: list[str], out: Path, k: int = 20, z: int | None = None,
                            prior_draws: int = 2048, seed: int = 0, energies: bool = True,
                            templates: int = DEFAULT_TEMPLATES, log: Callable[[str], None] = print) -> str:
    """Predict ``k`` structures per formula and write ``out/<formula>/<rank>.cif`` and ``out/predictions.csv``.

    Within a formula, structures are ranked by CHGNet energy per atom (lowest first; without
    ``energies``, by the predictor's score). Returns a one-line summary.
    """
    formulas = expand_formulas(formulas)
    vocab = set(int(a) for a in run.model.plugin.atomic_numbers.tolist())
    for f in formulas:  # every formula checked before any model work
        parse_formula(f, vocab, int(run.config.data.max_atoms), z)
    log(f"building the latent pool (training latents + {prior_draws} prior draws)")
    predictor = StructurePredictor(run, prior_draws=prior_draws, seed=seed, templates=templates)
    log(f"predicting {k} structures for each of {len(formulas)} formulas")
    preds = predictor.predict_many([predictor.cells(f, z) for f in formulas], k=k)
    if energies:
        from designer.scoring.chgnet_energy import single_point

        log("CHGNet energies")
        flat = [s for p in preds for s in p.structures if s is not None]
        e = iter(single_point(flat))
        energy = [[next(e)["energy_per_atom"] if s is not None else math.nan for s in p.structures] for p in preds]
    else:
        energy = [[math.nan] * len(p.structures) for p in preds]
    rows, used = [], set()
    out = Path(out)
    index = TrainingIndex(predictor.training_records)
    for f, p, es in zip(formulas, preds, energy):
        folder = safe_name(f)
        j = 1
        while folder.lower() in used:
            j += 1
            folder = f"{safe_name(f)}_{j}"
        used.add(folder.lower())
        order = sorted(range(len(p.structures)),
                       key=lambda i: (math.isnan(es[i]) if energies else False, es[i] if energies and not math.isnan(es[i])
                                      else 0.0, -p.scores[i]))
        for rank, i in enumerate(order, 1):
            s = p.structures[i]
            row = {"formula": f, "rank": rank, "cell": p.cells[i].formula, "atoms": p.cells[i].num_atoms}
            if s is None:
                rows.append({**row, "file": ""})
                continue
            name = f"{folder}/{rank:02d}.cif"
            write_cif(s, out / name)
            sg, sg_number = spacegroup(s)
            cid, crms, basis = index.closest(s)
            rows.append({**row, "file": name, "energy_per_atom": None if math.isnan(es[i]) else round(es[i], 5),
                         "spacegroup": sg, "spacegroup_number": sg_number,
                         "volume_per_atom": round(s.volume / len(s), 4), "log_likelihood": round(float(p.scores[i]), 4),
                         "latent_from": p.sources[i], "closest_training_id": cid,
                         "closest_training_rms": None if crms is None else round(crms, 5),
                         "closest_training_basis": basis})
    write_table(rows, out / "predictions.csv")
    written = sum(bool(r["file"]) for r in rows)
    return f"{written} structures for {len(formulas)} formulas -> {out}; table: {out / 'predictions.csv'}"
