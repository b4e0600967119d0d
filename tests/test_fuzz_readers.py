"""Fuzzing the readers of user files: random bytes, and valid examples mutated (characters deleted,
duplicated, replaced, inserted; lines swapped; the file cut short).

Whatever the input, a reader either returns or raises a ``DesignerError`` whose message is one line
naming the file; any other exception is a bug (it would reach the user as "unexpected ..." and exit 1).

Bounded and deterministic (``derandomize``): at most 40 examples per reader, the same ones every run.

Bugs the fuzzers found are fixed; each has a reproduction below (``test_found_*``). A new one can be
tolerated in ``KNOWN`` (with a strict-xfail reproduction) while it is being fixed.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.errors import DesignerError

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --------------------------------------------------------------------------- valid seeds

CIF = """# a hand-written cubic perovskite
data_SrTiO3
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   3.905
_cell_length_b   3.905
_cell_length_c   3.905
_cell_angle_alpha   90.0
_cell_angle_beta   90.0
_cell_angle_gamma   90.0
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Sr  Sr0  0.0  0.0  0.0  1
  Ti  Ti1  0.5  0.5  0.5  1
  O  O2  0.5  0.5  0.0  1
  O  O3  0.5  0.0  0.5  1
  O  O4  0.0  0.5  0.5  1
"""


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


CRYSTAL_CSV = (",material_id,cif,heat_ref\n0,m-0," + _quoted(CIF) + ",-0.5\n1,m-1,"
               + _quoted(CIF.replace("3.905", "3.950")) + ",\n")
PROTEIN = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
FASTA = f">wt brightness=1.5\n{PROTEIN}\n>v1\n{PROTEIN[:10]}A{PROTEIN[11:]}\n>v2 short\n{PROTEIN[:25]}\n"
A3M = f">wt\n{PROTEIN}\n>v1\n{PROTEIN[:5]}kk{PROTEIN[5:20]}--{PROTEIN[22:]}\n>v2\n{PROTEIN[:30]}...{PROTEIN[30:]}\n"
MUTATIONS = "mutant,brightness\n,1.0\nK1A,0.5\nT2G:Y4A,0.2\nSQ8R,\nA6*,0.1\n"  # reference PROTEIN, 0-based
PIPELINE = """name: fuzz
domain: crystal
seed: 0
data:
  train: [train.csv]
  properties: [heat_ref]
  max_atoms: 8
model: {latent_dim: 8, hidden: 16}
loss:
  beta: 0.01
  schedule: {kind: linear, warmup_epochs: 2}
train:
  epochs: 2
  batch_size: 8
design:
  objective: {property: heat_ref, direction: minimize}
"""
MEASUREMENTS = "id,heat_ref\nr1-001,-0.5\nr1-002,-0.25\n"

# --------------------------------------------------------------------------- mutations

SPECIAL = [b"\x00", b"\xe9", b"\xff\xfe", b"\xef\xbb\xbf", b"\x1f\x8b", b"\x01", b"\n", b"\r\n", b"\t", b",", b";",
           b'"', b"'", b">", b"-", b"*", b".", b"?", b"#", b"_", b":", b"[", b"{", b"&a", b"*a", b"!!python/object:x",
           b"loop_", b"data_x", b"Xx", b"\xc3\x89", b"J", b"B", b"X", b"U"]
NUMBERS = [b"nan", b"inf", b"-inf", b"-1", b"0", b"1e308", b"1e-9", b"180", b"-90", b"0.5", b"2", b"1000", b"3.905(2)",
           b"?", b".", b"1.5", b"99999999999999999999"]
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?")
EDIT = st.tuples(st.sampled_from(["delete", "duplicate", "replace", "insert", "truncate", "swap_lines", "number",
                                  "number"]),
                 st.integers(0, 1 << 16), st.integers(1, 40),
                 st.one_of(st.sampled_from(SPECIAL), st.text(st.characters(codec="ascii"), min_size=1, max_size=6)
                           .map(str.encode), st.binary(min_size=1, max_size=4)))


def mutate(data: bytes, edits) -> bytes:
    """``data`` with each edit ``(op, position, length, chunk)`` applied (positions wrap around)."""
    for op, pos, length, chunk in edits:
        n = len(data)
        i = pos % (n + 1)
        if op == "delete":
            data = data[:i] + data[i + length:]
        elif op == "duplicate":
            data = data[:i] + data[i:i + length] + data[i:]
        elif op == "replace":
            data = data[:i] + chunk + data[i + len(chunk):]
        elif op == "insert":
            data = data[:i] + chunk + data[i:]
        elif op == "truncate":
            data = data[:i]
        elif op == "number":  # a cell length, angle, coordinate, occupancy, label or position made odd
            numbers = list(_NUMBER.finditer(data))
            if numbers:
                m = numbers[pos % len(numbers)]
                data = data[:m.start()] + NUMBERS[length % len(NUMBERS)] + data[m.end():]
        else:  # swap two lines
            lines = data.split(b"\n")
            if len(lines) > 1:
                a, b = i % len(lines), (i + length) % len(lines)
                lines[a], lines[b] = lines[b], lines[a]
                data = b"\n".join(lines)
    return data


def inputs(seed: str) -> st.SearchStrategy[bytes]:
    """Mostly the seed mutated a few times; sometimes random bytes or random text."""
    mutated = st.lists(EDIT, min_size=1, max_size=4).map(lambda edits: mutate(seed.encode(), edits))
    return st.one_of(mutated, mutated, mutated, mutated, st.binary(max_size=400), st.text(max_size=300).map(str.encode))


# --------------------------------------------------------------------------- the contract

# (exception type, words in its message, where): bugs the fuzzers may hit, tolerated, each reproduced below
KNOWN: list[tuple[type, str, str]] = []  # (exception type, words in its message, where): none open


def _known(exc: BaseException) -> bool:
    return any(isinstance(exc, kind) and words in str(exc) for kind, words, _ in KNOWN)


def check(call, name: str) -> None:
    """``call()`` returns, or raises a one-line DesignerError naming ``name``; anything else fails."""
    try:
        call()
    except DesignerError as exc:
        msg = str(exc)
        if _known(exc):
            return
        assert "\n" not in msg.strip(), f"a multi-line error: {msg!r}"
        assert name in msg, f"the error does not name {name}: {msg!r}"
    except Exception as exc:  # noqa: BLE001 - the point of the test
        if _known(exc):
            return
        raise AssertionError(f"{type(exc).__name__} instead of a DesignerError: {exc}") from exc


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- the seeds are valid


def test_the_seeds_read(scratch, perov5_run):
    """Every fuzzer starts from an input its reader accepts (so the mutations are near-misses)."""
    from designer.config import load_pipeline
    from designer.data.crystal_io import parse_cif_text, read_crystals
    from designer.data.protein_io import SequenceOptions, read_sequences
    from designer.workflow.asktell import _observe

    assert len(parse_cif_text(CIF, "seed.cif")) == 1
    assert len(read_crystals(_write(scratch, "seed.csv", CRYSTAL_CSV.encode()), ["heat_ref"])) == 2
    assert len(read_sequences(_write(scratch, "seed.fasta", FASTA.encode()), ["brightness"], SequenceOptions())[0]) == 3
    assert len(read_sequences(_write(scratch, "seed.a3m", A3M.encode()), [], SequenceOptions(), reference=PROTEIN)[0]) == 3
    options = SequenceOptions(format="mutations", reference=PROTEIN, index_base=0)
    assert len(read_sequences(_write(scratch, "seed_mutations.csv", MUTATIONS.encode()), ["brightness"], options)[0]) == 5
    assert load_pipeline(_write(scratch, "seed.yaml", PIPELINE.encode()))[0].name == "fuzz"
    folder = _state_folder(scratch, perov5_run.config.model.latent_dim)
    assert _observe(perov5_run, folder, _write(scratch, "seed_measurements.csv", MEASUREMENTS.encode()),
                    log=lambda m: None) == 2


# --------------------------------------------------------------------------- crystals


@FUZZ
@given(data=inputs(CIF))
def test_parse_cif_text(data):
    from designer.data.crystal_io import parse_cif_text

    check(lambda: parse_cif_text(data.decode("utf-8", errors="replace"), "fuzz.cif"), "fuzz.cif")


@FUZZ
@given(data=inputs(CIF))
def test_read_crystals_cif_file(scratch, data):
    from designer.data.crystal_io import read_crystals

    path = _write(scratch, "fuzz.cif", data)
    check(lambda: read_crystals(path), "fuzz.cif")


@FUZZ
@given(data=inputs(CRYSTAL_CSV))
def test_read_crystals_csv(scratch, data):
    from designer.data.crystal_io import read_crystals

    path = _write(scratch, "fuzz.csv", data)
    check(lambda: read_crystals(path, ["heat_ref"]), "fuzz.csv")


# --------------------------------------------------------------------------- proteins


@FUZZ
@given(data=inputs(FASTA))
def test_read_sequences_fasta(scratch, data):
    from designer.data.protein_io import SequenceOptions, read_sequences

    path = _write(scratch, "fuzz.fasta", data)
    check(lambda: read_sequences(path, ["brightness"], SequenceOptions()), "fuzz.fasta")


@FUZZ
@given(data=inputs(A3M))
def test_read_sequences_a3m(scratch, data):
    from designer.data.protein_io import SequenceOptions, read_sequences

    path = _write(scratch, "fuzz.a3m", data)
    check(lambda: read_sequences(path, [], SequenceOptions(), reference=PROTEIN), "fuzz.a3m")


@FUZZ
@given(data=inputs(MUTATIONS))
def test_read_mutation_table(scratch, data):
    from designer.data.protein_io import SequenceOptions, read_sequences

    path = _write(scratch, "fuzz_mutations.csv", data)
    options = SequenceOptions(format="mutations", reference=PROTEIN, index_base=0)
    check(lambda: read_sequences(path, ["brightness"], options), "fuzz_mutations.csv")


# --------------------------------------------------------------------------- pipelines


@FUZZ
@given(data=inputs(PIPELINE))
def test_load_pipeline(scratch, data):
    from designer.config import load_pipeline

    path = _write(scratch, "fuzz.yaml", data)
    check(lambda: load_pipeline(path), "fuzz.yaml")


# --------------------------------------------------------------------------- measurements (observe)


@pytest.fixture(scope="module")
def perov5_run():
    from designer.runs import load_run

    return load_run("perov5")


def _state_folder(scratch: Path, latent_dim: int) -> Path:
    folder = scratch / "design"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    proposals = [{"id": f"r1-00{i}", "round": 1, "z": [0.0] * latent_dim, "key": f"k{i}", "predicted": [-0.5],
                  "std": [0.1], "plausibility": 0.5} for i in (1, 2)]
    (folder / "state.json").write_text(json.dumps({"version": 1, "rounds": 1, "proposals": proposals,
                                                   "observations": []}))
    return folder


@FUZZ
@given(data=inputs(MEASUREMENTS))
def test_observe_measurements(scratch, perov5_run, data):
    from designer.workflow.asktell import _observe

    folder = _state_folder(scratch, perov5_run.config.model.latent_dim)
    path = _write(scratch, "fuzz_measurements.csv", data)
    check(lambda: _observe(perov5_run, folder, path, log=lambda m: None), "fuzz_measurements.csv")


# --------------------------------------------------------------------------- the known bugs, reproduced


def _expect_one_line_naming(call, name: str) -> None:
    with pytest.raises(DesignerError) as info:
        call()
    assert "\n" not in str(info.value).strip() and name in str(info.value)


@pytest.mark.parametrize("text", [f">empty\n>wt\n{PROTEIN}\n", ">only\n", f">stop\n*{PROTEIN}\n"],
                         ids=["empty-record", "only-empty-record", "stop-first"])
def test_found_empty_fasta_record(tmp_path, text):
    from designer.data.protein_io import SequenceOptions, read_sequences

    path = _write(tmp_path, "empty_record.fasta", text.encode())
    _expect_one_line_naming(lambda: read_sequences(path, [], SequenceOptions(), reference=PROTEIN),
                            "empty_record.fasta")


def test_found_non_ascii_residue(tmp_path):
    from designer.data.protein_io import SequenceOptions, read_sequences

    path = _write(tmp_path, "accents.fasta", f">wt\n{PROTEIN[:5]}\u00c9{PROTEIN[6:]}\n".encode())
    _expect_one_line_naming(lambda: read_sequences(path, [], SequenceOptions()), "accents.fasta")


def test_found_crystal_csv_multiline_error(tmp_path):
    from designer.data.crystal_io import read_crystals

    path = _write(tmp_path, "semicolons.csv", ("material_id;cif\nm-0;" + _quoted(CIF) + "\n").encode())
    _expect_one_line_naming(lambda: read_crystals(path), "semicolons.csv")


def test_found_pipeline_control_character_multiline_error(tmp_path):
    from designer.config import load_pipeline

    path = _write(tmp_path, "control.yaml", PIPELINE.replace("seed: 0", "seed: 0\x01").encode())
    _expect_one_line_naming(lambda: load_pipeline(path), "control.yaml")
