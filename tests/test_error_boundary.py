"""One error boundary in the CLI (issue 19): an unexpected exception is one line naming a log file
that holds the traceback (``--debug`` prints it), a file-system error names its path, and a value
that is not finite is refused where it enters."""

from __future__ import annotations

import re
from pathlib import Path



def test_an_unexpected_exception_is_one_line_with_a_log_holding_the_traceback(cli, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.setattr("designer.benchmarks.run_benchmark", broken)
    monkeypatch.setenv("DESIGNER_CACHE_DIR", str(tmp_path / "cache"))
    res = cli("benchmark", "holdout")
    assert res.code == 1
    assert "Traceback" not in res.err
    line = " ".join(res.err_lines)
    assert "unexpected RuntimeError: something inside broke" in line and "second line" not in line
    log = Path(re.search(r"traceback in (\S+?\.log)", line).group(1))
    assert log.parent == tmp_path / "cache" / "logs"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "in broken" in text and "benchmark holdout" in text


def test_debug_prints_the_traceback(cli, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise ValueError("bad thing")

    monkeypatch.setattr("designer.benchmarks.run_benchmark", broken)
    monkeypatch.setenv("DESIGNER_CACHE_DIR", str(tmp_path / "cache"))
    res = cli("benchmark", "holdout", "--debug")
    assert res.code == 1 and "Traceback (most recent call last)" in res.err and "ValueError: bad thing" in res.err


def test_an_out_folder_that_is_a_file_is_one_line_naming_it(cli, tiny_run, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file the user keeps")
    res = cli("sample", tiny_run, "-n", "2", "--out", blocker)
    assert res.code == 2 and "Traceback" not in res.err
    assert str(blocker) in res.err_lines[-1] and res.err_lines[-1].startswith("error:")
    assert blocker.read_text() == "a file the user keeps"


def test_a_folder_given_as_the_pipeline_file_is_one_line_naming_it(cli, tmp_path):
    res = cli("train", tmp_path)
    assert res.code == 2 and "Traceback" not in res.err and str(tmp_path) in res.err_lines[-1]


def test_an_infinite_temperature_is_a_usage_error(cli, tiny_run, tmp_path):
    res = cli("sample", tiny_run, "-n", "2", "--out", tmp_path / "s", "--temperature", "inf")
    assert res.code == 64 and "not a finite number" in res.err
    assert not (tmp_path / "s").exists()




def test_a_message_holding_brackets_is_printed_literally(cli, tiny_pipeline, tmp_path):
    # "[lo, hi]" looked like rich markup and vanished: "give  for direction"
    import yaml

    cfg = yaml.safe_load(tiny_pipeline.read_text())
    prop = cfg["data"]["properties"][0]
    res = cli("design", tiny_pipeline, "--set", f"design.objective={{property: {prop}, direction: target}}",
              "--out", tmp_path / "out")
    assert res.code == 2, res
    assert "give [lo, hi] for direction: target" in " ".join(res.err_lines)


def test_an_accelerator_this_machine_lacks_is_one_line_before_any_data_is_read(cli, tiny_pipeline, tmp_path, monkeypatch):
    from designer.training import hardware

    monkeypatch.setattr(hardware, "available_accelerators", lambda: {"cpu": 1})
    res = cli("train", tiny_pipeline, "--set", "train.accelerator=gpu", "--out", tmp_path / "run")
    errors = [line for line in res.err_lines if line.startswith("error:")]
    assert res.code == 2 and len(errors) == 1 and "Traceback" not in res.err, res
    assert "train.accelerator: 'gpu' is not available" in errors[0] and "cpu" in res.err
    assert not (tmp_path / "run").exists()


def test_more_devices_than_present_is_refused(monkeypatch):
    import pytest

    from designer.errors import ConfigError
    from designer.training import hardware

    monkeypatch.setattr(hardware, "available_accelerators", lambda: {"cpu": 1, "gpu": 2, "cuda": 2})
    hardware.check_accelerator("gpu", 2)
    hardware.check_accelerator("auto", 8)
    with pytest.raises(ConfigError, match="train.devices: 4 gpu devices asked, 2 here"):
        hardware.check_accelerator("gpu", 4)


class _Payload:
    """A pickle that would run code when loaded (``__reduce__``)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_model_file_with_a_code_payload_is_refused_without_running_it(cli, tmp_path):
    import torch

    marker = tmp_path / "payload-ran"
    bad = tmp_path / "model.pt"
    torch.save({"format": "designer-model/1", "config": {}, "state_dict": {}, "x": _Payload(marker)}, bad)
    res = cli("sample", bad, "-n", "1", "--out", tmp_path / "out")
    assert res.code == 2 and "refused" in res.err and str(bad) in " ".join(res.err_lines), res
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_an_unknown_loss_weight_name_is_refused_with_the_closest_term(cli, tiny_pipeline, tmp_path):
    res = cli("train", tiny_pipeline, "--set", "loss.weights.coord=2", "--out", tmp_path / "run")
    errors = [line for line in res.err_lines if line.startswith("error:")]
    assert res.code == 2 and len(errors) == 1, res
    assert "'coord' is not a reconstruction term" in errors[0] and "did you mean 'coords'" in errors[0]
    assert not (tmp_path / "run").exists()
