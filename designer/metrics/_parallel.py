"""A small process-pool map shared by the metrics (CrystalNN and StructureMatcher are CPU-bound)."""

from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

ProgressFn = Callable[[int, int], None]


def _quiet_init() -> None:
    warnings.filterwarnings("ignore")
    # One thread per worker: the pool is the parallelism.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


def _run_chunk(args):
    fn, items = args
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        return [fn(x) for x in items]


def parallel_map(
    fn: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int = 1,
    progress: ProgressFn | None = None,
    chunk_size: int | None = None,
) -> list[R]:
    """``[fn(x) for x in items]``, in order, over ``n_jobs`` processes when ``n_jobs > 1``.

    Args:
        fn: a picklable (module-level) function of one item.
        items: the inputs (picklable).
        n_jobs: number of worker processes; ``<= 1`` runs in this process, ``-1`` uses all CPUs.
        progress: optional ``progress(done, total)`` called after each chunk.
        chunk_size: items per task (default: about 8 tasks per worker, at most 256 items).

    Returns:
        list of ``fn`` results, same order and length as ``items``.
    """
    items = list(items)
    total = len(items)
    if n_jobs is not None and n_jobs < 0:
        n_jobs = os.cpu_count() or 1
    n_jobs = max(1, min(int(n_jobs or 1), total)) if total else 1
    if chunk_size is None:
        chunk_size = max(1, min(256, -(-total // (8 * n_jobs)))) if total else 1
    chunks = [items[i : i + chunk_size] for i in range(0, total, chunk_size)]
    out: list[R] = []
    if n_jobs == 1:
        for chunk in chunks:
            out.extend(_run_chunk((fn, chunk)))
            if progress is not None:
                progress(len(out), total)
        return out
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx, initializer=_quiet_init) as pool:
        for res in pool.map(_run_chunk, [(fn, c) for c in chunks]):
            out.extend(res)
            if progress is not None:
                progress(len(out), total)
    return out
