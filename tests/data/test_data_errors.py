"""Bad input gives one clear line naming the file / row / key (DataError / ConfigError), and the CLI
turns it into exit code 2 with one line on stderr and no traceback. Plus the dataset cache and
relative paths in pipeline files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import (
    GARBAGE_CIF,
    PARTIAL_OCCUPANCY_CIF,
    perov_frame,
    run_designer,
    simple_cif,
    write_csv,
    write_pipeline,
)
from designer.config import load_pipeline
from designer.data import load_graph_dataset, read_crystals
from designer.data.crystal_dataset import load_records
from designer.errors import ConfigError, DataError, DesignerError


def assert_one_line(exc: BaseException, *needles: str) -> str:
    msg = str(exc)
    assert msg.strip() and "\n" not in msg.strip(), msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    return msg


def assert_cli_error(res, *needles: str, only_line: bool = True) -> str:
    """Exit code 2, the error on one stderr line naming ``needles``, no traceback."""
    assert res.code == 2, res
    assert "Traceback" not in res.err + res.out, res
    errors = [line for line in res.err_lines if line.lstrip().lower().startswith("error")]
    assert len(errors) == 1, res
    if only_line:
        assert len(res.err_lines) == 1, res
    for needle in needles:
        assert needle in errors[0], (needle, res)
    return errors[0]


def train_cfg(pipeline: Path, *overrides: str):
    cfg, _ = load_pipeline(pipeline, list(overrides))
    return cfg


def load(cfg):
    d = cfg.data
    return load_graph_dataset([Path(p) for p in d.train], d.properties, None, d.cutoff, d.max_neighbors,
                              d.max_atoms, d.cache)


@pytest.fixture
def bad_csv(tmp_path, tiny_df):
    """``(write(row, cif_text) -> path)``: the tiny CSV with one row's CIF replaced."""

    def write(row: int, cif: str, name: str = "bad.csv") -> Path:
        df = tiny_df.copy()
        df.iloc[row, df.columns.get_loc("cif")] = cif
        return write_csv(df, tmp_path / name)

    return write


# --------------------------------------------------------------------------- unparsable CIF


def test_garbage_cif_in_csv_names_file_row_and_id(bad_csv, tiny_df):
    path = bad_csv(2, GARBAGE_CIF)
    with pytest.raises(DataError) as ei:
        read_crystals(path, ["heat_ref"])
    assert_one_line(ei.value, str(path), "row 3", str(tiny_df["material_id"].iloc[2]), "CIF")


def test_garbage_standalone_cif_file(tmp_path):
    path = tmp_path / "junk.cif"
    path.write_text(GARBAGE_CIF)
    with pytest.raises(DataError) as ei:
        read_crystals(path)
    assert_one_line(ei.value, str(path))


def test_garbage_cif_in_a_folder_names_the_file(tmp_path, tiny_structures):
    from designer.io.crystal_files import write_cif

    write_cif(tiny_structures[0], tmp_path / "good.cif")
    (tmp_path / "zz_bad.cif").write_text(GARBAGE_CIF)
    with pytest.raises(DataError) as ei:
        read_crystals(tmp_path)
    assert_one_line(ei.value, "zz_bad.cif")


@pytest.mark.parametrize("symbol", ["Xx", "Qq", "X"])
def test_an_unknown_element_symbol_is_refused_not_read_as_a_huge_atomic_number(bad_csv, tiny_df, symbol):
    path = bad_csv(1, simple_cif(symbol))
    with pytest.raises(DataError) as ei:
        read_crystals(path, ["heat_ref"])
    assert_one_line(ei.value, str(path), "row 2", "unknown element", repr(symbol))


def test_cli_garbage_cif_in_training_csv_exits_2(bad_csv, tmp_path, cli):
    path = bad_csv(2, GARBAGE_CIF)
    pipe = write_pipeline(tmp_path / "p.yaml", path.name)
    res = cli("train", pipe, "--out", tmp_path / "run")
    assert_cli_error(res, "bad.csv", "row 3", only_line=False)  # `train` announces itself first
    assert not (tmp_path / "run" / "model.pt").exists()


def test_cli_garbage_standalone_cif_subprocess(tmp_path, tiny_run):
    """The real console script: exit 2, one stderr line, no traceback."""
    path = tmp_path / "junk.cif"
    path.write_text(GARBAGE_CIF)
    res = run_designer("reconstruct", tiny_run, "--data", path, "--out", tmp_path / "out")
    assert_cli_error(res, "junk.cif")


# --------------------------------------------------------------------------- partial occupancy


def test_partial_occupancy_cif_file(tmp_path):
    path = tmp_path / "disordered.cif"
    path.write_text(PARTIAL_OCCUPANCY_CIF)
    with pytest.raises(DataError) as ei:
        read_crystals(path)
    assert_one_line(ei.value, str(path), "occupancy")


def test_partial_occupancy_row_in_csv(bad_csv):
    path = bad_csv(1, PARTIAL_OCCUPANCY_CIF)
    with pytest.raises(DataError) as ei:
        read_crystals(path, ["heat_ref"])
    assert_one_line(ei.value, str(path), "row 2", "occupancy")


def test_cli_partial_occupancy_reconstruct(tmp_path, tiny_run, cli):
    path = tmp_path / "disordered.cif"
    path.write_text(PARTIAL_OCCUPANCY_CIF)
    res = cli("reconstruct", tiny_run, "--data", path, "--out", tmp_path / "out")
    assert_cli_error(res, "disordered.cif", "occupancy")


# --------------------------------------------------------------------------- vocabulary, size


@pytest.fixture
def foreign_cif(tmp_path, tiny_elements) -> Path:
    symbol = next(s for s in ("Xe", "U", "Kr", "Ne") if s not in tiny_elements)
    path = tmp_path / f"simple_{symbol}.cif"
    path.write_text(simple_cif(symbol, 4.4))
    return path


def test_element_outside_vocabulary(tiny_loaded, foreign_cif):
    from designer.domains.crystal.generate import read_for_run

    symbol = foreign_cif.stem.split("_")[1]
    with pytest.raises(DataError) as ei:
        read_for_run(tiny_loaded, foreign_cif)
    assert_one_line(ei.value, str(foreign_cif), f"element {symbol}", "vocabulary")


def test_cli_element_outside_vocabulary(tiny_run, foreign_cif, tmp_path, cli):
    res = cli("reconstruct", tiny_run, "--data", foreign_cif, "--out", tmp_path / "out")
    assert_cli_error(res, foreign_cif.name, "vocabulary")
    assert not (tmp_path / "out" / "reconstruct.csv").exists()


def test_more_atoms_than_max_atoms_in_training_data(tiny_pipeline, tiny_csv):
    cfg = train_cfg(tiny_pipeline, "data.max_atoms=4")  # perov_5 cells have 5 atoms
    with pytest.raises(DataError) as ei:
        load(cfg)
    assert_one_line(ei.value, str(tiny_csv), "row 1", "max_atoms=4")


def test_cli_more_atoms_than_max_atoms_reconstruct(tmp_path, tiny_run, tiny_structures, cli):
    from designer.io.crystal_files import write_cif

    big = tiny_structures[0].copy()
    big.make_supercell([2, 1, 1])  # 10 atoms > max_atoms = 8
    write_cif(big, tmp_path / "big.cif")
    res = cli("reconstruct", tiny_run, "--data", tmp_path / "big.cif", "--out", tmp_path / "out")
    assert_cli_error(res, "big.cif", "max_atoms")


def test_cli_more_atoms_than_max_atoms_train(tiny_pipeline, tmp_path, cli):
    res = cli("train", tiny_pipeline, "--set", "data.max_atoms=4", "--out", tmp_path / "run")
    assert_cli_error(res, "tiny.csv", "row 1", "max_atoms", only_line=False)


# --------------------------------------------------------------------------- columns, empty, missing


def test_missing_property_column(tmp_path, tiny_csv):
    pipe = write_pipeline(tmp_path / "p.yaml", str(tiny_csv), data={"properties": ["not_a_column"]})
    with pytest.raises(DataError) as ei:
        load(train_cfg(pipe))
    assert_one_line(ei.value, str(tiny_csv), "not_a_column")


def test_cli_missing_property_column(tmp_path, tiny_csv, cli):
    pipe = write_pipeline(tmp_path / "p.yaml", str(tiny_csv), data={"properties": ["not_a_column"]})
    res = cli("train", pipe, "--out", tmp_path / "run")
    assert_cli_error(res, "not_a_column", only_line=False)


def test_non_numeric_property_value(tmp_path, tiny_df):
    df = tiny_df.copy()
    df["heat_ref"] = df["heat_ref"].astype(object)
    df.iloc[4, df.columns.get_loc("heat_ref")] = "n/a?"
    path = write_csv(df, tmp_path / "props.csv")
    with pytest.raises(DataError) as ei:
        read_crystals(path, ["heat_ref"])
    assert_one_line(ei.value, str(path), "row 5", "heat_ref")


@pytest.mark.parametrize("name", ["empty.csv", "empty.cif"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("")
    with pytest.raises(DataError) as ei:
        read_crystals(path)
    assert_one_line(ei.value, str(path), "empty")


def test_header_only_csv(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(",material_id,cif,heat_ref\n")
    with pytest.raises(DataError) as ei:
        read_crystals(path, ["heat_ref"])
    assert_one_line(ei.value, str(path))


def test_csv_without_cif_column(tmp_path):
    path = tmp_path / "nocif.csv"
    path.write_text("material_id,heat_ref\n1,0.5\n")
    with pytest.raises(DataError) as ei:
        read_crystals(path)
    assert_one_line(ei.value, str(path), "cif")


def test_cli_empty_file_subprocess(tmp_path, tiny_run):
    path = tmp_path / "empty.csv"
    path.write_text("")
    res = run_designer("reconstruct", tiny_run, "--data", path, "--out", tmp_path / "out")
    assert_cli_error(res, "empty.csv", "empty")


def test_missing_path(tmp_path):
    with pytest.raises(DataError) as ei:
        read_crystals(tmp_path / "nope.csv")
    assert_one_line(ei.value, "nope.csv")


def test_missing_path_through_the_cached_loader(tmp_path):
    with pytest.raises(DataError) as ei:
        load_records(tmp_path / "nope.csv", [])
    assert_one_line(ei.value, "nope.csv")


def test_cli_missing_training_file(tmp_path, cli):
    pipe = write_pipeline(tmp_path / "p.yaml", "does_not_exist.csv")
    res = cli("train", pipe, "--out", tmp_path / "run")
    assert_cli_error(res, "does_not_exist.csv", only_line=False)


def test_cli_missing_pipeline_file(tmp_path, cli):
    res = cli("train", tmp_path / "nope.yaml")
    assert_cli_error(res, "nope.yaml")


def test_cli_missing_data_for_reconstruct(tmp_path, tiny_run, cli):
    res = cli("reconstruct", tiny_run, "--data", tmp_path / "nope.csv", "--out", tmp_path / "out")
    assert_cli_error(res, "nope.csv")


def test_cli_missing_run(tmp_path, cli):
    res = cli("sample", tmp_path / "no_such_run", "-n", "2", "--out", tmp_path / "out")
    assert_cli_error(res, "no_such_run")


def test_cli_seed_beyond_numpys_range_is_refused_in_one_line(tiny_run, tmp_path, cli):
    res = cli("sample", tiny_run, "-n", "2", "--seed", str(2**40), "--out", tmp_path / "out")
    assert res.code == 64 and "Traceback" not in res.err + res.out, res  # a usage error, caught by the parser
    assert "seed" in res.err.lower() and "4294967295" in res.err and not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- config


def test_config_typo_names_the_closest_key(tmp_path, tiny_csv):
    pipe = write_pipeline(tmp_path / "p.yaml", str(tiny_csv))
    pipe.write_text(pipe.read_text().replace("\ntrain:", "\ntrian:"))
    with pytest.raises(ConfigError) as ei:
        load_pipeline(pipe)
    msg = assert_one_line(ei.value, str(pipe), "trian")
    assert "'train'" in msg


def test_a_typo_of_a_required_key_is_named_as_the_typo(tmp_path, tiny_csv):
    pipe = write_pipeline(tmp_path / "p.yaml", str(tiny_csv))
    pipe.write_text(pipe.read_text().replace("\ndata:", "\ndataa:"))
    with pytest.raises(ConfigError) as ei:
        load_pipeline(pipe)
    msg = assert_one_line(ei.value, str(pipe), "dataa")
    assert "did you mean 'data'" in msg and "missing" not in msg


def test_a_set_value_that_is_not_yaml_is_one_line(tiny_pipeline):
    with pytest.raises(ConfigError) as ei:
        load_pipeline(tiny_pipeline, ["train.epochs=[1"])
    assert_one_line(ei.value, "train.epochs=[1", "not valid YAML")


def test_nested_config_typo(tmp_path, tiny_csv):
    pipe = write_pipeline(tmp_path / "p.yaml", str(tiny_csv), model={"latnet_dim": 4})
    with pytest.raises(ConfigError) as ei:
        load_pipeline(pipe)
    assert_one_line(ei.value, "latnet_dim", "model.latent_dim")


def test_cli_config_typo(tmp_path, tiny_csv, cli):
    pipe = write_pipeline(tmp_path / "p.yaml", str(tiny_csv))
    pipe.write_text(pipe.read_text().replace("\ntrain:", "\ntrian:"))
    res = cli("train", pipe, "--out", tmp_path / "run")
    line = assert_cli_error(res, "trian")
    assert "train" in line.replace("trian", "")


def test_set_unknown_key(tiny_pipeline):
    with pytest.raises(ConfigError) as ei:
        load_pipeline(tiny_pipeline, ["train.epochz=3"])
    assert_one_line(ei.value, "epochz", "train.epochs")


def test_set_without_equals(tiny_pipeline):
    with pytest.raises(ConfigError) as ei:
        load_pipeline(tiny_pipeline, ["train.epochs"])
    assert_one_line(ei.value, "train.epochs")


def test_set_invalid_value(tiny_pipeline):
    with pytest.raises(ConfigError) as ei:
        load_pipeline(tiny_pipeline, ["train.epochs=0"])
    assert_one_line(ei.value, "train.epochs")


def test_set_overrides_a_value(tiny_pipeline):
    cfg, _ = load_pipeline(tiny_pipeline, ["train.epochs=7", "loss.beta=0.5", "data.properties=[heat_all]"])
    assert cfg.train.epochs == 7 and cfg.loss.beta == 0.5 and cfg.data.properties == ["heat_all"]


def test_cli_set_unknown_key(tiny_pipeline, tmp_path, cli):
    res = cli("train", tiny_pipeline, "--set", "train.epochz=3", "--out", tmp_path / "run")
    assert_cli_error(res, "epochz", "train.epochs")


def test_invalid_yaml(tmp_path):
    pipe = tmp_path / "p.yaml"
    pipe.write_text("name: x\ndata: [unclosed\n")
    with pytest.raises(ConfigError) as ei:
        load_pipeline(pipe)
    assert_one_line(ei.value, str(pipe))


# --------------------------------------------------------------------------- cache


def test_second_read_of_the_same_csv_uses_the_cache(tmp_path, monkeypatch, tiny_csv):
    import designer.data.crystal_dataset as ds

    monkeypatch.setenv("DESIGNER_CACHE_DIR", str(tmp_path / "cache"))
    first = load_records(tiny_csv, ["heat_ref"])
    assert any((tmp_path / "cache").iterdir())

    def boom(*a, **k):
        raise AssertionError("parsed again: the cache was not used")

    monkeypatch.setattr(ds, "read_crystals", boom)
    second = load_records(tiny_csv, ["heat_ref"])
    assert [r.id for r in second] == [r.id for r in first]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.frac_coords, b.frac_coords)
        np.testing.assert_array_equal(a.lattice, b.lattice)
        assert a.properties == b.properties


def test_graphs_are_cached_too(tmp_path, monkeypatch, tiny_pipeline):
    import designer.data.crystal_dataset as ds

    monkeypatch.setenv("DESIGNER_CACHE_DIR", str(tmp_path / "cache"))
    cfg = train_cfg(tiny_pipeline)
    _, data1, vocab1 = load(cfg)

    def boom(*a, **k):
        raise AssertionError("rebuilt: the cache was not used")

    monkeypatch.setattr(ds, "read_crystals", boom)
    monkeypatch.setattr(ds, "build_graphs", boom)
    _, data2, vocab2 = load(cfg)
    assert vocab1 == vocab2 and len(data1) == len(data2)
    for a, b in zip(data1, data2):
        assert (a.edge_index == b.edge_index).all() and (a.edge_dist == b.edge_dist).all()


def test_cache_is_keyed_on_content_and_options(tmp_path, monkeypatch, tiny_df):
    import designer.data.crystal_dataset as ds

    monkeypatch.setenv("DESIGNER_CACHE_DIR", str(tmp_path / "cache"))
    path = write_csv(tiny_df, tmp_path / "data.csv")
    calls = []
    real = ds.read_crystals
    monkeypatch.setattr(ds, "read_crystals", lambda *a, **k: calls.append(1) or real(*a, **k))
    load_records(path, ["heat_ref"])
    load_records(path, ["heat_ref"])
    assert len(calls) == 1
    load_records(path, ["heat_all"])  # other options -> parsed again
    assert len(calls) == 2
    write_csv(tiny_df.iloc[:5], path)  # same name, new content -> parsed again
    assert len(load_records(path, ["heat_ref"])) == 5
    assert len(calls) == 3
    bad = tiny_df.copy()
    bad.iloc[0, bad.columns.get_loc("cif")] = GARBAGE_CIF
    write_csv(bad, path)  # the cache must never hide a broken file
    with pytest.raises(DataError):
        load_records(path, ["heat_ref"])


def test_tests_never_use_the_home_cache():
    from designer.data.cache import cache_dir

    assert Path.home() / ".cache" / "designer" != cache_dir()
    assert os.environ["DESIGNER_CACHE_DIR"] == str(cache_dir())


# --------------------------------------------------------------------------- relative paths


def test_relative_paths_resolve_against_the_pipeline_folder(tmp_path, monkeypatch, tiny_df):
    proj = tmp_path / "project"
    write_csv(tiny_df, proj / "data" / "train.csv")
    write_csv(tiny_df.iloc[:3], proj / "data" / "test.csv")
    pipe = write_pipeline(proj / "pipelines" / "p.yaml", "../data/train.csv", data={"test": "../data/test.csv"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg, folder = load_pipeline(Path(os.path.relpath(pipe, elsewhere)))
    assert folder.resolve() == pipe.parent.resolve()
    assert Path(cfg.data.train[0]) == (proj / "data" / "train.csv").resolve()
    assert Path(cfg.data.test) == (proj / "data" / "test.csv").resolve()
    records, data, vocab = load(cfg)
    assert len(records) == len(tiny_df)


def test_cli_train_from_another_cwd(tmp_path, monkeypatch, tiny_pipeline, cli):
    """`designer train` finds the pipeline's relative data from any working directory."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = cli("train", tiny_pipeline, "--set", "train.epochs=1", "--out", "run")
    assert res.code == 0, res
    assert (elsewhere / "run" / "model.pt").exists()


def test_error_classes_are_designer_errors():
    assert issubclass(DataError, DesignerError) and issubclass(ConfigError, DesignerError)


def test_dataset_csv_reads_cleanly(tmp_path):
    """The embedded perov_5 data parses: ids from material_id, Niggli cells, wrapped coordinates."""
    df = perov_frame(5, "val")
    recs = read_crystals(write_csv(df, tmp_path / "v.csv"), ["heat_ref"])
    assert [r.id for r in recs] == [str(x) for x in df["material_id"]]
    for r, h in zip(recs, df["heat_ref"]):
        assert (r.frac_coords >= 0).all() and (r.frac_coords < 1).all()
        assert np.linalg.det(r.lattice) > 0
        assert r.properties["heat_ref"] == pytest.approx(h)


def test_two_rows_are_too_few_to_train_a_fresh_model_and_no_run_folder_is_left(tmp_path, tiny_df, cli):
    data = write_csv(tiny_df.iloc[:2], tmp_path / "two.csv")
    pipe = write_pipeline(tmp_path / "p.yaml", str(data))
    res = cli("train", pipe, "--out", tmp_path / "run")
    line = assert_cli_error(res, "two.csv", only_line=False)  # after the "training ... ->" line
    assert "2 usable rows" in line and "--init-from" in line
    assert not (tmp_path / "run").exists()
