"""Run directories and self-contained model files (``model.pt``); shipped checkpoints by name."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from designer.config import PipelineConfig, apply_overrides, load_pipeline, validate
from designer.errors import DesignerError
from designer.io.atomic import atomic_write
from designer.domains import get_domain
from designer.models.factory import assemble
from designer.models.vae import BetaVAE
from designer.resources import checkpoints_dir, pipeline_file

FORMAT = "designer-model/1"
SHIPPED = checkpoints_dir()


def build_model(cfg: PipelineConfig, plugin_args: dict) -> BetaVAE:
    """A fresh ``BetaVAE`` for a pipeline: its domain's plug-in (``plugin_args``: what the data decided,
    e.g. the element vocabulary or the alignment length) inside the domain-free core."""
    return assemble(cfg, get_domain(cfg).build_plugin(cfg, plugin_args))


@dataclass
class Run:
    """A trained model with the pipeline config it was trained with."""

    model: BetaVAE
    config: PipelineConfig
    path: Path
    meta: dict

    def training_paths(self) -> list[Path]:
        """The run's training inputs that exist on this machine.

        A shipped model records the paths of the machine it was trained on; when none of them
        exists here, the inputs of the shipped pipeline of the same name (package data) are used.
        """
        return self._data_paths("train")

    def holdout_paths(self) -> list[Path]:
        """The run's fixed holdout files (``data.holdout``) that exist here, found as ``training_paths``;
        empty when the run held out a seeded ``data.holdout_fraction`` of its training rows instead."""
        return self._data_paths("holdout")

    def _data_paths(self, part: str) -> list[Path]:
        found = [Path(p) for p in getattr(self.config.data, part) if Path(p).exists()]
        if found or not getattr(self.config.data, part):
            return found
        shipped = pipeline_file(self.config.name)
        if shipped is None:
            return []
        cfg, _ = load_pipeline(shipped)
        return [Path(p) for p in getattr(cfg.data, part) if Path(p).exists()]


def save_model(path: Path, model: BetaVAE, cfg: PipelineConfig, meta: dict | None = None, half: bool = False) -> None:
    """Write the weights, the config and metadata to one file, atomically.

    ``half`` stores large weight matrices as float16 (half the size, for shipped models); loading
    converts them back to float32.
    """
    state = model.state_dict()
    if half:
        state = {k: v.half() if v.is_floating_point() and v.numel() > 4096 else v for k, v in state.items()}
    payload = {"format": FORMAT, "config": cfg.model_dump(mode="json"), "state_dict": state,
               "plugin_args": model.plugin.plugin_args(), "meta": meta or {}}
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.pt"))


def resolve(run: str | Path) -> Path:
    """A run folder (holding ``model.pt``), a ``.pt`` file, or the name of a shipped model."""
    p = Path(run)
    if p.is_dir() and (p / "model.pt").exists():
        return p / "model.pt"
    if p.is_file():
        return p
    if (SHIPPED / f"{run}.pt").exists():
        return SHIPPED / f"{run}.pt"
    hint = f"; shipped models: {', '.join(shipped_names())}" if shipped_names() else ""
    if p.is_dir():
        raise DesignerError(f"{run}: the run folder has no model.pt (did its training finish?){hint}")
    raise DesignerError(f"{run}: no such run folder, model file or shipped model{hint}")


def load_run(run: str | Path, map_location: str = "cpu", one_shot: bool = False) -> Run:
    """Load a run; ``one_shot`` decodes without the crystal decoder's refinement stage (``model.refine_steps = 0``)."""
    path = resolve(run)
    try:  # weights_only: a model file is tensors and plain data, and nothing in it can run code
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise DesignerError(f"{path}: refused: the model file holds objects other than tensors and plain data "
                            "(designer never writes such files; a pickle can run code); use a file from designer train") from None
    except Exception as exc:
        raise DesignerError(f"{path}: cannot read the model file ({type(exc).__name__}); retrain or pick another run") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DesignerError(f"{path}: not a designer model file (expected format {FORMAT})")
    config = payload["config"]
    model_cfg = config.get("model") if isinstance(config, dict) else None
    if isinstance(model_cfg, dict) and "refine" not in model_cfg:
        config = {**config, "model": {**model_cfg, "refine": False}}  # files from before the refinement stage
    elif isinstance(model_cfg, dict):
        legacy = {"refine_distance": "axis_wrapped",  # before the min-image fix
                  "refine_detach_z": False}  # trained with the denoising gradient through z
        config = {**config, "model": {**{k: v for k, v in legacy.items() if k not in model_cfg}, **model_cfg}}
    cfg = validate(config, str(path))
    if one_shot:
        cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"refine_steps": 0})})
    plugin_args = payload.get("plugin_args") or {"atomic_numbers": payload["atomic_numbers"]}  # older crystal files
    model = build_model(cfg, plugin_args)
    state = payload["state_dict"]
    if model.property_head is not None and "property_head.std_scale" not in state:  # files from before calibration
        state = {**state, "property_head.std_scale": model.property_head.std_scale.clone()}
    model.load_state_dict(state)
    model.eval()
    return Run(model, cfg, path, payload.get("meta", {}))


def ship(run: str | Path, name: str, overrides: list[str] | None = None) -> Path:
    """Copy a trained run's model into the package (``designer/checkpoints/<name>.pt``, float16 weights),
    or to ``name`` itself when it is a path ending in ``.pt``.

    ``overrides`` (``["model.refine_start_sigma=0.05", ...]``) change decode-time settings recorded with the
    model, e.g. the ones chosen on the holdout; they must not change the weights' shapes.
    """
    r = load_run(run)
    cfg = r.config
    if overrides:
        cfg = validate(apply_overrides(cfg.model_dump(mode="json"), list(overrides)), "ship overrides")
        build_model(cfg, r.model.plugin.plugin_args()).load_state_dict(r.model.state_dict())  # shapes unchanged
    target = Path(name) if name.endswith(".pt") else SHIPPED / f"{name}.pt"  # a path: a copy outside the package
    meta = {**r.meta, "shipped_from": str(r.path), **({"ship_overrides": list(overrides)} if overrides else {})}
    save_model(target, r.model, cfg, meta, half=True)
    shipped = load_run(target)  # the density of the shipped (float16) weights' own training latents
    meta["plausibility"] = shipped_density(shipped)
    save_model(target, r.model, cfg, meta, half=True)
    return target


def shipped_density(run: Run) -> dict:
    """The plausibility density of a run's training latents, as stored in a shipped model's metadata
    (so scoring one file with a shipped model needs neither the training set nor a fit).

    The density's arrays are kept as float64 tensors (``density_tensors``): a GMM's covariances are
    10^5-10^6 numbers, and as nested lists they made ``torch.load(weights_only=True)`` (a pure-Python
    unpickler) take 0.3-1.4 s per model load.
    """
    from designer.optimize.plausibility import fit_plausibility

    seed = run.config.seed
    mu = get_domain(run).known_data(run).mu
    density = fit_plausibility(mu.cpu().numpy(), seed=seed)
    return {"seed": seed, "n": int(len(mu)), "density_tensors": density.to_tensor_dict()}


if __name__ == "__main__":  # python -m designer.runs RUN NAME [--set key=value ...]
    import sys

    args = sys.argv[1:]
    sets = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--set"]
    if len(args) < 2 or args[0] == "--set" or args[1] == "--set" or args.count("--set") != len(sets):
        sys.exit("usage: python -m designer.runs RUN NAME|PATH.pt [--set model.refine_steps=5 ...]")
    try:
        print(ship(args[0], args[1], sets))
    except DesignerError as exc:
        sys.exit(f"error: {exc}")
