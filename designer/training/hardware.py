"""Which accelerators this machine has, checked before any data is read (one line naming what is here)."""

from __future__ import annotations

import torch

from designer.errors import ConfigError


def available_accelerators() -> dict[str, int]:
    """Accelerator name (as Lightning spells it) -> devices of it on this machine; ``cpu`` always 1."""
    out = {"cpu": 1}
    if torch.cuda.is_available():
        out["gpu"] = out["cuda"] = torch.cuda.device_count()
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out["mps"] = 1
    return out


def check_accelerator(accelerator: str, devices: int) -> None:
    """``train.accelerator`` / ``train.devices`` must exist here (``auto`` always does), else ConfigError."""
    if accelerator == "auto":
        return
    here = available_accelerators()
    listed = ", ".join(f"{k} ({n})" for k, n in here.items() if k != "cuda")
    if accelerator not in here:
        raise ConfigError(f"train.accelerator: {accelerator!r} is not available on this machine (available: {listed}); "
                          "use accelerator: auto or cpu")
    if accelerator != "cpu" and devices > here[accelerator]:
        raise ConfigError(f"train.devices: {devices} {accelerator} devices asked, {here[accelerator]} here; "
                          f"use devices: {here[accelerator]} or fewer")
