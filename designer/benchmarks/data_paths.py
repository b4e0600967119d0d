"""The train and test files a benchmark reads for a run: the run's own, else its shipped pipeline's."""

from __future__ import annotations

from pathlib import Path

from designer.config import load_pipeline
from designer.errors import DesignerError
from designer.resources import require_pipeline


def train_and_test(r, pipeline: str, benchmark: str) -> tuple[list[Path], Path]:
    """``(training files, test file)`` of run ``r``; where the run's are not on this machine (a shipped
    model records the paths it was trained with), those of the shipped pipeline ``pipeline``.

    Raises:
        DesignerError: naming ``benchmark`` and the file, when neither exists.
    """
    default, _ = load_pipeline(require_pipeline(pipeline))
    train = [Path(p) for p in r.config.data.train]
    if not train or not all(p.exists() for p in train):
        train = [Path(p) for p in default.data.train]
    test = Path(r.config.data.test) if r.config.data.test and Path(r.config.data.test).exists() \
        else Path(default.data.test)
    for p in [*train, test]:
        if not p.exists():
            raise DesignerError(f"{benchmark}: data file {p} not found; reinstall designer or give --run a run "
                                "whose pipeline's data exist")
    return train, test
