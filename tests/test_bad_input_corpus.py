"""The malformed-input corpus (``tests/data/bad/``) pushed through every CLI command that could receive it.

Each file is named after what is wrong with it; its prefix picks the commands:

* ``cif_*`` (crystals): ``reconstruct perov5 --data``, ``analyze perov5 --between F --between F``,
  ``score F --run perov5 --no-energy``;
* ``csv_*`` (crystal CSVs): ``reconstruct perov5 --data``, ``analyze perov5 --between``;
* ``labels_*`` (crystal CSVs with a bad ``heat_ref`` label, which only training reads):
  ``train`` on a small pipeline naming the file;
* ``fasta_*``, ``a3m_*``, ``seqcsv_*``, ``mut_*`` (proteins): ``reconstruct gfp --data``,
  ``analyze gfp --between``; ``.fasta`` also ``score F --run gfp``;
* ``yaml_*`` (pipelines): ``train F --out OUT``;
* ``meas_*`` (lab measurements): ``observe RUN F`` on a run folder holding a copy of the shipped
  perov5 model and a design state with two proposals (``r1-001``, ``r1-002``).

A refused input must give exit code 2, exactly one stderr line starting with ``error`` (the last
line: nothing after it), naming the file, no ``Traceback``, and change nothing: the ``--out``
folder is not created, the working folder stays empty, every corpus file keeps its bytes and the
observe run folder is unchanged.

``score`` is the exception by design ("every file gets a row, broken ones with their reason",
``designer/workflow/score_files.py``): it exits 0 and writes ``scores.csv`` with a row for the file,
whose reason must say what is wrong (or, exit 2, the refusal contract above).

Training and the analysis itself are never started: ``build_model`` and the holdout read of
``analyze`` are replaced by a function that raises, so an input that slips through fails fast
(exit 1, "training would start" / "analysis would start") instead of training.

Package bugs the corpus found are strict xfails (``BUGS``), each with what happens.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from conftest import TINY_MODEL, run_designer

BAD = Path(__file__).resolve().parent / "data" / "bad"
SHIPPED = Path(__file__).resolve().parents[1] / "designer" / "checkpoints"
NOT_CASES = {"make_corpus.py"}  # writes the corpus
CORPUS = sorted(p.name for p in BAD.iterdir() if p.is_file() and p.name not in NOT_CASES)

PROTEIN_PREFIXES = ("fasta_", "a3m_", "seqcsv_", "mut_")

# the file the error must name, where it is not the corpus file itself (a pipeline naming a data file)
NAMES = {
    "yaml_missing_data_path.yaml": "no_such_training_file.csv",
    "yaml_data_train_garbage_csv.yaml": "csv_cif_cell_garbage.csv",
    "yaml_data_train_partial_occupancy_cif.yaml": "cif_partial_occupancy_0p5.cif",
    "yaml_mutation_table_without_index_base.yaml": "mut_wrong_wildtype_letter.csv",
}

# score: files whose row may carry no reason (the file is fine for scoring; only a model's max_atoms refuses it)
SCORE_MAY_PASS = {"cif_21_atoms_over_max_atoms.cif", "cif_64_atoms_over_max_atoms.cif"}

# score: cases that kill the interpreter (a segfault in a C extension) run in a subprocess
SUBPROCESS = {("score", "cif_length_inf.cif")}

_EMPTY_ZERO = "ValueError 'sequence has zero length' from the aligner (exit 1): a FASTA record that is empty " \
              "once cleaned is not refused before alignment"
_MULTILINE = "multi-line error: read_crystal_csv puts pandas' whole message, which ends in a newline, into the " \
             "error, so a ')' line follows the error line"
_SCORE_TMP = "exit 2 naming a temporary file ('/tmp/tmp.../sequences.fasta: the file is empty'), not the input, and " \
             "no row for the broken file: with --run, the model columns are computed for zero readable sequences " \
             "through a temporary FASTA holding none"
_SCORE_TMP_DNA = "exit 2 naming a temporary file ('/tmp/tmp.../sequences.fasta: the sequences look like DNA/RNA'), " \
                 "not the input: score reads DNA letters as residues, then the model columns refuse them"
BUGS: dict[tuple[str, str], str] = {}  # every bug the corpus found is fixed; add (command, file): what happens


def commands(name: str) -> list[str]:
    if name.startswith("cif_"):
        return ["reconstruct", "analyze", "score"]
    if name.startswith("csv_"):
        return ["reconstruct", "analyze"]
    if name.startswith(PROTEIN_PREFIXES):
        return ["reconstruct", "analyze"] + (["score"] if name.endswith(".fasta") else [])
    if name.startswith(("yaml_", "labels_")):
        return ["train"]
    if name.startswith("meas_"):
        return ["observe"]
    raise AssertionError(f"{name}: no command takes this prefix; name corpus files cif_, csv_, labels_, fasta_, "
                         "a3m_, seqcsv_, mut_, yaml_ or meas_")


def _cases():
    for name in CORPUS:
        for cmd in commands(name):
            reason = BUGS.get((cmd, name))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(cmd, name, id=f"{cmd}-{name}", marks=marks)


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class _Started(RuntimeError):
    """Raised where training or the analysis would start (the input was accepted)."""


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_training_no_analysis(monkeypatch):
    import designer.analysis.analyze as analyze_mod
    import designer.training.train as train_mod

    def training(*a, **k):
        raise _Started("training would start: the pipeline and its data were accepted")

    def analysis(*a, **k):
        raise _Started("analysis would start: the --between inputs were accepted")

    monkeypatch.setattr(train_mod, "build_model", training)
    monkeypatch.setattr(analyze_mod, "_holdout", analysis)


@pytest.fixture(scope="module", autouse=True)
def _small_protein_training_set():
    """``score --run gfp`` compares each sequence with the model's training set (the whole avGFP table
    read and aligned, its latents and reference likelihoods, ~50 s on a fresh cache). For these tests, which are about
    refusing bad files, the training set is the wild type and 8 single mutants: same model, same code
    paths, a second instead of a minute."""
    import numpy as np

    from designer.data.protein_dataset import decode_tokens
    from designer.domains.base import KnownData
    from designer.domains.sequence import generate
    from designer.domains.sequence.domain import SequenceDomain

    def small_tokens(run):  # the training sequences score compares with (likelihood, distance)
        wt = generate.reference_sequence(run)
        seqs = [wt] + [wt[:i] + ("A" if wt[i] != "A" else "G") + wt[i + 1:] for i in range(10, 90, 10)]
        tokens = generate.read_sequence_strings(run, seqs).tokens
        return run.training_paths(), tokens, np.full((len(tokens), len(run.config.data.properties)), np.nan)

    def small_known(self, run):
        _, tokens, y = small_tokens(run)
        items = decode_tokens(tokens)
        return KnownData(generate.encode(run, tokens)[0], items, y, items)

    import designer.domains.sequence.domain as sequence_domain

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SequenceDomain, "known_data", small_known)
        mp.setattr(sequence_domain, "_training_tokens", small_tokens)
        yield


@pytest.fixture(scope="module")
def corpus_before() -> dict[str, str]:
    return _snapshot(BAD)


@pytest.fixture(scope="module")
def observe_run(tmp_path_factory) -> Path:
    """A run folder: the shipped perov5 model and a design state with proposals r1-001 and r1-002."""
    from designer.workflow.state import state_lock
    from designer.runs import load_run

    run = tmp_path_factory.mktemp("observe") / "perov5_run"
    (run / "design").mkdir(parents=True)
    shutil.copy(SHIPPED / "perov5.pt", run / "model.pt")
    dim = load_run(run).config.model.latent_dim
    state = {"version": 1, "rounds": 1, "observations": [],
             "proposals": [{"id": f"r1-00{i}", "round": 1, "z": [0.0] * dim, "key": f"key{i}", "predicted": [-0.5],
                            "std": [0.1], "plausibility": 0.5} for i in (1, 2)]}
    (run / "design" / "state.json").write_text(json.dumps(state, indent=1) + "\n")
    with state_lock(run / "design"):  # the lock file exists from now on: observe's own lock changes nothing
        pass
    return run


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Path:
    """An empty working folder (the command runs there); ``--out`` goes to ``sandbox / 'out'``."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def _label_pipeline(folder: Path, data: Path) -> Path:
    """A small pipeline training on ``data`` (heat_ref labels), outside the working folder."""
    import yaml

    cfg = {"name": "corpus_labels", "domain": "crystal", "seed": 0,
           "data": {"train": str(data), "properties": ["heat_ref"], "max_atoms": 8},
           "model": dict(TINY_MODEL), "train": {"epochs": 1, "batch_size": 4, "max_minutes": 1}}
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _argv(cmd: str, name: str, out: Path, observe_run: Path, tmp: Path) -> list:
    f = BAD / name
    protein = name.startswith(PROTEIN_PREFIXES)
    model = "gfp" if protein else "perov5"
    if cmd == "reconstruct":
        return ["reconstruct", model, "--data", f, "--out", out]
    if cmd == "analyze":
        return ["analyze", model, "--between", f, "--between", f, "--out", out]
    if cmd == "score":
        return ["score", f, "--run", model, "--out", out, "--no-energy"]
    if cmd == "train":
        pipeline = _label_pipeline(tmp, f) if name.startswith("labels_") else f
        return ["train", pipeline, "--out", out]
    if cmd == "observe":
        return ["observe", observe_run, f]
    raise AssertionError(cmd)


# --------------------------------------------------------------------------- the test


def test_corpus_is_large_and_small_files():
    assert len(CORPUS) >= 80, f"{len(CORPUS)} corpus files"
    big = [n for n in CORPUS if (BAD / n).stat().st_size > 8192]
    assert not big, f"corpus files over 8 KB: {big}"
    for name in CORPUS:
        commands(name)  # every file is routed to a command
    stale = [key for key in [*BUGS, *SUBPROCESS] if key[1] not in CORPUS or key[0] not in commands(key[1])]
    stale += [name for name in [*NAMES, *SCORE_MAY_PASS] if name not in CORPUS]
    assert not stale, f"entries naming no corpus case: {stale}"


@pytest.mark.parametrize("cmd,name", list(_cases()))
def test_bad_input_is_refused(cmd, name, cli, sandbox, observe_run, corpus_before, tmp_path):
    out = sandbox / "out"
    run_before = _snapshot(observe_run)
    args = _argv(cmd, name, out, observe_run, tmp_path)
    if (cmd, name) in SUBPROCESS:
        res = run_designer(*args, cwd=sandbox)
    else:
        res = cli(*args)
    text = res.out + res.err
    assert "Traceback" not in text, res
    assert res.code in ((0, 2) if cmd == "score" else (2,)), res

    if res.code == 2:
        errors = [line for line in res.err_lines if line.lstrip().lower().startswith("error")]
        assert len(errors) == 1, res
        assert res.err_lines[-1] == errors[0], f"lines after the error line (a multi-line error): {res!r}"
        before = " ".join(res.err_lines[:-1])  # train says "training NAME -> OUT" first (wrapped when long)
        assert before.startswith("training ") if before and cmd == "train" else not before, res
        expected = NAMES.get(name, name)
        assert expected in errors[0], f"the error does not name {expected}: {errors[0]}"
        assert not out.exists(), f"{out} was created"
        assert not list(sandbox.iterdir()), f"files created in the working folder: {list(sandbox.iterdir())}"
    else:  # score: one row per readable block or broken file, and a reason for a broken one
        table = out / "scores.csv"
        assert table.exists(), res
        with table.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows, f"{table} has no row for {name}"
        if name not in SCORE_MAY_PASS:
            reasons = [r.get("reasons", "") for r in rows]
            assert any(r.strip() for r in reasons), f"score gives {name} no reason: {rows}"
        assert all("\n" not in (r.get("reasons") or "") for r in rows)
        assert sorted(p.name for p in sandbox.iterdir()) == ["out"], list(sandbox.iterdir())

    assert _snapshot(BAD) == corpus_before, "a corpus file changed, or a file was written into tests/data/bad/"
    assert _snapshot(observe_run) == run_before, "the observe run folder changed"
