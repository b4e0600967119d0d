"""A small process-pool map shared by data preparation, the metrics and scoring (CIF parsing,
neighbour graphs, CrystalNN, StructureMatcher, SMACT and spglib are CPU-bound): joblib's loky
workers, fresh processes (no fork of a process holding torch threads) with one BLAS / OpenMP thread
each, set before the work starts. The calling process is one of the ``n_jobs`` workers: it takes
items from the start, so a worker's start-up (imports) costs no wall time while the caller has work."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from concurrent.futures import Future
from typing import Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

ProgressFn = Callable[[int, int], None]


def available_cores() -> int:
    """The cores this process may use: ``$OMP_NUM_THREADS`` when it is set (a batch scheduler's or a
    test runner's share), else the CPUs this process is allowed to run on."""
    try:
        omp = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        omp = 0
    if omp > 0:
        return omp
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


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
    """``[fn(x) for x in items]``, in order, over ``n_jobs`` processes when ``n_jobs > 1``: this one
    (on one thread meanwhile) and ``n_jobs - 1`` reusable loky workers.

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
    if os.environ.get(WORKER_FLAG):  # already a pool worker: its siblings have the other cores
        n_jobs = 1
    if chunk_size is None:
        chunk_size = max(1, min(256, -(-total // (8 * n_jobs)))) if total else 1
    chunks = [(fn, items[i : i + chunk_size]) for i in range(0, total, chunk_size)]
    out: list[R] = []
    if n_jobs == 1:
        results: Iterator[list[R]] = map(_run_chunk, chunks)
    else:
        results = _loky_imap(_run_chunk, chunks, n_jobs)
    for res in results:
        out.extend(res)
        if progress is not None:
            progress(len(out), total)
    return out


#: set in every pool worker: a map called inside a worker runs in that worker (no pool inside a pool)
WORKER_FLAG = "DESIGNER_POOL_WORKER"
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", WORKER_FLAG: "1"}


def _loky_imap(fn: Callable[[T], R], items: list[T], n_jobs: int) -> Iterator[R]:
    """``fn(x)`` for each item, in order: this process and ``n_jobs - 1`` of joblib's reusable loky
    workers (one BLAS / OpenMP thread each). This process works from the start, so the seconds a new
    worker spends importing (pymatgen: about 2 s) are not lost; it runs on one thread meanwhile."""
    from joblib.externals.loky import get_reusable_executor
    from threadpoolctl import threadpool_limits

    ex = get_reusable_executor(max_workers=n_jobs - 1, env=_ONE_THREAD)
    with threadpool_limits(1), _torch_threads(1):
        yield from _ordered_with_caller(fn, lambda x: ex.submit(fn, x), items, ahead=2 * (n_jobs - 1))


def _ordered_with_caller(fn: Callable[[T], R], submit: Callable[[T], "Future[R]"], items: list[T],
                         ahead: int) -> Iterator[R]:
    """``fn(x)`` for each of ``items``, yielded in order: up to ``ahead`` items wait on a pool
    (``submit``), and this process takes the next one itself; when none is left to take, it takes
    back a queued item that no worker has started (so a worker still starting up delays nothing).
    Items still queued when the caller stops (or an error) are cancelled."""
    from concurrent.futures import FIRST_COMPLETED, wait

    pending: dict[int, Future] = {}
    ready: dict[int, R] = {}
    nxt = done = 0
    try:
        while done < len(items):
            while nxt < len(items) and len(pending) < ahead:
                pending[nxt] = submit(items[nxt])
                nxt += 1
            if nxt < len(items):  # this process takes the next item itself
                ready[nxt] = fn(items[nxt])
                nxt += 1
            else:
                stolen = next((i for i in sorted(pending) if pending[i].cancel()), None)
                if stolen is not None:
                    del pending[stolen]
                    ready[stolen] = fn(items[stolen])
                elif pending:
                    wait(list(pending.values()), return_when=FIRST_COMPLETED)
            for i in [i for i, f in pending.items() if f.done()]:
                ready[i] = pending.pop(i).result()
            while done in ready:
                yield ready.pop(done)
                done += 1
    finally:
        for f in pending.values():
            f.cancel()


def _init_heavy_worker(init: Callable[[], None] | None) -> None:
    """Worker start-up: one BLAS / OpenMP / torch thread (the processes are the parallelism), then ``init``."""
    os.environ.update(_ONE_THREAD)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    if init is not None:
        init()


def model_pool_imap(fn: Callable[[T], R], items: Sequence[T], n_jobs: int,
                    init: Callable[[], None] | None = None) -> Iterator[R]:
    """``fn(x)`` for each of ``items``, yielded in order, over ``n_jobs`` processes: this one and
    ``n_jobs - 1`` fresh (spawned) workers, each of which runs ``init`` once (e.g. load a model) and
    keeps it for every item it gets.

    For work whose workers hold a model of hundreds of MB (CHGNet): joblib's loky workers take that
    growth for a memory leak and restart, loading the model again (measured: 2 workers scored at half
    the speed of one). This process takes items too, on one torch thread while the pool runs: it has
    torch imported already, so it starts at once, while a spawned worker spends seconds importing
    torch and loading the model. ``fn`` and ``init`` must be module-level (picklable) functions.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    items = list(items)
    n_jobs = max(1, min(int(n_jobs or 1), len(items)))
    if init is not None and items:
        init()
    if n_jobs == 1:
        yield from (fn(x) for x in items)
        return
    ex = ProcessPoolExecutor(max_workers=n_jobs - 1, mp_context=mp.get_context("spawn"),
                             initializer=_init_heavy_worker, initargs=(init,))
    try:
        with _torch_threads(1):
            yield from _ordered_with_caller(fn, lambda x: ex.submit(fn, x), items, ahead=2 * (n_jobs - 1))
    finally:  # no wait for the idle workers to exit (about a second); pending items are cancelled
        ex.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Torch's intra-op threads set to ``n`` (where torch is imported) and restored on exit."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)


def model_pool_map(fn: Callable[[T], R], items: Sequence[T], n_jobs: int,
                   init: Callable[[], None] | None = None) -> list[R]:
    """``list(model_pool_imap(...))``: every result, in order."""
    return list(model_pool_imap(fn, items, n_jobs, init))
