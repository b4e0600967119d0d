"""Benchmark protocols (DESIGN section 5), each writing results/<name>.json and a readable .md.

The registry maps a benchmark's name (``designer benchmark NAME``) to the module and function that
run it. A run function takes keyword options only (no ``**kwargs``); its parameter names are the
benchmark's options (``n_samples`` is ``--n-samples``), so an option given to a benchmark that does
not take it is an error naming both, never silently dropped. ``console`` is passed when the
function takes one; it is not an option.

Adding a benchmark is one module with a ``run(...) -> Path`` and one line in ``BENCHMARKS``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from pathlib import Path
from typing import Callable

from designer.errors import DesignerError

# name -> (module, function)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "perov5": ("designer.benchmarks.perov5", "run"),
    "perov5-opt": ("designer.benchmarks.perov5_opt", "run"),
    "carbon24-opt": ("designer.benchmarks.carbon24_opt", "run"),
    "perov5-csp": ("designer.benchmarks.csp", "run_perov5"),
    "carbon24-csp": ("designer.benchmarks.csp", "run_carbon24"),
    "carbon24": ("designer.benchmarks.carbon24", "run"),
    "mp20-subset": ("designer.benchmarks.mp20_subset", "run"),
    "gfp": ("designer.benchmarks.gfp", "run"),
    "gfp-design": ("designer.benchmarks.gfp_design", "run"),
    "ehrlich": ("designer.benchmarks.ehrlich", "run"),
    "scorecard": ("designer.benchmarks.scorecard", "run"),
    "beta-sweep": ("designer.benchmarks.beta_sweep", "run"),
    "score-files": ("designer.benchmarks.score_files_bench", "run"),
    "holdout": ("designer.benchmarks.holdout", "run"),
    "diagnose-misses": ("designer.benchmarks.diagnose", "run_misses"),
    "diagnose-step": ("designer.benchmarks.diagnose", "run_step"),
    "stability": ("designer.benchmarks.stability", "run"),
    "evaluators": ("designer.benchmarks.evaluators", "run"),
    "scale": ("designer.benchmarks.scale", "run"),
}

NOT_OPTIONS = ("console",)  # parameters the caller supplies, not the user


def benchmark_names() -> list[str]:
    return list(BENCHMARKS)


def option_flag(param: str) -> str:
    """A run function's parameter name as the command-line option: ``n_samples`` -> ``--n-samples``."""
    return "--" + param.replace("_", "-")


def get_benchmark(name: str) -> Callable[..., Path]:
    """The run function of benchmark ``name``; an unknown name is an error suggesting the closest one."""
    if name not in BENCHMARKS:
        close = difflib.get_close_matches(name, BENCHMARKS, n=1, cutoff=0.0)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise DesignerError(f"unknown benchmark {name!r}; {hint}(available: {', '.join(BENCHMARKS)})")
    module, func = BENCHMARKS[name]
    return getattr(importlib.import_module(module), func)


def _params(fn: Callable) -> dict[str, inspect.Parameter]:
    params = inspect.signature(fn).parameters
    var = [p.name for p in params.values() if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    if var:  # a registry rule, so that no option is ever swallowed
        raise TypeError(f"{fn.__module__}.{fn.__name__} takes *{var[0]}: benchmark run functions name every option")
    return dict(params)


def benchmark_options(name: str) -> list[str]:
    """The options (parameter names, in signature order) benchmark ``name`` takes; ``console`` excluded."""
    return [p for p in _params(get_benchmark(name)) if p not in NOT_OPTIONS]


def run_benchmark(name: str, console=None, **options) -> Path:
    """Run benchmark ``name`` with ``options`` (parameter names of its run function).

    An option the benchmark does not take is a one-line DesignerError naming the option, the
    benchmark and the options it does take.
    """
    fn = get_benchmark(name)
    params = _params(fn)
    takes = [p for p in params if p not in NOT_OPTIONS]
    wrong = [k for k in options if k not in takes]
    if wrong:
        given = ", ".join(option_flag(k) for k in wrong)
        raise DesignerError(f"benchmark {name} does not take {given} "
                            f"(it takes: {', '.join(option_flag(p) for p in takes) or 'no options'})")
    if console is not None and "console" in params:
        options["console"] = console
    return fn(**options)
