"""Property labels are checked as a column before training (issue 19): a heat_ref of 1e30 trained a
head predicting ~1e29 everywhere, and an all-NaN column trained too."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import perov_frame, write_csv, write_pipeline
from designer.data.label_checks import check_labels
from designer.errors import DataError


def test_an_absurd_value_is_refused_naming_its_row():
    y = np.array([[0.1], [0.3], [-0.2], [1e30], [0.25]])
    with pytest.raises(DataError, match=r"^f\.csv: row 4: property 'heat_ref' is 1e\+30"):
        check_labels(y, ["heat_ref"], "f.csv", [f"f.csv: row {i + 1}" for i in range(5)])


def test_an_all_nan_column_is_refused_naming_the_column():
    y = np.array([[1.0, np.nan], [2.0, np.nan]])
    with pytest.raises(DataError, match="property 'gap' has no value in any row"):
        check_labels(y, ["energy", "gap"], "f.csv", ["r1", "r2"])


def test_wide_but_real_columns_pass():
    rng = np.random.default_rng(0)
    gaps = np.concatenate([np.zeros(80), rng.uniform(0.1, 8.0, 20)])  # mostly metals: IQR 0 at the low end
    conductivity = 10 ** rng.uniform(-6, 3, 100)                        # nine decades
    sparse = np.where(rng.random(100) < 0.9, np.nan, rng.normal(size=100))
    check_labels(np.stack([gaps, conductivity, sparse], 1), ["gap", "sigma", "sparse"], "f.csv",
                 [str(i) for i in range(100)])


def test_train_refuses_an_absurd_label_with_one_line_and_no_model(cli, tmp_path):
    df = perov_frame(12)
    df.iloc[5, df.columns.get_loc("heat_ref")] = 1e30
    write_csv(df, tmp_path / "bad.csv")
    pipe = write_pipeline(tmp_path / "p.yaml", "bad.csv")
    res = cli("train", pipe, "--out", tmp_path / "run")
    assert res.code == 2 and "Traceback" not in res.err
    line = res.err_lines[-1]
    assert "bad.csv: row 6" in line and "'heat_ref' is 1e+30" in line
    assert not (tmp_path / "run" / "model.pt").exists()
