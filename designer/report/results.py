"""Shared pieces of results reports (benchmarks, analysis): environment description, NaN-free JSON, markdown numbers."""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
from pathlib import Path

import torch

from designer.io.atomic import atomic_write_text


def device_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "python": platform.python_version(), "torch": torch.__version__}


def command_line() -> str:
    argv = list(sys.argv)
    argv[0] = Path(argv[0]).name
    return " ".join(shlex.quote(a) for a in argv)


def clean(obj):
    """NaN/inf -> None so the JSON is strict."""
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_results(path: Path, results: dict, markdown: str) -> None:
    atomic_write_text(path, json.dumps(clean(results), indent=2) + "\n")
    atomic_write_text(path.with_suffix(".md"), markdown)


def fmt(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)
