"""On-disk cache of processed datasets, keyed by the input's content hash and the processing options."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock, Timeout

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
    # the path too: a cached value's messages and sources name the file it was read from
    key = hashlib.sha256(
        (content_hash(path) + str(Path(path).resolve()) + json.dumps(options, sort_keys=True)
         + str(CACHE_VERSION)).encode()
    ).hexdigest()[:32]
    target = cache_dir() / f"{Path(path).name}.{key}.pkl"
    found = _read(target, path)
    if found is not _MISSING:
        return found
    with _build_lock(target):  # a second process wanting the same entry waits for this one's, then reads it
        found = _read(target, path)
        if found is not _MISSING:
            return found
        value = build()
        try:
            atomic_write_bytes(target, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            pass  # a read-only cache location only costs speed
        return value


_MISSING = object()


def _read(target: Path, path: Path) -> Any:
    if not target.exists():
        return _MISSING
    try:
        with open(target, "rb") as f:
            return pickle.load(f)
    except Exception as exc:  # truncated or corrupt: rebuilt (and rewritten atomically)
        warnings.warn(f"{target}: the cached copy of {Path(path).name} cannot be read ({type(exc).__name__}); "
                      "rebuilding it", RuntimeWarning, stacklevel=3)
        return _MISSING


@contextlib.contextmanager
def _build_lock(target: Path, timeout: float = 1800.0) -> Iterator[None]:
    """An OS file lock beside ``target`` while it is built; none where the cache is not writable, and
    after ``timeout`` seconds of waiting the entry is built anyway (a stale lock only costs speed)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(target) + ".lock")
        lock.acquire(timeout=timeout)
    except (OSError, Timeout):
        yield
        return
    try:
        yield
    finally:
        lock.release()
