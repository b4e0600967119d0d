"""The benchmark registry and the command line's contract: options reach the benchmark that takes
them (and are refused, by name, by one that does not), ``--version``, and distinct exit codes for a
data error (2) and a usage error (64)."""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path

import pytest

from designer.benchmarks import BENCHMARKS, benchmark_options, get_benchmark, option_flag, run_benchmark
from designer.errors import DesignerError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Replace benchmark ``name``'s run function by a recorder with the same signature; returns the calls."""
    calls: list[dict] = []

    def install(name: str) -> list[dict]:
        module, func = BENCHMARKS[name]
        mod = importlib.import_module(module)
        real = getattr(mod, func)

        def fake(**kwargs):
            calls.append(kwargs)
            return tmp_path / f"{name}.json"

        fake.__signature__ = inspect.signature(real)
        monkeypatch.setattr(mod, func, fake)
        return calls

    return install


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_every_registered_benchmark_imports_and_names_every_option(name):
    fn = get_benchmark(name)
    kinds = {p.kind for p in inspect.signature(fn).parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds
    # every option it takes is an option of `designer benchmark`, so the user can reach it
    import typer.main

    from designer.cli import app

    cli_options = {opt for p in typer.main.get_command(app).commands["benchmark"].params for opt in p.opts}
    missing = [option_flag(p) for p in benchmark_options(name) if option_flag(p) not in cli_options]
    assert not missing, f"benchmark {name} takes {missing}, which `designer benchmark` does not offer"


def test_a_wrong_option_is_an_error_naming_it_the_benchmark_and_what_it_takes():
    with pytest.raises(DesignerError) as exc:
        run_benchmark("gfp", samples=Path("x"))
    msg = str(exc.value)
    assert msg == "benchmark gfp does not take --samples (it takes: --run, --out, --n-samples, --seed)"


def test_an_unknown_benchmark_suggests_the_closest_name():
    with pytest.raises(DesignerError, match=r"unknown benchmark 'perov-opt'; did you mean 'perov5-opt'\?"):
        run_benchmark("perov-opt")


def test_the_cli_passes_only_the_options_given_plus_the_common_ones(recorded, cli):
    calls = recorded("perov5")
    assert cli("benchmark", "perov5", "--jobs", "2").code == 0
    assert cli("benchmark", "perov5").code == 0  # --jobs by default: every core, as before
    assert [{k: v for k, v in c.items() if k != "console"} for c in calls] == [
        {"jobs": 2}, {"jobs": os.cpu_count() or 1}]
    assert all("console" in c for c in calls)

    calls = recorded("ehrlich")
    assert cli("benchmark", "ehrlich", "--seeds", "1001-1008", "--settings", "L32,L128").code == 0
    assert {k: v for k, v in calls[-1].items() if k != "console"} == {"seeds": "1001-1008", "settings": "L32,L128"}

    calls = recorded("beta-sweep")
    assert cli("benchmark", "beta-sweep", "--pipeline", "pipelines/perov5.yaml", "--epochs", "30", "--force").code == 0
    assert {k: v for k, v in calls[-1].items() if k != "console"} == {
        "pipeline": "pipelines/perov5.yaml", "epochs": 30, "force": True}

    calls = recorded("diagnose-step")
    assert cli("benchmark", "diagnose-step", "--pipeline", "p.yaml", "--batch", "8").code == 0
    assert {k: v for k, v in calls[-1].items() if k != "console"} == {"pipeline": "p.yaml", "batch": 8}


def test_a_data_error_exits_2_and_a_usage_error_64(recorded, cli):
    calls = recorded("gfp")
    data = cli("benchmark", "gfp", "--samples", "x")
    assert data.code == 2 and data.err_lines == [
        "error: benchmark gfp does not take --samples (it takes: --run, --out, --n-samples, --seed)"], data
    unknown = cli("benchmark", "gpf")
    assert unknown.code == 2 and "did you mean 'gfp'" in unknown.err, unknown
    usage = cli("benchmark", "gfp", "--no-such-option")
    assert usage.code == 64 and "--no-such-option" in usage.err and "Traceback" not in usage.err, usage
    assert cli("benchmark", "gfp", "--n-samples", "0").code == 64  # out of range: caught by the parser
    assert cli("no-such-command").code == 64
    assert not calls


def test_version(cli):
    from designer import __version__

    res = cli("--version")
    assert res.code == 0 and res.out.strip() == f"designer {__version__}", res


def test_the_python_m_diagnostics_still_parse_their_arguments():
    from designer.benchmarks.diagnose import command_line_parser

    a = command_line_parser().parse_args(["step", "pipelines/carbon24.yaml", "--batch", "32"])
    assert (a.cmd, a.pipeline, a.batch) == ("step", "pipelines/carbon24.yaml", 32)
    a = command_line_parser().parse_args(["misses", "perov5"])
    assert (a.cmd, a.run, a.n) == ("misses", "perov5", 1000)
    with pytest.raises(SystemExit):
        command_line_parser().parse_args(["steps"])

