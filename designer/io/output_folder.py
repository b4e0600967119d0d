"""Output folders that are honest: never a mix of two runs, never half-written, marked when complete.

``output_folder(out, overwrite)`` wraps the writing of one command's outputs:

- an ``out`` that exists and holds files is refused before any work (its files may be a finished
  run's or an interrupted one's), unless ``overwrite`` is given and the folder is a complete
  designer output (it has the marker ``.designer-complete``);
- the replaced folder is kept aside until the new one is complete, and put back if the command fails;
- a folder the command created is removed again if the command fails, so a bad input leaves nothing;
- the marker is written last; a folder without it was interrupted (a killed process) and is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Iterator

from designer.errors import DesignerError
from designer.io.atomic import atomic_write_text

MARKER = ".designer-complete"


def check_output(out: str | Path, overwrite: bool = False) -> Path:
    """Refuse an ``out`` the command may not write into (see the module docstring); nothing is changed."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DesignerError(f"{out}: is a file; give --out a folder")
    if out.is_dir() and any(out.iterdir()):
        complete = (out / MARKER).exists()
        if not overwrite:
            state = "a complete earlier run" if complete else "files of an interrupted run or of something else"
            raise DesignerError(f"{out}: the output folder already holds {state}; give another --out, or "
                                "--overwrite to replace it")
        if not complete:
            raise DesignerError(f"{out}: holds files designer did not finish writing (no {MARKER}); --overwrite only "
                                "replaces complete designer outputs: remove the folder yourself")
    return out


def mark_complete(out: str | Path, **info) -> None:
    """Write the completion marker (the command line, the time, ``info``) into ``out``."""
    atomic_write_text(Path(out) / MARKER, json.dumps({"command": " ".join(sys.argv), "finished": time.strftime(
        "%Y-%m-%dT%H:%M:%S"), **info}, indent=2) + "\n")


@contextlib.contextmanager
def output_folder(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """The folder to write one command's outputs into (see the module docstring)."""
    out = check_output(out, overwrite)
    existed = out.exists()
    backup = None
    if existed and any(out.iterdir()):  # overwrite of a complete output: set it aside
        backup = out.with_name(f".{out.name}.replaced-{os.getpid()}")
        out.rename(backup)
        existed = False
    try:
        yield out
    except BaseException:
        if out.exists() and not existed:
            shutil.rmtree(out, ignore_errors=True)
        if backup is not None:
            backup.rename(out)
        raise
    out.mkdir(parents=True, exist_ok=True)
    mark_complete(out)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
