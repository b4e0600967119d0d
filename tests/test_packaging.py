"""A non-editable install works from any folder: everything the package reads ships inside it.

The project is built and installed with pip (``--no-deps --no-build-isolation --target``: the
dependencies are the ones of the test's own environment) from a copy of the sources, and then run
from an unrelated folder with only the installed copy importable, so a path that reaches outside
the package (``Path(__file__).parents[...]`` to the checkout) fails here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# every pipeline in the checkout must reach the installed copy (a new one is caught if package data misses it)
SHIPPED_PIPELINES = sorted(p.stem for p in (ROOT / "designer" / "pipelines").glob("*.yaml"))


def _copy_sources(dest: Path) -> Path:
    """What a build reads: pyproject.toml, README.md and the package (no caches, no checkout files)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "designer", dest / "designer",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The folder the project was pip-installed into (non-editable)."""
    for tool in ("pip", "setuptools"):  # setuptools >= 70 builds wheels itself
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"build tooling missing: {tool} is not installed in {sys.prefix}")
    base = tmp_path_factory.mktemp("packaging")
    src = _copy_sources(base / "src")
    site = base / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                           "--no-compile", "--quiet", "--target", str(site), str(src)],
                          capture_output=True, text=True, timeout=300, cwd=base)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return site


def _run(site: Path, cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python *args`` with only the installed copy importable (not the checkout), from ``cwd``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PYTHONPATH=str(site), PYTHONSAFEPATH="1", COLUMNS="200", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    d = tmp_path / "elsewhere"
    d.mkdir()
    return d


def test_the_installed_package_is_the_one_imported_and_carries_its_files(installed, elsewhere):
    code = (
        "import designer, designer.resources as r\n"
        "from designer.config import load_pipeline\n"
        "print(designer.__file__)\n"
        "print(r.package_path())\n"
        "print(','.join(r.shipped_pipelines()))\n"
        "cfg, _ = load_pipeline(r.pipeline_file('perov5'))\n"
        "print(all(__import__('pathlib').Path(p).is_file() for p in [*cfg.data.train, cfg.data.test]))\n"
        "print(cfg.data.train[0])\n"
        "print(r.data_file('elemental_references.json').is_file(), (r.checkpoints_dir() / 'perov5.pt').is_file(),\n"
        "      r.package_path('report', 'vendor', '3Dmol-min.js.gz').is_file())\n"
    )
    proc = _run(installed, elsewhere, "-c", code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    module, root, pipelines, data_ok, train0, files_ok = proc.stdout.splitlines()[-6:]
    assert Path(module).resolve().is_relative_to(installed.resolve()), module
    assert not Path(module).resolve().is_relative_to(ROOT / "designer"), module
    assert Path(root).resolve().is_relative_to(installed.resolve()), root
    assert pipelines.split(",") == SHIPPED_PIPELINES
    assert data_ok == "True" and Path(train0).resolve().is_relative_to(installed.resolve()), train0
    assert files_ok == "True True True"  # the shipped model, the reference energies, the report's 3Dmol.js


def test_installed_cli_samples_and_scores_from_another_folder(installed, elsewhere):
    version = _run(installed, elsewhere, "-m", "designer.cli", "--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("designer "), version

    res = _run(installed, elsewhere, "-m", "designer.cli", "sample", "perov5", "-n", "5", "--out", "samples")
    assert res.returncode == 0, res.stderr[-3000:]
    cifs = sorted((elsewhere / "samples").glob("*.cif"))
    assert len(cifs) == 5 and (elsewhere / "samples" / "samples.csv").is_file(), res.stdout[-2000:]

    res = _run(installed, elsewhere, "-m", "designer.cli", "score", str(cifs[0].relative_to(elsewhere)),
               "--out", "scores")
    assert res.returncode == 0, res.stderr[-3000:]
    table = elsewhere / "scores" / "scores.csv"
    assert table.is_file(), res.stdout[-2000:]
    assert cifs[0].stem in table.read_text()
    # the hull's references (the frozen competing phases, the perov_5 CHGNet energies) were found inside the package
    text = " ".join(res.stdout.split())
    for what in ("competing phases", "training compounds"):
        found = re.search(r"(\d+) " + what, text)
        assert found and int(found.group(1)) > 0, (f"the installed package did not find its shipped {what}",
                                                    res.stdout[-2000:])
