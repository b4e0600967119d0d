"""On-disk cache of processed datasets, keyed by the input's content hash and the processing options."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable

from designer.io.atomic import atomic_write_bytes

CACHE_VERSION = 1


def cache_dir() -> Path:
    """``$DESIGNER_CACHE_DIR`` or ``~/.cache/designer``."""
    return Path(os.environ.get("DESIGNER_CACHE_DIR", Path.home() / ".cache" / "designer"))


def content_hash(path: Path) -> str:
    """sha256 of a file's bytes, or of a folder's file names and bytes (sorted)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def cached(path: Path, options: dict[str, Any], build: Callable[[], Any], enabled: bool = True) -> Any:
    """Return ``build()``, memoised on disk under the hash of ``path`` and ``options``.

    The second call with the same input file content and options skips ``build`` (parsing).
    """
    if not enabled or not Path(path).exists():
        return build()  # a missing input: the reader raises its one-line error
    key = hashlib.sha256(
        (content_hash(path) + json.dumps(options, sort_keys=True) + str(CACHE_VERSION)).encode()
    ).hexdigest()[:32]
    target = cache_dir() / f"{Path(path).name}.{key}.pkl"
    if target.exists():
        try:
            with open(target, "rb") as f:
                return pickle.load(f)
        except Exception as exc:  # truncated or corrupt: rebuilt (and rewritten atomically)
            warnings.warn(f"{target}: the cached copy of {Path(path).name} cannot be read ({type(exc).__name__}); "
                          "rebuilding it", RuntimeWarning, stacklevel=2)
    value = build()
    try:
        atomic_write_bytes(target, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only cache location only costs speed
    return value
