"""Shared fixtures: a tiny perov_5 CSV, a tiny pipeline, one tiny trained run, and CLI helpers.

``DESIGNER_CACHE_DIR`` is pointed at a throw-away folder at import time (before any designer
module runs), so no test ever writes to ``~/.cache/designer``; subprocesses inherit it, and so do
pytest-xdist's workers (the cache's entries are written atomically, each built once under a lock).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

_SHARED = (os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("_DESIGNER_TEST_CACHE_OWNER")
           and os.path.isdir(os.environ.get("DESIGNER_CACHE_DIR", "")))  # pytest -n: the controller's, shared
if not _SHARED and os.environ.get("_DESIGNER_TEST_CACHE_OWNER") != str(os.getpid()):  # once per process
    _CACHE = tempfile.mkdtemp(prefix="designer-test-cache-")
    os.environ["DESIGNER_CACHE_DIR"] = _CACHE
    os.environ["_DESIGNER_TEST_CACHE_OWNER"] = str(os.getpid())
    atexit.register(shutil.rmtree, _CACHE, True)
os.environ.setdefault("WANDB_MODE", "disabled")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # pytest -n N: the workers are the parallelism
    from designer.parallel import available_cores  # torch-free: nothing below has loaded torch yet

    _share = str(max(1, available_cores() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_var] = _share  # set before torch is imported; the CLI subprocesses inherit it
    if "torch" in sys.modules:  # a plug-in imported it first
        sys.modules["torch"].set_num_threads(int(_share))

import pytest  # noqa: E402
import yaml  # noqa: E402
from hypothesis import settings as _hyp_settings  # noqa: E402

# nothing written into the repository (.hypothesis/), no per-example deadline on a loaded 2-core machine
try:
    from hypothesis.configuration import set_hypothesis_home_dir as _set_home

    _set_home(os.path.join(os.environ["DESIGNER_CACHE_DIR"], "hypothesis"))
except ImportError:  # pragma: no cover - older hypothesis
    pass
_hyp_settings.register_profile("designer-tests", database=None, deadline=None)
_hyp_settings.load_profile("designer-tests")

ROOT = Path(__file__).resolve().parents[1]
PEROV = ROOT / "datasets" / "perov_5"
DESIGNER_BIN = ROOT / ".venv" / "bin" / "designer"
N_TINY = 12

TINY_MODEL = {"latent_dim": 8, "hidden": 16, "encoder_layers": 1, "feature_dim": 32, "decoder_hidden": 32,
              "decoder_layers": 1, "property_hidden": 16}
TINY_TRAIN = {"epochs": 2, "batch_size": 8, "max_minutes": 2}
TINY_SCORING = {"relax_top": 1, "relax_steps": 20}  # design/propose still score and relax, briefly
# the tiny protein design run's acquisition effort (tests of the optimiser's quality use their own settings)
TINY_OPTIMIZER = {"num_restarts": 2, "raw_samples": 32, "maxiter": 20}


# --------------------------------------------------------------------------- data


@pytest.fixture
def few_training_rows(monkeypatch, tmp_path):
    """A shipped model's ``Run.training_paths`` give the first 300 rows of its training files (what the
    optimiser and structure prediction encode: box, latents, duplicate keys, templates), so a test does
    not encode thousands of crystals where what it asserts does not depend on how many there are."""
    from designer.runs import Run

    real = Run.training_paths
    monkeypatch.setattr(Run, "training_paths", lambda self: [head_csv(p, 300, tmp_path) for p in real(self)])


def head_csv(path: Path, n: int, folder: Path) -> Path:
    """A copy of a CDVAE-style CSV with its first ``n`` rows."""
    import pandas as pd

    small = folder / f"head{n}_{Path(path).parent.name}_{Path(path).name}"
    if not small.exists():
        pd.read_csv(path, index_col=0, nrows=n).to_csv(small)
    return small


def perov_frame(n: int = N_TINY, split: str = "dev_train", start: int = 0):
    """The first ``n`` rows (from ``start``) of a perov_5 split, with its unnamed index column as index."""
    import pandas as pd

    path = PEROV / f"{split}.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return pd.read_csv(path, index_col=0).iloc[start:start + n].copy()


def write_csv(df, path: Path) -> Path:
    """Write a frame CDVAE-style (unnamed index column first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=True)
    return path


def write_pipeline(path: Path, train, *, name: str = "tiny", seed: int = 0, data: dict | None = None,
                   model: dict | None = None, train_cfg: dict | None = None, extra: dict | None = None) -> Path:
    """A small pipeline YAML (tiny model, 2 epochs)."""
    cfg = {
        "name": name,
        "domain": "crystal",
        "seed": seed,
        "data": {"train": train, "properties": ["heat_ref"], "max_atoms": 8, **(data or {})},
        "model": {**TINY_MODEL, **(model or {})},
        "train": {**TINY_TRAIN, **(train_cfg or {})},
        "scoring": dict(TINY_SCORING),
    }
    cfg.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def tiny_df():
    return perov_frame(N_TINY)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, tiny_df) -> Path:
    """A folder holding ``tiny.csv`` (12 perov_5 crystals) and ``pipeline.yaml`` that names it relatively."""
    d = tmp_path_factory.mktemp("tiny")
    write_csv(tiny_df, d / "tiny.csv")
    write_pipeline(d / "pipeline.yaml", "tiny.csv")
    return d


@pytest.fixture(scope="session")
def tiny_csv(tiny_dir) -> Path:
    return tiny_dir / "tiny.csv"


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_dir) -> Path:
    return tiny_dir / "pipeline.yaml"


@pytest.fixture(scope="session")
def tiny_structures(tiny_df):
    """pymatgen structures of the tiny CSV's crystals (same order)."""
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [Structure.from_str(c, fmt="cif") for c in tiny_df["cif"]]


@pytest.fixture(scope="session")
def tiny_elements(tiny_structures) -> set[str]:
    return {el.symbol for s in tiny_structures for el in s.composition.elements}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_pipeline) -> Path:
    """A run folder trained once (in-process) on the tiny pipeline; shared read-only by many tests."""
    from designer.config import load_pipeline
    from designer.training.train import train

    cfg, _ = load_pipeline(tiny_pipeline)
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(cfg, run_dir, progress=False)
    return run_dir


@pytest.fixture(scope="session")
def tiny_loaded(tiny_run):
    from designer.runs import load_run

    return load_run(tiny_run)


# --------------------------------------------------------------------------- CLI


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    def __repr__(self) -> str:  # shown by pytest on failure
        return f"CliResult(code={self.code!r}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``designer.cli.main`` in-process with ``sys.argv`` patched: returns a ``CliResult``.

    ``main`` (the console-script entry point) is what turns a DesignerError into exit code 2 and
    one line on stderr; the typer app alone would raise.
    """
    import designer.cli as cli_mod

    def run(*args) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["designer", *map(str, args)])
        monkeypatch.delenv("PYTHONWARNINGS", raising=False)  # main() sets it; restore afterwards
        capsys.readouterr()
        code = 0
        with warnings.catch_warnings():
            try:
                cli_mod.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        cap = capsys.readouterr()
        return CliResult(code, cap.out, cap.err)

    return run


def run_designer(*args, cwd: Path | None = None, timeout: int = 240) -> CliResult:
    """Run the installed ``designer`` console script in a subprocess."""
    exe = DESIGNER_BIN if DESIGNER_BIN.exists() else Path(sys.executable).with_name("designer")
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd or ROOT,
                          env=env, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


# --------------------------------------------------------------------------- hand-written CIFs


def simple_cif(symbol: str = "Xe", a: float = 4.0, occupancy: float = 1.0, extra_sites: str = "") -> str:
    """A P1 cubic CIF with one site (optionally partially occupied) plus ``extra_sites`` lines."""
    return f"""data_{symbol}
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   {a}
_cell_length_b   {a}
_cell_length_c   {a}
_cell_angle_alpha   90.0
_cell_angle_beta   90.0
_cell_angle_gamma   90.0
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_as_xyz
  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  {symbol}  {symbol}1  0.0  0.0  0.0  {occupancy}
{extra_sites}"""


PARTIAL_OCCUPANCY_CIF = simple_cif(
    "Sr", 3.9, occupancy=0.5,
    extra_sites="  Ti  Ti1  0.5  0.5  0.5  1.0\n  O  O1  0.5  0.5  0.0  1.0\n"
                "  O  O2  0.5  0.0  0.5  1.0\n  O  O3  0.0  0.5  0.5  1.0\n",
)
GARBAGE_CIF = "this is not a CIF file\n<html>oops</html>\n1 2 3\n"


# --------------------------------------------------------------------------- scheduling

# The files that take longest (``pytest --durations=0`` on the 2-core machine, summed per file), in that
# order. They are collected first, so that ``make test``'s workers (``--dist loadfile`` hands out whole
# files in collection order) start with them and finish together, instead of one worker running the
# last long file alone. Test order within a file, and the order of every other file, is unchanged.
SLOW_FILES = (
    "tests/test_bad_input_corpus.py",
    "tests/models/test_protein_model.py",
    "tests/benchmarks/test_latent_opt_judges.py",
    "tests/test_quickstart_notebook.py",
    "tests/benchmarks/test_scale_benchmark.py",
    "tests/optimize/test_optimize.py",
    "tests/analysis/test_latent_diagnostics.py",
    "tests/training/test_resume_after_kill.py",
    "tests/scoring/test_scoring_jobs.py",
    "tests/test_packaging.py",
    "tests/training/test_train_sample_reconstruct.py",
    "tests/scoring/test_hull.py",
    "tests/training/test_ddp.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable
