"""The lab loop's state in ``<run>/design/``: ``state.json`` (every proposal and observation) and the
run's plausibility density, fitted once and kept beside it.

``state.json`` is rewritten atomically, and every read-modify-write of it (``propose``, ``observe``)
holds ``state.lock`` (``state_lock``), so two calls at once queue instead of one losing the other's
records; a leaf module (it imports no other part of ``design``).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Callable, Iterator

import torch
from filelock import FileLock, Timeout

from designer.data.cache import cache_dir, content_hash
from designer.errors import DesignerError
from designer.io.atomic import atomic_write_text
from designer.optimize.plausibility import Plausibility, fit_plausibility

STATE_VERSION = 1


def state_dir(run_arg: str, run) -> Path:
    """``<run folder>/design``; for a shipped model (read-only package) ``runs/<name>/design``."""
    p = Path(run_arg)
    base = p if p.is_dir() else (p.parent if p.is_file() and p.name == "model.pt" else Path("runs") / run.config.name)
    return base / "design"


@contextlib.contextmanager
def state_lock(folder: Path, timeout: float = 3600.0) -> Iterator[None]:
    """Hold ``folder/state.lock`` (an OS file lock) for one read-modify-write of the state; a second
    ``propose`` / ``observe`` on the same run waits for it, at most ``timeout`` seconds."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / "state.lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise DesignerError(f"{folder / 'state.lock'}: another propose or observe on this run has held the lock for "
                            f"{timeout:.0f} s; wait for it to finish, or delete the lock file if no such call runs") from None
    try:
        yield
    finally:
        lock.release()


def load_state(folder: Path) -> dict:
    f = folder / "state.json"
    if not f.exists():
        return {"version": STATE_VERSION, "rounds": 0, "proposals": [], "observations": []}
    try:
        state = json.loads(f.read_text())
    except json.JSONDecodeError:
        raise DesignerError(f"{f}: the design state is not valid JSON; restore it from a backup or delete the folder") from None
    return state


def save_state(folder: Path, state: dict) -> None:
    atomic_write_text(folder / "state.json", json.dumps(state, indent=1) + "\n")


def cached_plausibility(folder: Path, mu: torch.Tensor | Callable[[], torch.Tensor], seed: int) -> Plausibility:
    """The run's plausibility density, fitted once and kept in the state folder (``mu``: the training
    latents ``n x d``, or a function computing them only when the density must be fitted)."""
    f = folder / "plausibility.json"
    if f.exists():
        return Plausibility.from_dict(json.loads(f.read_text()))
    p = fit_plausibility((mu() if callable(mu) else mu).cpu().numpy(), seed=seed)
    atomic_write_text(f, json.dumps(p.to_dict()))
    return p


def shipped_plausibility(run, seed: int) -> Plausibility | None:
    """The density fitted when the model was shipped (``runs.ship``), if it was fitted with ``seed``."""
    doc = (run.meta or {}).get("plausibility")
    if isinstance(doc, dict) and doc.get("seed") == seed:
        if isinstance(doc.get("density_tensors"), dict):
            return Plausibility.from_tensor_dict(doc["density_tensors"])
        if isinstance(doc.get("density"), dict):  # models shipped before: the density as nested lists
            return Plausibility.from_dict(doc["density"])
    return None


def run_plausibility(run, run_arg: str | None, mu: Callable[[], torch.Tensor], seed: int = 0) -> Plausibility:
    """The density shipped with the model, else the cached one of the run's state folder (for a shipped
    model named by name: the user cache, ``$DESIGNER_CACHE_DIR``), else fitted (without caching where
    that folder is read-only). ``mu``: the training latents, computed only if needed."""
    shipped = shipped_plausibility(run, seed)
    if shipped is not None:
        return shipped
    try:
        arg = Path(run_arg or str(run.path))
        if arg.exists():  # the user's own run folder or model file: its state folder
            folder = state_dir(str(arg), run)
        else:  # a shipped model by name: the user cache, keyed by the model file (never the current folder)
            folder = cache_dir() / "plausibility" / f"{run.config.name}-{content_hash(run.path)[:16]}"
        folder.mkdir(parents=True, exist_ok=True)
        return cached_plausibility(folder, mu, seed)
    except OSError:  # a read-only location: fit without caching
        return fit_plausibility(mu().cpu().numpy(), seed=seed)
