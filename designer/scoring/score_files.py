"""``designer score FILES... [--run RUN]``: the scorecard for any CIF or FASTA files, ours or not.

Every file is reported: an unreadable one gets a row with its reason instead of stopping the run.
Without a run the model-based columns are left out (and the output says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

CIF = (".cif", ".mcif")
FASTA = (".fasta", ".fa", ".faa", ".fas")


@dataclass
class ScoreResult:
    rows: list[dict]
    domain: str
    table: Path
    notes: list[str] = field(default_factory=list)


def _expand(paths: list[Path]) -> list[Path]:
    from designer.errors import DataError

    out = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise DataError(f"{p}: no such file or folder; check the path")
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in CIF + FASTA)
            if not found:
                raise DataError(f"{p}: the folder holds no .cif or FASTA files")
            out += found
        else:
            out.append(p)
    return out


def read_inputs(paths: list[Path]) -> tuple[str, list[tuple[str, object, str]]]:
    """``(domain, [(id, structure-or-sequence or None, reason)])``: one entry per structure/record or broken file."""
    from designer.errors import DataError

    files = _expand(paths)
    kinds = {"crystal" if f.suffix.lower() in CIF else "protein" if f.suffix.lower() in FASTA else "?" for f in files}
    if "?" in kinds:
        bad = next(f for f in files if f.suffix.lower() not in CIF + FASTA)
        raise DataError(f"{bad}: unknown file type; give .cif files or FASTA (.fasta/.fa/.faa)")
    if len(kinds) > 1:
        raise DataError("give either CIF files or FASTA files in one call, not both")
    domain = kinds.pop()
    items: list[tuple[str, object, str]] = []
    for f in files:
        if domain == "crystal":
            from designer.data.crystal_io import parse_cif_text

            try:
                text = f.read_text(errors="replace")
                structures = parse_cif_text(text, str(f))
                for k, s in enumerate(structures):
                    if not s.is_ordered:
                        raise DataError(f"{f}: partial occupancy / disorder; order the structure first")
                    items.append((f.stem if len(structures) == 1 else f"{f.stem}_{k}", s, ""))
            except (DataError, OSError) as exc:
                items.append((f.stem, None, str(exc).replace(f"{f}: ", "")))
        else:
            from Bio import SeqIO

            try:
                recs = list(SeqIO.parse(str(f), "fasta"))
            except Exception as exc:
                items.append((f.stem, None, f"cannot parse FASTA ({exc})"))
                continue
            if not recs:
                items.append((f.stem, None, "no FASTA records"))
            for r in recs:
                seq = str(r.seq).upper()
                bad = sorted(set(seq) - set("ACDEFGHIKLMNPQRSTVWYXBZJUO*-"))
                items.append((r.id, None, f"unknown residue letters {''.join(bad)}") if bad else (r.id, seq, ""))
    return domain, items


def score_files(paths: list[Path], out: Path, run: str | None = None, relax_top: int = 0, relax_steps: int = 200,
                energies: bool = True, hull_files: list[Path] | None = None,
                log: Callable[[str], None] = print) -> ScoreResult:
    """Score every input and write ``out/scores.csv`` (and the symmetrised + P1 CIFs of readable crystals)."""
    from designer.io.crystal_files import write_table

    domain, items = read_inputs(paths)
    good = [(i, it) for i, it in enumerate(items) if it[1] is not None]
    notes = []
    r = None
    if run:
        from designer.runs import load_run

        r = load_run(run)
        if r.config.domain != domain:
            from designer.errors import DataError

            raise DataError(f"--run {run} is a {r.config.domain} model but the files are {domain} files")
    else:
        notes.append("no --run: model columns (plausibility, predicted properties, likelihood) are left out")
    rows_by_index: dict[int, dict] = {}
    if domain == "crystal":
        from designer.scoring.crystal_card import score_crystals
        from designer.scoring.hull import CAVEAT, HullReference

        hull = HullReference.from_files(hull_files or default_hull_files(r)) if energies else None
        if hull is not None:
            notes.append(f"hull: {hull.description}; {CAVEAT}")
        refs = _training_structures(r) if r is not None else None
        cols = None
        if r is not None:
            from designer.scoring.model_columns import crystal_columns

            cols = crystal_columns(r, run)
        scored = score_crystals([it[1] for _, it in good], [it[0] for _, it in good], hull=hull,
                                reference_structures=refs, relax_top=relax_top, relax_steps=relax_steps,
                                energies=energies, model_scores=cols, log=log)
        if refs is None:
            notes.append("novelty not judged (no --run: no training set to compare with)")
    else:
        from designer.scoring.protein_card import score_proteins

        wt, cols = None, None
        if r is not None:
            from designer.generate_protein import reference_sequence
            from designer.scoring.model_columns import protein_columns

            wt = reference_sequence(r)
            cols = protein_columns(r, run)
        scored = score_proteins([it[1] for _, it in good], [it[0] for _, it in good], wild_type=wt, model_scores=cols)
    for (i, _), row in zip(good, scored):
        rows_by_index[i] = row
    rows = []
    for i, (sid, obj, reason) in enumerate(items):
        row = rows_by_index.get(i, {"id": sid, "reasons": f"unreadable: {reason}"})
        row.setdefault("reasons", row.get("liabilities", ""))
        row["source"] = str(sid)
        rows.append(row)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if domain == "crystal":
        from designer.io.crystal_files import write_cif

        for (i, it) in good:
            write_cif(it[1], out / f"{it[0]}_P1.cif")
            try:
                write_cif(it[1], out / f"{it[0]}_sym.cif", symprec=0.1)
            except Exception:
                pass
    for row in rows:
        row.pop("_relaxed", None)
    table = out / "scores.csv"
    write_table(rows, table)
    return ScoreResult(rows, domain, table, notes)


def default_hull_files(run) -> list[Path]:
    """The shipped training-set CHGNet energies (perov_5 unless the run's training folder has its own)."""
    here = Path(__file__).parents[2] / "datasets" / "perov_5" / "chgnet_energies.csv.gz"
    files = []
    if run is not None:
        for p in run.config.data.train:
            f = Path(p).parent / "chgnet_energies.csv.gz"
            if f.exists() and f not in files:
                files.append(f)
    if not files and here.exists():
        files.append(here)
    return files


def _training_structures(run) -> list:
    from designer.data.crystal_dataset import load_records
    from designer.design.data import _existing

    paths = _existing(run.config.data.train, run.config.name)
    return [rec.to_structure() for p in paths for rec in load_records(p, [])]
