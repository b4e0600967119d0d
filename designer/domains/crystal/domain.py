"""The crystal domain: periodic structures in, CIFs out (see ``designer.domains.base.Domain``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter
from torch.utils.data import Subset
from torch_geometric.loader import DataLoader

from designer.data import ElementVocab, holdout_split, load_graph_dataset
from designer.data.crystal_dataset import load_records
from designer.data.graph_store import load_store_dataset
from designer.data.samplers import training_sampler
from designer.data.crystal_io import CIF_SUFFIXES, check_structure, parse_cif_text, read_crystals
from designer.domains.crystal.analysis import crystal_factors, lattice_constant, plot_traversals, strain_intervention
from designer.domains.base import (Decoded, Domain, KnownData, TrainingData, cached_training_latents,
                                   prediction_columns)
import designer.domains.crystal.generate as generate
from designer.domains.crystal.space import CrystalSpace, crystal_key
from designer.errors import DataError, DesignerError
from designer.io.ase_formats import ASE_SUFFIXES, VASP_NAMES, write_extxyz
from designer.io.atomic import atomic_write_text
from designer.io.crystal_files import safe_name, write_cif, write_table
from designer.io.text import read_text
from designer.metrics import StructureIndex, composition_validity, match_structures, structure_validity
from designer.models.crystal.plugin import CrystalPlugin
from designer.report.figures import interpolation
from designer.scoring.crystal_card import score_crystals
from designer.scoring.hull import CAVEAT, HullReference, default_hull_files


def _split(n: int, cfg) -> tuple[list, list]:
    if n < 2:
        raise DesignerError(f"{cfg.data.train}: {n} input(s); training needs at least 2 (one is held out)")
    return holdout_split(n, cfg.data.holdout_fraction, cfg.seed)


def structure_of(graph, atomic_numbers: torch.Tensor) -> Structure:
    """The pymatgen structure of a training graph (``atom_types`` index the run's element vocabulary)."""
    z = atomic_numbers[graph.atom_types].tolist()
    return Structure(Lattice(graph.lattice.reshape(3, 3).cpu().numpy()), [int(a) for a in z],
                     graph.frac_coords.cpu().numpy())



def _second_opinion(wanted: bool):
    """SevenNet-0 beside CHGNet (``second_opinion.SecondOpinion``) when ``wanted``; a one-line error when
    sevenn or its reference energies are missing."""
    if not wanted:
        return None
    from designer.scoring import second_opinion

    try:
        return second_opinion.SecondOpinion()
    except RuntimeError as exc:
        raise DataError(str(exc)) from None

class CrystalDomain(Domain):
    """Periodic crystals: a CDVAE-style CSV, a CIF folder or one CIF in; CIFs out."""

    name = "crystal"
    noun = "crystal"
    user_object_kinds = "pymatgen Structures or ase.Atoms"
    observation_column = "cif"
    file_suffixes = CIF_SUFFIXES + ASE_SUFFIXES  # CIF, and ASE's extxyz / xyz / vasp / db
    file_names = VASP_NAMES
    score_table_columns = ("id", "formula", "geometry_ok", "charge_neutral", "e_above_hull", "hull_coverage", "stable",
                           "novel", "reasons")
    report_columns = ("synthesis_rank", "id", "formula", "spacegroup", "objective", "e_above_hull", "stable", "novel",
                      "plausibility_percentile", "synthesis_score", "selected")

    # ------------------------------------------------------------------ data and model

    def load_training_data(self, cfg, init=None) -> TrainingData:
        d = cfg.data
        vocab = ElementVocab(tuple(init.model.plugin.atomic_numbers.tolist())) if init is not None else None
        # memory-mapped stores read by index: the training process's memory does not grow with the data
        data, vocab, counts = load_store_dataset([Path(p) for p in d.train + d.holdout], d.properties, vocab,
                                                 d.cutoff, d.max_neighbors, d.max_atoms, d.cache, d.jobs)
        if d.holdout:  # a fixed holdout file: every training row trains (the vocabulary spans both, as it
            # does when a fraction of train is held out)
            n_train = sum(counts[:len(d.train)])
            tr, ho, notes = range(n_train), range(n_train, len(data)), {"holdout": "fixed"}
        else:
            tr, ho = _split(len(data), cfg)
            notes = {}
        train, held = Subset(data, list(tr)), Subset(data, list(ho))
        return TrainingData(self.name, train, held, {"atomic_numbers": list(vocab.atomic_numbers)},
                            notes={"vocab_size": len(vocab), **notes})

    def make_loader(self, items, batch_size: int, shuffle: bool = False, seed: int = 0, drop_last: bool = False,
                    weights=None):
        sampler = training_sampler(len(items), shuffle, seed, weights)
        # its own generator: starting an epoch's iterator never draws from the global stream (resume)
        return DataLoader(items, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                          generator=torch.Generator().manual_seed(seed))

    def fit_data_scales(self, model, data: TrainingData) -> torch.Tensor:
        model.plugin.fit_scales(torch.cat([g.lattice for g in data.train]))  # train: any sequence of Data
        return torch.cat([g.y for g in data.train])

    def build_plugin(self, cfg, plugin_args: dict):
        m = cfg.model
        return CrystalPlugin(plugin_args["atomic_numbers"], cfg.data.max_atoms, m.latent_dim, m.hidden,
                             m.encoder_layers, m.feature_dim, cfg.data.cutoff, m.decoder_hidden, m.decoder_layers,
                             cfg.loss.likelihood, decoder_dropout=m.decoder_dropout, refine=m.refine,
                             refine_hidden=m.refine_hidden, refine_layers=m.refine_layers, refine_steps=m.refine_steps,
                             refine_start_sigma=m.refine_start_sigma, refine_lattice_noise=m.refine_lattice_noise,
                             refine_distance=m.refine_distance, refine_detach_z=m.refine_detach_z)

    # ------------------------------------------------------------------ generation

    def decode(self, run, z: torch.Tensor, raw: bool = False, on_batch=None, mc_samples: int = 0,
               seed: int = 0) -> Decoded:
        """Deterministic (``seed`` is unused); ``raw``: each slot's most likely element, no charge-neutral
        re-ranking."""
        dec = generate.decode_latents(run, z, on_batch=on_batch, charge_neutral=not raw, mc_samples=mc_samples)
        return Decoded(dec.structures, dec.z, dec.properties, dec.property_std)

    def write_samples(self, run, decoded: Decoded, out: Path, on_item=None) -> str:
        rows = []
        n = len(decoded.objects)
        width = len(str(n - 1))
        for i, s in enumerate(decoded.objects):
            sid = f"sample_{i:0{width}d}"
            row = {"id": sid}
            if s is not None:
                write_cif(s, out / f"{sid}.cif")
                row.update(file=f"{sid}.cif", **describe_structure(s, volume_digits=4),
                           struct_valid=structure_validity(s), comp_valid=composition_validity(s))
            else:
                row.update(file="", struct_valid=False, comp_valid=False)
            row.update(prediction_columns(run.config.data.properties, decoded.properties, None, i))
            rows.append(row)
            if on_item:
                on_item()
        write_table(rows, out / "samples.csv")
        built = [(s, row) for s, row in zip(decoded.objects, rows) if s is not None]
        write_extxyz([s for s, _ in built], [row for _, row in built], out / "samples.extxyz")
        valid = sum(bool(x.get("struct_valid")) and bool(x.get("comp_valid")) for x in rows)
        return f"{n} samples -> {out} ({valid} valid); table: {out / 'samples.csv'}"

    def predict_structure_files(self, run, formulas: list[str], out: Path, k: int = 20, z: int | None = None,
                                prior_draws: int = 2048, seed: int = 0, energies: bool = True, templates: int = 8,
                                log=print) -> str:
        from designer.domains.crystal.csp_files import predict_structure_files

        return predict_structure_files(run, formulas, out, k=k, z=z, prior_draws=prior_draws, seed=seed,
                                       energies=energies, templates=templates, log=log)

    def reconstruct_files(self, run, data: Path, out: Path, raw: bool = False, log=print, on_item=None) -> str:
        records, graphs = generate.read_for_run(run, data)
        dec = generate.reconstruct(run, graphs, charge_neutral=not raw)
        rows, used = [], set()
        for rec, s in zip(records, dec.structures):
            name = safe_name(rec.id)
            k = 1
            while name.lower() in used:  # a repeated id (or one that sanitises alike) gets its own file
                k += 1
                name = f"{safe_name(rec.id)}_{k}"
            used.add(name.lower())
            true = rec.to_structure()
            rms = match_structures(s, true)
            rows.append({"id": rec.id, "file": f"{name}.cif" if s is not None else "",
                         "formula_in": true.composition.reduced_formula,
                         "formula_out": s.composition.reduced_formula if s is not None else "",
                         "match": rms is not None, "rms_dist": None if rms is None else round(rms, 5)})
            if s is not None:
                write_cif(s, out / f"{name}.cif")
            if on_item:
                on_item()
        write_table(rows, out / "reconstruct.csv")
        matched = sum(r["match"] for r in rows)
        return f"{len(rows)} reconstructed -> {out} ({matched} match their input); table: {out / 'reconstruct.csv'}"

    # ------------------------------------------------------------------ optimiser

    def latent_space(self, run, constraints=None, seed: int = 0) -> CrystalSpace:
        return CrystalSpace(run, constraints or run.config.design.constraints)

    def known_data(self, run) -> KnownData:
        paths = _training_paths(run, "the optimiser needs it (plausibility, deduplication)")
        d = run.config.data
        records, graphs, _ = load_graph_dataset(paths, list(d.properties), generate.vocab_of(run), d.cutoff,
                                                d.max_neighbors, d.max_atoms, d.cache)  # cached graphs
        structures = [r.to_structure() for r in records]
        y = np.array([[r.properties.get(k, np.nan) for k in d.properties] for r in records], dtype=float)
        mu = cached_training_latents(run, paths, lambda: generate.encode(run, graphs)[0])
        return KnownData(mu, [crystal_key(s) for s in structures],
                         y.reshape(len(records), len(d.properties)), structures)

    def item_latent(self, run, space, item: str, where: str) -> torch.Tensor:
        p = Path(item).expanduser()
        if not p.exists():
            raise DesignerError(f"{where}: {item}: no such CIF file")
        rec = read_crystals(p, [])[0]
        return space.encode([rec.to_structure()], [f"{where}: {item}"])

    def encode_observed(self, run, items: list[str], wheres: list[str], base: Path) -> np.ndarray:
        structures, names = [], []
        for item, where in zip(items, wheres):
            p = Path(item) if Path(item).is_absolute() else base / item
            if not p.exists():
                raise DataError(f"{where}: cif {item!r}: no such file")
            try:
                structures.append(read_crystals(p, [])[0].to_structure())
            except DesignerError as exc:
                raise DataError(f"{where}: {exc}") from None
            names.append(f"{where}: cif {item}")
        return CrystalSpace(run).encode(structures, names).cpu().numpy()

    # ------------------------------------------------------------------ Python API

    def user_object(self, obj):
        """A pymatgen ``Structure``, or an ``ase.Atoms`` with a periodic cell (converted)."""
        if isinstance(obj, Structure):
            return obj
        from designer.io.ase_formats import is_atoms, structure_from_atoms

        return structure_from_atoms(obj, "an ase.Atoms object") if is_atoms(obj) else None

    def encode_objects(self, run, objects: list, names: list[str]) -> torch.Tensor:
        for s, where in zip(objects, names):
            check_structure(s, where)
        return CrystalSpace(run).encode(objects, names)

    def as_user_objects(self, run, decoded: Decoded, ids: list[str]) -> list:
        """The decoded ``Structure``s, each with its id and ``pred_<p>`` in ``structure.properties``."""
        names = run.config.data.properties
        out = []
        for i, (sid, s) in enumerate(zip(ids, decoded.objects)):
            if s is not None:
                s.properties.update({"id": sid, **prediction_columns(names, decoded.properties,
                                                                     decoded.property_std, i)})
            out.append(s)
        return out

    # ------------------------------------------------------------------ candidates

    def candidate_columns(self, run, obj, row_id: str, info: dict | None = None) -> dict:
        return {**describe_structure(obj, volume_digits=3), "file": f"{row_id}.cif"}

    def write_candidates(self, run, rows: list[dict], objects: list, out: Path, symprec: float = 0.1) -> None:
        for row, s in zip(rows, objects):
            write_cif(s, out / row["file"])
            try:
                write_cif(s, out / f"{row['id']}_sym.cif", symprec=symprec)
                row["file_symmetrised"] = f"{row['id']}_sym.cif"
            except Exception:  # symmetry analysis failed: the P1 file stands alone
                row["file_symmetrised"] = ""
            relaxed = row.pop("_relaxed", None)
            if relaxed is not None:
                write_cif(relaxed, out / f"{row['id']}_relaxed.cif")
        # every candidate in one extended-XYZ file (ASE, MatterGen's format), its table row in atoms.info
        write_extxyz(list(objects), [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows],
                     out / "candidates.extxyz")

    def similarity(self, a, b) -> float:
        """1 for the same reduced formula, else the cosine of the element fractions."""
        if a.composition.reduced_formula == b.composition.reduced_formula:
            return 1.0
        ca, cb = a.composition.fractional_composition, b.composition.fractional_composition
        els = set(ca) | set(cb)
        va = np.array([ca[e] for e in els])
        vb = np.array([cb[e] for e in els])
        return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))

    def duplicates(self, items: list, order) -> list[int | None]:
        """Repeats share a reduced formula and match under pymatgen's ``StructureMatcher`` (ltol 0.2,
        stol 0.3, angle_tol 5; volumes scaled, as the novelty check): a 1% larger copy of a cell is
        the same candidate to a chemist."""
        out: list[int | None] = [None] * len(items)
        index = StructureIndex()
        for i in order:
            if items[i] is not None:
                out[i] = index.find(items[i])
                if out[i] is None:
                    index.add(items[i], i)
        return out

    # ------------------------------------------------------------------ scoring

    def read_files(self, files: list[Path]) -> list[tuple[str, object, str]]:
        from designer.io.ase_formats import is_ase_file, read_ase_structures

        items: list[tuple[str, object, str]] = []
        for f in files:
            if is_ase_file(f):  # extxyz (one row per frame), POSCAR / CONTCAR / .vasp, ASE .db
                try:
                    frames = read_ase_structures(f)
                except (DataError, OSError) as exc:
                    items.append((f.stem, None, str(exc).replace(f"{f}: ", "")))
                    continue
                for k, (rid, s, _) in enumerate(frames):
                    try:
                        check_structure(s, f"{f} (frame {k + 1})", pairs=False)
                        items.append((rid, s, ""))
                    except DataError as exc:
                        items.append((rid, None, str(exc).split(": ", 1)[-1]))
                continue
            try:
                structures = parse_cif_text(read_text(f, lenient=True), str(f))
                for k, s in enumerate(structures):
                    check_structure(s, str(f), pairs=False)  # disorder, unknown elements, cells outside the limits
                    # (overlapping atoms are scored: the geometry check gives them their reason)
                    items.append((f.stem if len(structures) == 1 else f"{f.stem}_{k}", s, ""))
            except (DataError, OSError) as exc:
                items.append((f.stem, None, str(exc).replace(f"{f}: ", "")))
        return items

    def score_items(self, run, objects: list, ids: list[str], *, model_columns=None, relax_top: int = 0,
                    relax_steps: int = 200, energies: bool = True, hull_files=None, second_opinion: bool = False,
                    log=print, jobs: int = 1):
        notes = []
        hull = HullReference.from_files(hull_files or default_hull_files(run.training_paths() if run else [])) \
            if energies and objects else None  # nothing readable: no hull to build
        if hull is not None:
            notes.append(f"hull: {hull.description}; {CAVEAT}")
        formulas = {s.composition.reduced_formula for s in objects}  # novelty compares within a formula only
        refs = training_structures(run, formulas) if run is not None else None
        if refs is None:
            notes.append("novelty not judged (no --run: no training set to compare with)")
        second = _second_opinion(second_opinion and hull is not None)
        if second is not None:
            notes.append(f"second opinion: {second.hull.description}, single points on the same structures")
        rows = score_crystals(objects, ids, hull=hull, reference_structures=refs, relax_top=relax_top,
                              relax_steps=relax_steps, energies=energies, model_scores=model_columns,
                              second_opinion=second, log=log, jobs=jobs)
        return rows, notes

    def write_scored(self, out: Path, objects: list, ids: list[str]) -> None:
        for s, sid in zip(objects, ids):
            write_cif(s, out / f"{sid}_P1.cif")
            try:
                write_cif(s, out / f"{sid}_sym.cif", symprec=0.1)
            except Exception:  # symmetry analysis failed: the P1 file stands alone
                pass

    def score_candidates(self, run, objects: list, ids: list[str], cfg, known: KnownData | None = None,
                         log=print, plausibility=None) -> tuple[list[dict], dict]:
        summary: dict = {}
        hull = HullReference.from_files(default_hull_files(run.training_paths())) if cfg.energies else None
        refs = known.items if known is not None else None
        log(f"scoring {len(objects)} candidates (geometry, charge balance"
            + (f", CHGNet energies, relaxing the top {cfg.relax_top}" if cfg.energies else "") + ", novelty)")
        second = _second_opinion(cfg.second_opinion and hull is not None)
        rows = score_crystals(objects, ids, hull=hull, reference_structures=refs, relax_top=cfg.relax_top,
                              relax_steps=cfg.relax_steps, energies=cfg.energies, symprec=cfg.symprec,
                              second_opinion=second, log=lambda m: None, jobs=cfg.jobs)
        if hull is not None:
            summary["hull"] = f"{hull.description}; {CAVEAT}"
        if second is not None:
            summary["second_opinion"] = second.hull.description
        return rows, summary

    def readiness(self, row: dict, w: dict) -> float | None:
        """Gated on geometry and charge balance; plausibility, hull distance, residual force, novelty."""
        if str(row.get("geometry_ok")) != "True" or str(row.get("charge_neutral")) != "True":
            return None
        pl = _num(row, "plausibility_percentile")
        hull = _num(row, "e_above_hull_relaxed")
        hull = _num(row, "e_above_hull") if not math.isfinite(hull) else hull
        force = _num(row, "residual_max_force")
        force = _num(row, "max_force") if not math.isfinite(force) else force
        s = w["plausibility"] * (pl / 100 if math.isfinite(pl) else 0.0)
        s -= w["hull"] * (min(max(hull, 0.0), 1.0) / 0.1 if math.isfinite(hull) else 0.0)
        s -= w["force"] * (min(max(force, 0.0), 5.0) if math.isfinite(force) else 0.0)
        s += w["novelty"] * (1.0 if str(row.get("novel")) == "True" else 0.0)
        return s

    def model_columns(self, run, known: Callable[[], KnownData], plausibility) -> Callable[[list], list[dict]]:
        space = CrystalSpace(run)
        names = list(run.config.data.properties)

        def columns(structures: list) -> list[dict]:
            rows: list[dict] = []
            for s in structures:
                try:
                    z = space.encode([s])
                except DesignerError as exc:
                    rows.append({"model_note": str(exc).split(": ", 1)[-1][:160]})
                    continue
                mean, std = space.predict(z)
                rows.append({"plausibility_percentile": round(float(plausibility.percentile(z.cpu().numpy())[0]), 2),
                             **prediction_columns(names, mean, std, 0)})
            return rows

        return columns

    # ------------------------------------------------------------------ report

    def report_extras(self, run, rows: list[dict], objects: list) -> dict:
        structures = {}
        for row, s in zip(rows, objects):
            try:
                structures[row["id"]] = str(CifWriter(s))
            except Exception:  # a view is a courtesy; a structure CifWriter refuses gets none
                pass
        return {"structures": structures}

    def report_phrases(self, row: dict) -> list[str]:
        out = []
        if row.get("formula"):
            out.append(f"{row['formula']}" + (f" ({row['spacegroup']})" if row.get("spacegroup") else ""))
        e = _num(row, "e_above_hull")
        if math.isfinite(e):
            coverage = " (hull partial: not judged)" if str(row.get("hull_coverage")) == "partial" else ""
            if e < -0.01:  # below every known competing phase: a gap in the reference set or a CHGNet error
                where = f"{-e:.3g} eV/atom below the reference hull (check the competing phases)"
            else:
                where = "on the reference hull" if e <= 0.01 else f"{e:.3g} eV/atom above the reference hull"
            out.append(where + coverage)
        if str(row.get("novel")) in ("True", "False"):
            out.append("novel" if str(row.get("novel")) == "True" else "matches a training crystal")
        if row.get("reasons"):
            out.append(str(row["reasons"]))
        return out

    # ------------------------------------------------------------------ analysis

    def analysis_raw(self, run, items) -> list:
        numbers = run.model.plugin.atomic_numbers
        return [structure_of(g, numbers) for g in items]

    def factors(self, run, raw, y, names):
        return crystal_factors(raw, y, names)

    def intervention(self, run, raw, mu, seed):
        return strain_intervention(CrystalSpace(run), raw, mu), "lattice_constant (1% isotropic strain)"

    def decode_rows(self, run, z: torch.Tensor) -> list[dict]:
        names = list(run.config.data.properties)
        dec = generate.decode_latents(run, z)
        rows = []
        for i, s in enumerate(dec.structures):
            row = {"formula": s.composition.reduced_formula if s is not None else None,
                   "num_atoms": len(s) if s is not None else None,
                   "lattice_constant": lattice_constant(s) if s is not None else None, "structure": s}
            row.update({f"pred_{n}": float(dec.properties[i, j]) for j, n in enumerate(names) if dec.properties.size})
            rows.append(row)
        return rows

    def prototype(self, run, row: dict, out: Path) -> dict:
        pred = {n: row.get(f"pred_{n}") for n in run.config.data.properties}
        s = row["structure"]
        if s is None:
            return {"formula": None, "predicted": pred}
        atomic_write_text(out / "prototype.cif", str(CifWriter(s)))
        return {"formula": row["formula"], "lattice_constant": row["lattice_constant"], "predicted": pred,
                "file": "prototype.cif"}

    def plot_traversals(self, rows, dims, names, path):
        plot_traversals(rows, dims, names, path)

    def plot_interpolation(self, rows, names, path):
        interpolation(rows, names, path, labels="formula")

    def traversal_summary(self, dim: int, steps: list[dict]) -> str:
        def a(v):
            return "–" if v is None else f"{v:.2f}"
        return f"- z{dim}: " + " → ".join(f"{t['formula']} ({a(t['lattice_constant'])} Å)" for t in steps)

    def interpolation_summary(self, step: dict, rows: list[dict]) -> str:
        return str(step.get("formula"))

    def prior_diversity(self, run, n: int) -> float:
        """Distinct reduced formulas of the structurally valid decodes, per draw."""
        structures = [s for s in generate.sample(run, n, seed=0).structures if s is not None and structure_validity(s)]
        return len({s.composition.reduced_formula for s in structures}) / n


def describe_structure(s: Structure, volume_digits: int = 3) -> dict:
    """What a table says of one crystal: reduced formula, atom count, volume (Å^3) and density (g/cm^3)."""
    return {"formula": s.composition.reduced_formula, "num_atoms": len(s), "volume": round(s.volume, volume_digits),
            "density": round(s.density, 4)}


def _num(row: dict, key: str) -> float:
    try:
        return float(row.get(key))
    except (TypeError, ValueError):
        return math.nan


def _training_paths(run, why: str) -> list[Path]:
    paths = run.training_paths()
    if not paths:
        raise DataError(f"{run.config.data.train}: the run's training data is not found; {why}: restore the files "
                        "or retrain")
    return paths


def training_structures(run, formulas: set[str] | None = None) -> list:
    """The run's training crystals as pymatgen structures (novelty reference); with ``formulas``, only
    those of these reduced formulas (novelty compares within a formula, so the verdicts are the same)."""
    out = []
    # read with the run's own property columns: the same cached parse as its training and design
    # (the records cache is keyed by the property list, so reading with none would parse every CIF again)
    properties = list(run.config.data.properties)
    for p in _training_paths(run, "novelty needs it"):
        for rec in load_records(p, properties):
            if formulas is None or rec.reduced_formula in formulas:
                out.append(rec.to_structure())
    return out


DOMAIN = CrystalDomain()
