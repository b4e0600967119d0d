"""Write proteins as FASTA (Biopython) whose descriptions carry the scores, atomically."""

from __future__ import annotations

import io
import math
from pathlib import Path

from Bio.Seq import Seq
from Bio.SeqIO import write
from Bio.SeqRecord import SeqRecord

from designer.io.atomic import atomic_write_text


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if not math.isfinite(v) else f"{v:.5g}"
    return str(v)


def fasta_text(entries: list[tuple[str, str, dict]]) -> str:
    """FASTA of ``(id, sequence, scores)``: gaps removed, ``key=value`` scores in each description."""
    records = [SeqRecord(Seq(seq.replace("-", "")), id=str(rid),
                         description=" ".join(f"{k}={_fmt(v)}" for k, v in scores.items()))
               for rid, seq, scores in entries]
    buf = io.StringIO()
    write(records, buf, "fasta")
    return buf.getvalue()


def write_fasta(entries: list[tuple[str, str, dict]], path: Path) -> None:
    atomic_write_text(path, fasta_text(entries))
