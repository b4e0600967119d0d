"""A seeded by-id split of a crystal CSV into part files and ``split.json``:
``python -m designer.data.split_files SRC.csv OUT_DIR [--parts train:0.7,holdout:0.1,test:0.2] [--seed 0]``."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from designer.errors import DataError
from designer.io.atomic import atomic_write_bytes, atomic_write_text


def id_split(ids: Sequence[str], fractions: dict[str, float], seed: int) -> dict[str, list[str]]:
    """Split distinct ``ids`` into named parts of the given ``fractions`` (summing to 1), seeded.

    The ids are sorted before the seeded permutation, so the split depends on the set of ids and the
    seed, not on the row order of the file. Part sizes are rounded; the last part takes the remainder.
    Each part's ids are returned sorted.
    """
    uniq = sorted(set(map(str, ids)))
    if len(uniq) != len(ids):
        raise DataError(f"id_split: {len(ids) - len(uniq)} repeated id(s); ids must be unique")
    if abs(sum(fractions.values()) - 1.0) > 1e-9 or any(f < 0 for f in fractions.values()):
        raise DataError(f"id_split: fractions {fractions} must be >= 0 and sum to 1")
    perm = np.random.default_rng(seed).permutation(len(uniq))
    out, start, names = {}, 0, list(fractions)
    for i, name in enumerate(names):
        k = len(uniq) - start if i == len(names) - 1 else int(round(len(uniq) * fractions[name]))
        out[name] = sorted(uniq[j] for j in perm[start:start + k])
        start += k
    return out


def split_csv(src: str | Path, out_dir: str | Path, fractions: dict[str, float], seed: int,
              id_column: str = "material_id") -> dict:
    """Split a crystal CSV by ``id_column`` into ``<part>.csv.gz`` files and ``split.json`` (the id lists).

    Returns the split record written to ``split.json``: source name, seed, fractions, sizes and ids.
    Every file is written atomically; the gzip output carries no timestamp, so a rerun is byte-identical.
    """
    src, out_dir = Path(src), Path(out_dir)
    if not src.is_file():
        raise DataError(f"{src}: not found; give the CSV to split")
    df = pd.read_csv(src, index_col=0)
    if id_column not in df.columns:
        raise DataError(f"{src}: no {id_column!r} column to split by (columns: {', '.join(map(str, df.columns))})")
    parts = id_split(df[id_column].astype(str).tolist(), fractions, seed)
    for name, ids in parts.items():
        part = df[df[id_column].astype(str).isin(set(ids))].sort_values(id_column)
        buf = io.StringIO()
        part.to_csv(buf)
        atomic_write_bytes(out_dir / f"{name}.csv.gz", gzip.compress(buf.getvalue().encode(), mtime=0))
    record = {"source": src.name, "id_column": id_column, "seed": seed, "fractions": fractions,
              "sizes": {k: len(v) for k, v in parts.items()}, "ids": parts}
    atomic_write_text(out_dir / "split.json", json.dumps(record, indent=1) + "\n")
    return record


def _main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m designer.data.split_files",
                                description="Split a crystal CSV by material id into seeded parts.")
    p.add_argument("src")
    p.add_argument("out_dir")
    p.add_argument("--parts", default="train:0.7,holdout:0.1,test:0.2")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--id-column", default="material_id")
    a = p.parse_args(argv)
    fractions = {k: float(v) for k, v in (x.split(":") for x in a.parts.split(","))}
    rec = split_csv(a.src, a.out_dir, fractions, a.seed, a.id_column)
    print(json.dumps(rec["sizes"]))


if __name__ == "__main__":
    _main()
