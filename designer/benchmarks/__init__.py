"""Benchmark protocols (DESIGN section 5), each writing results/<name>.json and a readable .md."""

from __future__ import annotations

from pathlib import Path

from designer.errors import DesignerError

BENCHMARKS = ("perov5", "perov5-opt", "gfp", "ehrlich", "scorecard", "beta-sweep", "score-files")


def run_benchmark(name: str, **kwargs) -> Path:
    if name == "perov5":
        from designer.benchmarks.perov5 import run

        return run(**kwargs)
    if name == "perov5-opt":
        from designer.benchmarks.perov5_opt import run

        return run(**kwargs)
    if name == "scorecard":
        from designer.benchmarks.scorecard import run

        return run(**kwargs)
    if name == "score-files":
        from designer.benchmarks.score_files_bench import run

        return run(**kwargs)
    if name == "beta-sweep":
        from designer.benchmarks.beta_sweep import run

        return run(**kwargs)
    if name == "ehrlich":
        from designer.benchmarks.ehrlich import run

        return run(**kwargs)
    if name == "gfp":
        from designer.benchmarks.gfp import run

        return run(**kwargs)
    import difflib

    close = difflib.get_close_matches(name, BENCHMARKS, n=1, cutoff=0.0)
    raise DesignerError(f"unknown benchmark {name!r}; did you mean {close[0]!r}? (available: {', '.join(BENCHMARKS)})")
