"""Files shipped inside the package (pipelines, datasets, weights, reference tables), found through
``importlib.resources`` so that a non-editable ``pip install .`` works from any folder.

Nothing here reaches outside the package: a file that is not shipped is ``None`` (or an error that
names it), never a guess at a path beside the checkout.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from designer.errors import DesignerError

PACKAGE = "designer"


def package_path(*parts: str) -> Path:
    """The path of a shipped file or folder (it may not exist; callers check)."""
    root = resources.files(PACKAGE)
    for p in parts:
        root = root / p
    return Path(str(root))


def checkpoints_dir() -> Path:
    """``designer/checkpoints``: the shipped models, one ``<name>.pt`` each."""
    return package_path("checkpoints")


def data_file(name: str) -> Path:
    """A shipped reference table in ``designer/data_files`` (e.g. ``elemental_references.json``)."""
    return package_path("data_files", name)


def dataset_path(*parts: str) -> Path:
    """A shipped dataset file, e.g. ``dataset_path("perov_5", "test.csv.gz")``."""
    return package_path("datasets", *parts)


def pipeline_file(name: str) -> Path | None:
    """The shipped pipeline ``<name>.yaml``, or None when no such pipeline ships."""
    p = package_path("pipelines", f"{name}.yaml")
    return p if p.is_file() else None


def shipped_pipelines() -> list[str]:
    folder = package_path("pipelines")
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def require_pipeline(name: str) -> Path:
    """The shipped pipeline ``<name>.yaml``; a DesignerError naming it when the package lacks it."""
    p = pipeline_file(name)
    if p is None:
        raise DesignerError(f"{package_path('pipelines', name + '.yaml')}: shipped pipeline {name!r} not found "
                            f"(shipped: {', '.join(shipped_pipelines()) or 'none'}); reinstall the package")
    return p


def shared_dir() -> Path:
    """The folder of the large data that does not ship (benchmark inputs such as MatterGen's CIFs).

    ``$DESIGNER_SHARED`` when set, else ``../shared`` relative to the current working directory
    (the layout of a checkout beside ``shared/``). Never a path relative to the package.
    """
    env = os.environ.get("DESIGNER_SHARED")
    return Path(env).expanduser() if env else Path("..") / "shared"
