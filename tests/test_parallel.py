"""The process pools keep the order of their inputs, use the calling process as one of the workers,
and let an error through without hanging (issue 18)."""

from __future__ import annotations

import os

import pytest
import torch

from designer.parallel import model_pool_imap, parallel_map


def _square_and_pid(x: int) -> tuple[int, int, int]:
    return x * x, os.getpid(), torch.get_num_threads()


def _fails_on_five(x: int) -> int:
    if x == 5:
        raise ValueError("item 5 is bad")
    return x


def test_the_model_pool_keeps_the_order_and_this_process_works_beside_one_worker():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = list(model_pool_imap(_square_and_pid, list(range(40)), n_jobs=2))
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert [v for v, _, _ in out] == [x * x for x in range(40)]
    pids = {pid for _, pid, _ in out}
    assert os.getpid() in pids and len(pids) == 2  # this process and one spawned worker
    assert {threads for _, _, threads in out} == {1}  # one torch thread each while the pool runs
    assert after == 2  # and this process's threads are back afterwards


def test_an_error_in_the_model_pool_reaches_the_caller():
    with pytest.raises(ValueError, match="item 5 is bad"):
        list(model_pool_imap(_fails_on_five, list(range(20)), n_jobs=2))


def test_the_process_map_keeps_the_order_over_workers():
    assert parallel_map(_fails_on_five, [1, 2, 3, 4, 6, 7] * 5, n_jobs=2, chunk_size=2) == [1, 2, 3, 4, 6, 7] * 5


def _pid_and_blas_threads(x: int) -> tuple[int, int, int]:
    import numpy  # noqa: F401  (its BLAS is then loaded, so there is a thread pool to inspect)
    from threadpoolctl import threadpool_info

    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return x, os.getpid(), max(blas)


def test_the_process_map_uses_this_process_beside_its_workers_on_one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = parallel_map(_pid_and_blas_threads, list(range(64)), n_jobs=2, chunk_size=1)
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert [x for x, _, _ in out] == list(range(64))
    assert os.getpid() in {pid for _, pid, _ in out}  # the caller took items (it starts before any worker)
    assert {blas for _, _, blas in out} == {1}  # one BLAS thread in every process while the pool runs
    assert after == 2


def test_an_error_in_the_process_map_reaches_the_caller():
    with pytest.raises(ValueError, match="item 5 is bad"):
        parallel_map(_fails_on_five, list(range(40)), n_jobs=2, chunk_size=1)


def test_items_no_worker_started_are_taken_back_by_the_caller():
    from concurrent.futures import Future

    from designer.parallel import _ordered_with_caller

    never_started = []

    def submit(x):  # a pool whose workers never start: its futures stay pending
        never_started.append(Future())
        return never_started[-1]

    assert list(_ordered_with_caller(lambda x: x + 1, submit, list(range(10)), ahead=4)) == list(range(1, 11))
    assert len(never_started) >= 4 and all(f.cancelled() for f in never_started)


def _inner_pids(x: int) -> set[int]:
    return {pid for _, pid, _ in parallel_map(_pid_and_blas_threads, list(range(8)), n_jobs=2, chunk_size=1)}


def test_a_map_inside_a_pool_worker_runs_in_that_worker():
    from joblib.externals.loky import get_reusable_executor

    from designer.parallel import _ONE_THREAD

    worker = get_reusable_executor(max_workers=1, env=_ONE_THREAD)  # the pool parallel_map itself uses
    pids = worker.submit(_inner_pids, 0).result()
    assert len(pids) == 1 and os.getpid() not in pids  # the worker ran the inner map alone: no pool in a pool
