"""The on-disk cache: an entry is built once, even when two callers want it at the same time."""

from __future__ import annotations

import threading
import time

from designer.data.cache import cache_dir, cached


def test_two_callers_at_once_build_an_entry_once_and_both_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DESIGNER_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "input.csv"
    source.write_text("a,b\n1,2\n")
    builds, results = [], []

    def build():
        builds.append(threading.get_ident())
        time.sleep(0.5)  # the second caller arrives while this one is building
        return {"rows": 1}

    def call():
        results.append(cached(source, {"kind": "test"}, build))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()
    assert len(builds) == 1 and results == [{"rows": 1}, {"rows": 1}]
    assert len(list(cache_dir().glob("input.csv.*.pkl"))) == 1
    assert cached(source, {"kind": "test"}, build) == {"rows": 1} and len(builds) == 1  # later calls read it
