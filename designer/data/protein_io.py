"""Read protein sequences into one fixed-length alignment over 20 amino acids + gap.

Formats: FASTA; aligned FASTA / A3M / A2M (lower-case and ``.`` insert columns dropped); CSV/TSV
with a sequence column and property columns; mutation tables relative to a reference sequence
(avGFP's ``SA108G:SK113R``, DMS's ``H24A``; the index base is an explicit option and every
mutation's wild-type residue is checked). Sets of different lengths are aligned to a reference
(Biopython ``PairwiseAligner``); residues inserted relative to the reference are dropped, deleted
positions become gaps.

Special residues are never mapped to something else silently:
- unknown residues (``X B Z J U O``): ``unknown="mask"`` keeps the row with the position marked
  ``X`` (masked out of the likelihood), ``"skip"`` drops the row; both are counted.
- stop codons (``*``): a trailing ``*`` is a translation artefact and removed; an internal one with
  ``stop="truncate"`` makes the positions from the stop on gaps (a truncated, usually dark,
  protein), with ``"skip"`` drops the row; both are counted.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from Bio import SeqIO
from Bio.Align import PairwiseAligner, substitution_matrices
from Bio.Seq import Seq

from designer.io.text import open_text
from designer.errors import ConfigError, DataError

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
GAP = "-"
UNKNOWN = "X"
TOKENS = AMINO_ACIDS + GAP  # model alphabet: index 20 is the gap
GAP_INDEX = TOKENS.index(GAP)  # 20
UNKNOWN_INDEX = len(TOKENS)  # 21: masked out of the likelihood
UNKNOWN_RESIDUES = frozenset("XBZJUO")
STOP = "*"
WILD_TYPE_NAMES = frozenset({"", "wt", "_wt", "wildtype", "wild_type", "wild-type"})
_MUTATION = re.compile(r"^S?([A-Z*])(\d+)([A-Z*])$")
_FASTA_EXT = {".fasta", ".fa", ".faa", ".fas", ".fna"}
_ALIGNED_EXT = {".a3m", ".a2m", ".afa", ".aln"}
_TABLE_EXT = {".csv", ".tsv", ".txt"}


@dataclass
class SequenceRecord:
    """One protein as a row of the alignment.

    ``sequence``: aligned, reference length, over ``TOKENS`` plus ``X`` for masked positions.
    ``mutations``: number of mutations (mutation tables only). ``truncated``: had an internal stop.
    """

    id: str
    sequence: str
    properties: dict[str, float] = field(default_factory=dict)
    mutations: Optional[int] = None
    truncated: bool = False


@dataclass
class ReadReport:
    """What happened to special rows while reading (printed by the CLI, stored with a run)."""

    rows: int = 0
    kept: int = 0
    masked_unknown: int = 0
    skipped_unknown: int = 0
    truncated_stop: int = 0
    skipped_stop: int = 0
    aligned: int = 0

    def summary(self) -> str:
        parts = [f"{self.kept}/{self.rows} sequences kept"]
        for name, v in (("with unknown residues masked", self.masked_unknown),
                        ("skipped for unknown residues", self.skipped_unknown),
                        ("truncated at a stop codon (gaps from the stop on)", self.truncated_stop),
                        ("skipped for a stop codon", self.skipped_stop),
                        ("aligned to the reference", self.aligned)):
            if v:
                parts.append(f"{v} {name}")
        return "; ".join(parts)

    def add(self, other: "ReadReport") -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))


@dataclass
class SequenceOptions:
    """How to read one input (mirrors the pipeline's ``data.sequences`` section)."""

    format: str = "auto"
    sequence_column: str = "sequence"
    id_column: Optional[str] = None
    mutation_column: str = "mutant"
    reference: Optional[str] = None
    index_base: Optional[int] = None
    align: Optional[bool] = None
    unknown: str = "mask"
    stop: str = "truncate"


# --------------------------------------------------------------------------- small helpers


def _open_text(path: Path):
    return open_text(path)  # gzip sniffed, UTF-8 / UTF-16, one line for anything else


def _base_suffix(path: Path) -> str:
    return Path(path.stem).suffix.lower() if path.suffix.lower() == ".gz" else path.suffix.lower()


def detect_format(path: Path, options: SequenceOptions) -> str:
    if options.format != "auto":
        return options.format
    ext = _base_suffix(path)
    if ext in _FASTA_EXT:
        return "fasta"
    if ext in _ALIGNED_EXT:
        return "a3m"
    if ext in _TABLE_EXT:
        header = table_header(path)
        if options.sequence_column in header:
            return "csv"
        if options.mutation_column in header:
            return "mutations"
        raise DataError(
            f"{path}: the table has neither a {options.sequence_column!r} nor a {options.mutation_column!r} column "
            f"(columns: {', '.join(header[:10])}); set data.sequences.sequence_column or mutation_column"
        )
    raise DataError(f"{path}: cannot tell the format from the extension {ext!r}; "
                    "use .fasta/.a3m/.csv/.tsv or set data.sequences.format")


def _delimiter(path: Path) -> str:
    return "\t" if _base_suffix(path) == ".tsv" else ","


def table_header(path: Path) -> list[str]:
    with _open_text(path) as f:
        return next(csv.reader(f, delimiter=_delimiter(path)), [])


def _parse_float(value: str, where: str, column: str) -> float:
    if value is None or str(value).strip() == "":
        return math.nan  # unlabelled: the property head masks it
    try:
        v = float(value)
    except ValueError:
        raise DataError(f"{where}: {column}={value!r} is not a number; fix it or leave the cell empty") from None
    if math.isinf(v):
        raise DataError(f"{where}: {column}={value!r} is infinite; fix it or leave the cell empty")
    return v


# --------------------------------------------------------------------------- residue policy


def clean_sequence(raw: str, where: str, options: SequenceOptions, report: ReadReport,
                   aligned: bool = False) -> tuple[str | None, bool]:
    """Upper-case residues with the unknown/stop policy applied; ``(None, _)`` when the row is skipped.

    Returns:
        the cleaned sequence (gaps kept when ``aligned``) and whether it was truncated at a stop.
    """
    seq = raw.strip().replace(" ", "")
    if not seq.replace(GAP, "").replace(".", ""):
        raise DataError(f"{where}: the sequence has no residues{' (only gaps)' if seq else ''}; drop the record")
    if not aligned:
        seq = seq.upper()
    if not aligned and seq.endswith(STOP) and STOP not in seq[:-1]:
        seq = seq[:-1]  # a trailing stop is the end of the open reading frame (an aligned row keeps its width)
    bad = sorted(set(seq) - set(TOKENS) - UNKNOWN_RESIDUES - {STOP, ".", GAP})
    if bad:
        raise DataError(f"{where}: invalid residue(s) {''.join(bad)!r}; use one-letter amino-acid codes "
                        "(X for unknown, * for a stop, - for a gap)")
    if not aligned and (GAP in seq or "." in seq):
        raise DataError(f"{where}: gap characters in an unaligned sequence; use an aligned format (.a3m/.afa) "
                        "or remove the gaps")
    seq = seq.replace(".", GAP)
    if any(c in UNKNOWN_RESIDUES for c in seq):
        if options.unknown == "skip":
            report.skipped_unknown += 1
            return None, False
        report.masked_unknown += 1
        seq = "".join(UNKNOWN if c in UNKNOWN_RESIDUES else c for c in seq)
    truncated = False
    if STOP in seq:
        if options.stop == "skip":
            report.skipped_stop += 1
            return None, False
        cut = seq.index(STOP)
        if not seq[:cut].replace(GAP, ""):
            raise DataError(f"{where}: a stop (*) before the first residue leaves no sequence; drop the record")
        seq = seq[:cut] + GAP * (len(seq) - cut) if aligned else seq[:cut]
        truncated = True
        report.truncated_stop += 1
    return seq, truncated


# --------------------------------------------------------------------------- references and alignment


def read_reference(reference: str, where: str = "data.sequences.reference") -> str:
    """A reference protein from a FASTA path (protein or coding DNA, translated) or a literal sequence."""
    p = Path(reference).expanduser()
    if p.suffix.lower() in _FASTA_EXT | {".gz"} or p.exists():
        if not p.exists():
            raise DataError(f"{where}: {p}: no such reference file; give a FASTA path or the sequence itself")
        entries = read_fasta_entries(p)
        if not entries:
            raise DataError(f"{p}: the reference file holds no sequence")
        seq = entries[0][2].upper().replace("\n", "")
    else:
        seq = reference.strip().upper()
    if seq and set(seq) <= set("ACGTN") and len(seq) % 3 == 0:
        seq = str(Seq(seq).translate())  # coding DNA -> protein
    if seq.endswith(STOP):
        seq = seq[:-1]
    bad = sorted(set(seq) - set(AMINO_ACIDS))
    if not seq or bad:
        raise DataError(f"{where}: the reference must be a protein of the 20 standard amino acids "
                        f"(found {''.join(bad) or 'nothing'!r})")
    return seq


NUCLEOTIDES = set("ACGTUN")


def looks_like_nucleotides(sequence: str, min_length: int = 20) -> bool:
    """Whether a sequence of at least ``min_length`` letters uses only A, C, G, T, U, N (gaps, X, stops aside)."""
    letters = set(sequence) - {GAP, UNKNOWN, STOP}
    return len(sequence) >= min_length and bool(letters) and letters <= NUCLEOTIDES


def _refuse_nucleotides(path: Path, records: list) -> None:
    """DataError when the sequences read as DNA/RNA: every row only nucleotide letters, one of 20 or more."""
    if (records and all(looks_like_nucleotides(r.sequence, 1) for r in records)
            and max(len(r.sequence) for r in records) >= 20):
        raise DataError(f"{path}: the sequences look like DNA/RNA (only A, C, G, T/U, N); translate them to "
                        "protein first (e.g. Bio.Seq.Seq(dna).translate())")


def make_aligner():
    aligner = PairwiseAligner()
    aligner.mode = "global"
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    aligner.open_gap_score = -10.0
    aligner.extend_gap_score = -0.5
    aligner.end_gap_score = 0.0  # free overhangs at both ends: termini of a family often differ
    return aligner


def align_to_reference(seq: str, reference: str, aligner=None) -> str:
    """``seq`` written in the reference's columns: insertions dropped, missing positions as gaps.

    Masked (``X``) residues align as any residue and stay masked.
    """
    aligner = aligner or make_aligner()
    query = seq.replace(UNKNOWN, "A")  # BLOSUM62 has no X row in every Biopython version
    alignment = aligner.align(reference, query)[0]
    out = [GAP] * len(reference)
    for (r0, r1), (s0, s1) in zip(*alignment.aligned):
        out[r0:r1] = seq[s0:s1]
    return "".join(out)


# --------------------------------------------------------------------------- readers


def read_fasta_entries(path: Path) -> list[tuple[str, str, str]]:
    """``(id, description, sequence)`` of each FASTA record (sequence as written)."""
    with _open_text(path) as f:
        text = f.read()
    if not text.strip():
        raise DataError(f"{path}: the file is empty; give at least one sequence")
    if not text.lstrip().startswith(">"):
        raise DataError(f"{path}: not FASTA (the first line must start with '>')")
    for number, line in enumerate(text.splitlines(), 1):  # Biopython cannot hold non-ASCII residues
        if not line.startswith(">") and not line.isascii():
            odd = next(c for c in line if not c.isascii())
            raise DataError(f"{path}: line {number}: {odd!r} is not a residue letter; use one-letter amino-acid "
                            "codes (X for unknown)")
    entries = []
    for rec in SeqIO.parse(io.StringIO(text), "fasta"):
        desc = rec.description[len(rec.id):].strip() if rec.description.startswith(rec.id) else rec.description
        entries.append((rec.id, desc, str(rec.seq)))
    return entries


_KEY_VALUE = re.compile(r"(\w[\w.\-]*)=(\S+)")


def description_properties(description: str, properties: list[str], where: str) -> dict[str, float]:
    """Property values written as ``key=value`` in a FASTA description (our own FASTA output does this)."""
    found = dict(_KEY_VALUE.findall(description))
    return {p: _parse_float(found.get(p), where, p) for p in properties}


def read_fasta(path: Path, properties: list[str], options: SequenceOptions, report: ReadReport,
               aligned: bool = False) -> list[SequenceRecord]:
    """FASTA (``aligned``: A3M/A2M/aligned FASTA, lower-case and ``.`` insert columns dropped)."""
    records, length = [], None
    for k, (rid, desc, raw) in enumerate(read_fasta_entries(path)):
        where = f"{path} record {k + 1} ({rid})"
        report.rows += 1
        if aligned:
            raw = "".join(c for c in raw if not c.islower() and c != ".")
        seq, truncated = clean_sequence(raw, where, options, report, aligned=aligned)
        if seq is None:
            continue
        if aligned:
            if length is None:
                length = len(seq)
            elif len(seq) != length:
                raise DataError(f"{where}: {len(seq)} match columns, the first record has {length}; "
                                "an alignment needs equal lengths once inserts are dropped")
        records.append(SequenceRecord(rid, seq, description_properties(desc, properties, where), truncated=truncated))
    return records


def _rows(path: Path) -> Iterable[tuple[int, dict]]:
    with _open_text(path) as f:
        reader = csv.DictReader(f, delimiter=_delimiter(path))
        for k, row in enumerate(reader):
            yield k + 2, row  # line number (header is line 1)


def _require_columns(path: Path, header: list[str], columns: list[str]) -> None:
    for c in columns:
        if c not in header:
            close = difflib.get_close_matches(c, header, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataError(f"{path}: no column {c!r}{hint} (columns: {', '.join(header[:12])})")


def read_sequence_table(path: Path, properties: list[str], options: SequenceOptions,
                        report: ReadReport) -> list[SequenceRecord]:
    """CSV/TSV with a sequence column, an optional id column and property columns."""
    header = table_header(path)
    if not header:
        raise DataError(f"{path}: the file is empty; give a header row and at least one sequence")
    _require_columns(path, header, [options.sequence_column, *properties] + ([options.id_column] if options.id_column else []))
    records = []
    for line, row in _rows(path):
        rid = row[options.id_column] if options.id_column else f"row{line - 1}"
        where = f"{path} line {line} ({rid})"
        report.rows += 1
        raw = row.get(options.sequence_column) or ""
        if not raw.strip():
            raise DataError(f"{where}: empty {options.sequence_column!r}; fill it or drop the row")
        seq, truncated = clean_sequence(raw, where, options, report)
        if seq is None:
            continue
        props = {p: _parse_float(row.get(p), where, p) for p in properties}
        records.append(SequenceRecord(str(rid), seq, props, truncated=truncated))
    return records


def parse_mutations(text: str) -> list[tuple[str, int, str]]:
    """``[(wt, position as written, mutant)]`` of ``SA108G:SK113R`` / ``H24A`` / ``H24A:K30*`` style strings.

    Raises ValueError naming the token that is not a substitution.
    """
    text = (text or "").strip()
    if text.lower() in WILD_TYPE_NAMES:
        return []
    out = []
    for token in re.split(r"[:;,\s]+", text):
        m = _MUTATION.match(token)
        if not m:
            raise ValueError(token)
        out.append((m.group(1), int(m.group(2)), m.group(3)))
    return out


def _base_fits(muts: list[tuple[str, int, str]], reference: str, base: int) -> bool:
    return all(0 <= p - base < len(reference) and reference[p - base] == wt for wt, p, _ in muts)


def apply_mutations(reference: str, muts: list[tuple[str, int, str]], base: int, where: str) -> tuple[str, bool]:
    """The mutant sequence (a stop truncates: positions from it on are gaps) and whether it was truncated.

    Raises DataError naming ``where`` when a position is outside the reference or its wild-type
    residue differs from the reference (with a hint when the other index base fits).
    """
    seq = list(reference)
    for wt, pos, mut in muts:
        i = pos - base
        if not 0 <= i < len(reference) or reference[i] != wt:
            found = f"the reference has {reference[i]!r} there" if 0 <= i < len(reference) else \
                f"outside the {len(reference)}-residue reference"
            other = 1 - base
            hint = (f"; the row fits index_base: {other} - set data.sequences.index_base: {other}"
                    if _base_fits(muts, reference, other) else "; check the reference sequence and index_base")
            raise DataError(f"{where}: mutation {wt}{pos}{mut} expects {wt!r} at position {pos} "
                            f"({base}-based) but {found}{hint}")
        seq[i] = mut
    s = "".join(seq)
    if STOP in s:
        cut = s.index(STOP)
        return s[:cut] + GAP * (len(s) - cut), True
    return s, False


def read_mutation_table(path: Path, properties: list[str], options: SequenceOptions,
                        report: ReadReport) -> list[SequenceRecord]:
    """CSV/TSV of mutations relative to ``options.reference`` (index base required), one variant per row."""
    if options.reference is None:
        raise ConfigError(f"{path}: a mutation table needs data.sequences.reference (FASTA path or sequence)")
    if options.index_base not in (0, 1):
        raise ConfigError(f"{path}: a mutation table needs data.sequences.index_base: 0 or 1 "
                          "(avGFP's table is 0-based, DMS tables are 1-based)")
    reference = read_reference(options.reference)
    header = table_header(path)
    if not header:
        raise DataError(f"{path}: the file is empty; give a header row and at least one variant")
    _require_columns(path, header, [options.mutation_column, *properties] + ([options.id_column] if options.id_column else []))
    records = []
    for line, row in _rows(path):
        text = row.get(options.mutation_column) or ""
        rid = row[options.id_column] if options.id_column else (text.strip() or "WT")
        where = f"{path} line {line} ({rid})"
        report.rows += 1
        try:
            muts = parse_mutations(text)
        except ValueError as exc:
            raise DataError(f"{where}: {str(exc)!r} is not a substitution like A108G or SA108G "
                            "(insertions and deletions: give full sequences instead)") from None
        bad = [m for _, _, m in muts if m in UNKNOWN_RESIDUES or (m not in AMINO_ACIDS and m != STOP)]
        seq, truncated = apply_mutations(reference, muts, options.index_base, where)
        if bad:
            if options.unknown == "skip":
                report.skipped_unknown += 1
                continue
            report.masked_unknown += 1
            seq = "".join(UNKNOWN if c in UNKNOWN_RESIDUES else c for c in seq)
        if truncated:
            if options.stop == "skip":
                report.skipped_stop += 1
                continue
            report.truncated_stop += 1
        props = {p: _parse_float(row.get(p), where, p) for p in properties}
        records.append(SequenceRecord(rid, seq, props, mutations=len(muts), truncated=truncated))
    return records


def read_sequences(path: str | Path, properties: list[str], options: SequenceOptions,
                   reference: str | None = None) -> tuple[list[SequenceRecord], str | None, ReadReport]:
    """Read one input into aligned records.

    Args:
        reference: the alignment's reference protein (defaults to ``options.reference``; for
            unaligned sets of different lengths without one, the first sequence).

    Returns:
        ``(records, reference, report)``; every record's sequence has the reference's length
        (or, for an alignment without a reference, the alignment's width).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; check data.train / data.test in the pipeline")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a FASTA, A3M, CSV or mutation-table file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; give at least one sequence")
    report = ReadReport()
    fmt = detect_format(path, options)
    if fmt == "fasta":
        records = read_fasta(path, properties, options, report)
    elif fmt == "a3m":
        records = read_fasta(path, properties, options, report, aligned=True)
    elif fmt == "csv":
        records = read_sequence_table(path, properties, options, report)
    elif fmt == "mutations":
        records = read_mutation_table(path, properties, options, report)
    else:
        raise ConfigError(f"data.sequences.format: unknown format {fmt!r} (auto, fasta, a3m, csv, mutations)")
    if not records:
        raise DataError(f"{path}: no usable sequence ({report.summary()})")
    if reference is None and options.reference is not None:
        reference = read_reference(options.reference)
    _refuse_nucleotides(path, records)
    lengths = {len(r.sequence) for r in records}
    if options.align is False and fmt not in ("a3m", "mutations") and (
            len(lengths) > 1 or (reference is not None and lengths != {len(reference)})):
        widths = sorted(lengths | ({len(reference)} if reference is not None else set()))
        raise DataError(f"{path}: data.sequences.align is false, but the sequences (and reference) have "
                        f"{len(widths)} lengths ({widths[0]}-{widths[-1]}); set align: true, or leave it out, "
                        "to align them to the reference")
    if fmt in ("a3m", "mutations"):
        if reference is not None and lengths != {len(reference)}:
            raise DataError(f"{path}: alignment width {lengths.pop()} differs from the {len(reference)}-residue "
                            "reference; give the reference the alignment was built on")
    else:
        need = options.align if options.align is not None else (
            len(lengths) > 1 or (reference is not None and lengths != {len(reference)}))
        if need:
            reference = reference or records[0].sequence.replace(UNKNOWN, "A")
            aligner = make_aligner()
            for r in records:
                if r.sequence != reference:
                    r.sequence = align_to_reference(r.sequence, reference, aligner)
                    report.aligned += 1
    report.kept = len(records)
    return records, reference, report
