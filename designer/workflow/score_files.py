"""``designer score FILES... [--run RUN]``: the scorecard for anyone's files (CIF, FASTA, or a registered
domain's), ours or not.

Every file is reported: an unreadable one gets a row with its reason instead of stopping the run.
The files pick the domain (``Domain.reads_file``: by suffix, and for crystals ASE's formats by name). Without a run the model-based
columns are left out (and the output says so).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from designer.workflow.state import run_plausibility
from designer.domains import domain_names, get_domain
from designer.errors import DataError
from designer.io.crystal_files import write_table
from designer.runs import load_run


@dataclass
class ScoreResult:
    rows: list[dict]
    domain: str
    table: Path
    notes: list[str] = field(default_factory=list)


def _domain_reading(path: Path) -> str | None:
    """The first registered domain that reads ``path`` (``Domain.reads_file``), or None."""
    return next((name for name in domain_names() if get_domain(name).reads_file(path)), None)


def _known_kinds() -> str:
    domains = [get_domain(name) for name in domain_names()]
    return ", ".join(sorted({k for d in domains for k in d.file_suffixes + d.file_names}))


def _expand(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise DataError(f"{p}: no such file or folder; check the path")
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and _domain_reading(q))
            if not found:
                raise DataError(f"{p}: the folder holds no {_known_kinds()} files")
            out += found
        else:
            out.append(p)
    return out


def read_inputs(paths: list[Path]) -> tuple[str, list[tuple[str, object, str]]]:
    """``(domain name, [(id, object or None, reason)])``: one entry per structure/record or broken file."""
    files = _expand(paths)
    unknown = [f for f in files if _domain_reading(f) is None]
    if unknown:
        raise DataError(f"{unknown[0]}: unknown file type; give {_known_kinds()} files")
    kinds = {_domain_reading(f) for f in files}
    if len(kinds) > 1:
        raise DataError(f"give files of one kind in one call ({' or '.join(sorted(kinds))}), not several")
    name = kinds.pop()
    return name, get_domain(name).read_files(files)


def score_items(name: str, items: list[tuple[str, object, str]], run: str | None = None, relax_top: int = 0,
                relax_steps: int = 200, energies: bool = True, hull_files: list[Path] | None = None,
                second_opinion: bool = False, log: Callable[[str], None] = print,
                jobs: int = 1) -> tuple[list[dict], list[str], list, list[str]]:
    """Scorecard rows of ``items`` (``[(id, object in the domain's form or None, reason)]``) of domain ``name``.

    Returns ``(rows, notes, objects, ids)``: one row per item (an unreadable one with its reason),
    what the user should know, and the readable objects with their ids.
    """
    domain = get_domain(name)
    good = [(i, it) for i, it in enumerate(items) if it[1] is not None]
    notes = []
    r = None
    columns = None
    if run:
        r = load_run(run)
        if get_domain(r) is not domain:
            raise DataError(f"--run {run} is a {r.config.domain} model but the inputs are {name} inputs")
        known = functools.cache(lambda: domain.known_data(r))  # only where the domain or the density needs it
        columns = domain.model_columns(r, known, run_plausibility(r, run, lambda: known().mu, seed=r.config.seed))
    else:
        notes.append("no --run: model columns (plausibility, predicted properties, likelihood) are left out")
    objects, ids = [it[1] for _, it in good], [it[0] for _, it in good]
    scored, more = domain.score_items(r, objects, ids, model_columns=columns, relax_top=relax_top,
                                      relax_steps=relax_steps, energies=energies, hull_files=hull_files,
                                      log=log, **({"second_opinion": True} if second_opinion else {}),  # only when asked:
                                      **({"jobs": jobs} if jobs > 1 else {}))  # older domains lack them
    notes += more
    rows_by_index = {i: row for (i, _), row in zip(good, scored)}
    rows = []
    for i, (sid, obj, reason) in enumerate(items):
        row = rows_by_index.get(i, {"id": sid, "reasons": f"unreadable: {reason}"})
        row.setdefault("reasons", row.get("liabilities", ""))
        row["source"] = str(sid)
        row.pop("_relaxed", None)
        rows.append(row)
    return rows, notes, objects, ids


def score_files(paths: list[Path], out: Path, run: str | None = None, relax_top: int = 0, relax_steps: int = 200,
                energies: bool = True, hull_files: list[Path] | None = None, second_opinion: bool = False,
                log: Callable[[str], None] = print, jobs: int = 1) -> ScoreResult:
    """Score every input and write ``out/scores.csv`` (and the domain's files beside it, e.g. symmetrised CIFs)."""
    name, items = read_inputs(paths)
    rows, notes, objects, ids = score_items(name, items, run=run, relax_top=relax_top, relax_steps=relax_steps,
                                            energies=energies, hull_files=hull_files, second_opinion=second_opinion,
                                            log=log, jobs=jobs)
    return write_scores(name, rows, notes, objects, ids, out)


def write_scores(name: str, rows: list[dict], notes: list[str], objects: list, ids: list[str], out: Path) -> ScoreResult:
    """``out/scores.csv`` and the domain's files beside it."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    get_domain(name).write_scored(out, objects, ids)
    table = out / "scores.csv"
    write_table(rows, table)
    return ScoreResult(rows, name, table, notes)
