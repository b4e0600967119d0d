"""Resumable training: ``checkpoints/last.ckpt`` at each epoch start, the random streams, one continuous log.

``designer train ... --resume`` continues from the start of the epoch a kill interrupted. The
checkpoint holds Lightning's loop, optimiser, scheduler and callback states, and this callback's
state: the random number generators as they were at that epoch start, and every finished epoch's
metrics. With the epoch-seeded training order (``designer.data.samplers``), the resumed run sees the
same batches and the same noise as an uninterrupted run with the same seed.
"""

from __future__ import annotations

import csv
import io
import os
import random
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint

from designer.io.atomic import atomic_write_text


def rng_state() -> dict:
    """The global random streams (python, numpy, torch CPU and any initialised CUDA devices) as plain
    data and tensors, so a checkpoint holding them loads with ``weights_only=True``."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": {"version": version, "mt": list(mt), "gauss": gauss},
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["mt"]), py["gauss"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _number(v) -> float | None:
    """A logged scalar as a float (a tensor is copied from its device), or ``None`` for anything else."""
    if isinstance(v, torch.Tensor):
        return float(v.detach().cpu()) if v.numel() == 1 else None
    return float(v) if isinstance(v, (int, float)) else None


def _csv(rows: list[dict]) -> str:
    keys = ["epoch", "step", "lr"]
    keys += sorted({k for r in rows for k in r} - set(keys))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


class EpochResume(Checkpoint):
    """Writes ``last.ckpt`` at the start of every epoch after the first (and at the end of training), and keeps
    ``log_path`` (one row of epoch metrics per finished epoch) continuous across resumes.

    It is a ``Checkpoint`` callback so Lightning calls its ``on_train_epoch_end`` after the
    LightningModule's, when every epoch metric has been logged.
    """

    def __init__(self, last_path: Path, log_path: Path):
        self.last_path, self.log_path = Path(last_path), Path(log_path)
        self.rows: list[dict] = []
        self._epoch_start_rng: dict | None = None
        self._restore: dict | None = None
        self._at_epoch_start = False

    # -- state in the checkpoint ------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"rng": self._epoch_start_rng, "rows": self.rows}

    def load_state_dict(self, state: dict) -> None:
        self.rows = list(state.get("rows", []))
        self._restore = state.get("rng")

    # -- hooks -------------------------------------------------------------------------------
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self._restore is not None:  # first epoch after a resume: the streams as the killed run had them here
            set_rng_state(self._restore)
            self._restore = None
            self._write_log(trainer)
        self._epoch_start_rng = rng_state()
        if trainer.current_epoch > 0:  # before the first epoch there is nothing to resume
            self._save(trainer, at_epoch_start=True)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        row = {"epoch": trainer.current_epoch, "step": trainer.global_step,
               "lr": trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else None}
        for k, v in sorted(trainer.callback_metrics.items()):
            x = _number(v)
            if x is not None:
                row[k] = x
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        self._write_log(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self._epoch_start_rng = rng_state()  # a later --resume with more epochs continues from here
        self._save(trainer, at_epoch_start=False)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        if self._at_epoch_start:
            # Lightning has marked the new epoch "ready" before this hook; unmarked, the checkpoint is the
            # one of the finished previous epoch, and a resume starts this epoch afresh instead of
            # entering Lightning's mid-epoch restart (which skips the plateau scheduler and validation)
            progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]
            for part in ("total", "current"):
                progress[part]["ready"] = progress[part]["started"]

    def _save(self, trainer, at_epoch_start: bool) -> None:
        """Write beside, then rename: a kill while writing leaves the previous last.ckpt whole."""
        tmp = self.last_path.with_name(self.last_path.name + ".tmp")
        self._at_epoch_start = at_epoch_start
        try:
            trainer.save_checkpoint(tmp)  # Lightning writes on rank zero only
        finally:
            self._at_epoch_start = False
        if trainer.is_global_zero:
            os.replace(tmp, self.last_path)

    def _write_log(self, trainer) -> None:
        if trainer.is_global_zero:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.log_path, _csv(self.rows))
