"""Train a pipeline's model: data -> seeded holdout -> Lightning fit -> ``run_dir/model.pt``."""

from __future__ import annotations

import csv
import json
import shutil
import time
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
import yaml

from designer.config import PipelineConfig, dump
from designer.errors import ConfigError, DataError, DesignerError
from designer.io.atomic import atomic_write, atomic_write_text
from designer.models.vae import active_units, kl_per_dim
from designer.parallel import available_cores
from designer.domains import get_domain
from designer.runs import build_model, load_run, save_model
from designer.training.datasets import fit_data_scales, load_training_data, make_loader
from designer.training.hardware import check_accelerator
from designer.training.module import LitBetaVAE
from designer.training.distributed import RankAgreement, launch_rank
from designer.training.resume import EpochResume


MIN_TRAINING_ROWS = 4  # a fresh model fits its scales (spreads) on the training rows


def set_threads(cfg: PipelineConfig) -> None:
    """``train.threads``, or this process's cores (``designer.parallel.available_cores``: honours
    ``$OMP_NUM_THREADS``) shared among the processes it trains in."""
    t = cfg.train
    per_node = t.devices if t.accelerator == "cpu" or t.strategy.startswith("ddp") else 1
    torch.set_num_threads(t.threads or max(1, available_cores() // per_node))


def trainer_settings(cfg: PipelineConfig) -> dict:
    """The ``lightning.Trainer`` arguments the pipeline's ``train`` section decides."""
    t = cfg.train
    return {"max_epochs": t.epochs, "max_time": timedelta(minutes=t.max_minutes) if t.max_minutes else None,
            "accelerator": t.accelerator, "devices": t.devices, "strategy": t.strategy, "num_nodes": t.num_nodes,
            "precision": t.precision}


def _inherit_architecture(cfg: PipelineConfig, init) -> PipelineConfig:
    """A fine-tuned model keeps the architecture (and vocabulary) of the model it starts from."""
    data = cfg.data.model_copy(update={"max_atoms": init.config.data.max_atoms, "cutoff": init.config.data.cutoff,
                                       "max_neighbors": init.config.data.max_neighbors})
    if get_domain(cfg) is not get_domain(init):
        raise DesignerError(f"--init-from {init.path}: a {init.config.domain} model cannot start a {cfg.domain} pipeline")
    if cfg.data.properties != init.config.data.properties:
        raise DesignerError(
            f"--init-from {init.path}: it predicts {init.config.data.properties}, this pipeline {cfg.data.properties}; "
            "use the same data.properties to fine-tune"
        )
    model = init.config.model
    if cfg.train.stage == "refiner":  # a new refinement stage: its settings come from this pipeline
        model = model.model_copy(update={k: v for k, v in cfg.model.model_dump().items() if k.startswith("refine")})
    return cfg.model_copy(update={"data": data, "model": model})


def _freeze_all_but_refiner(model) -> None:
    """``train.stage: refiner``: only the crystal decoder's refinement stage keeps its gradients."""
    if getattr(model.plugin, "refiner", None) is None:
        raise DesignerError("train.stage: refiner needs a crystal model with model.refine: true")
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("plugin.refiner."))


@torch.no_grad()
def encode_means(model, data, domain: str, batch_size: int = 512) -> torch.Tensor:
    """``n x d`` posterior means of a sequence of dataset items."""
    return encode_posteriors(model, data, domain, batch_size)[0]


@torch.no_grad()
def encode_posteriors(model, data, domain: str, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mu, logvar)``, each ``n x d``, of a sequence of dataset items."""
    model.eval()
    outs = [model.encode(b) for b in make_loader(domain, data, batch_size)]
    if not outs:
        return torch.empty(0, model.latent_dim), torch.empty(0, model.latent_dim)
    return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])


def _differences(old, new, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new))
                for d in _differences(old.get(k), new.get(k), f"{prefix}.{k}" if prefix else str(k))]
    return [] if old == new else [prefix]


def _lookup(d, dotted: str):
    for part in dotted.split("."):
        d = d.get(part) if isinstance(d, dict) else None
    return d


def _shaping(cfg: dict) -> dict:
    """The settings of a config dict that shape the network."""
    data = cfg.get("data") or {}
    return {"model": cfg.get("model"), "data": {k: data.get(k) for k in ("properties", "max_atoms")}}


def check_resume(run_dir: Path, cfg: PipelineConfig, model) -> None:
    """``--resume`` must rebuild the run's own network: one line naming what changed, else nothing.

    The checkpoint's weights decide (a decode-time setting such as ``model.refine_steps`` may
    change); when a weight does not fit, the message names the setting that shapes the network
    (``model``, ``data.properties``, ``data.max_atoms``) that differs from the run's config.yaml, or
    else the weight.
    """
    try:
        state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    except Exception as exc:
        raise DataError(f"--resume {run_dir}: cannot read checkpoints/last.ckpt ({type(exc).__name__}); "
                        "train into a new --out") from None
    own = {f"model.{k}": tuple(v.shape) for k, v in model.state_dict().items()}
    wrong = [f"weight {k} is {tuple(v.shape)} in the checkpoint but {own[k]} for this pipeline"
             for k, v in state.items() if k in own and own[k] != tuple(v.shape)]
    wrong += [f"the checkpoint has no weight {k}" for k in sorted(set(own) - set(state))]
    if not wrong:
        return
    saved_cfg = run_dir / "config.yaml"
    if saved_cfg.exists():
        old, new = _shaping(yaml.safe_load(saved_cfg.read_text()) or {}), _shaping(yaml.safe_load(dump(cfg)))
        keys = _differences(old, new)
        if keys:
            k = keys[0]
            wrong = [f"{k} is {_lookup(new, k)!r} here but {_lookup(old, k)!r} in the run's config.yaml"]
    raise ConfigError(f"--resume {run_dir}: {wrong[0]}; resume with the run's settings, or train into a new --out")


def train(cfg: PipelineConfig, run_dir: Path, init_from: str | None = None, resume: bool = False,
          progress: bool = True, notify=None) -> Path | None:
    """Train and write ``run_dir`` (config.yaml, model.pt, logs/metrics.csv, kl_per_dim.csv, summary.json).

    ``notify(message)`` is called at once if the posterior collapses during training.

    Under DDP (``train.strategy``, several devices or nodes) every process calls this; only rank
    zero writes the run folder and exports.

    Returns:
        path of the exported ``model.pt`` (the holdout-selected best weights); ``None`` on the other ranks.
    """
    check_accelerator(cfg.train.accelerator, cfg.train.devices)  # before any data is read
    set_threads(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    init = load_run(init_from) if init_from else None
    if cfg.train.stage == "refiner" and init is None:
        raise DesignerError("train.stage: refiner trains the refinement stage of an existing model: give --init-from RUN")
    if init is not None:
        cfg = _inherit_architecture(cfg, init)
    data = load_training_data(cfg, init)
    train_data, holdout = data.train, data.holdout
    if init is None and len(train_data) < MIN_TRAINING_ROWS:
        raise DataError(f"{', '.join(map(str, cfg.data.train))}: {len(train_data) + len(holdout)} usable rows, "
                        f"{len(holdout)} of them held out, leave {len(train_data)} to train on; a fresh model needs "
                        f"at least {MIN_TRAINING_ROWS}: add data, or fine-tune a trained model with --init-from")

    model = build_model(cfg, data.plugin_args)  # this pipeline's loss settings ...
    if init is not None:  # ... on the inherited architecture and weights
        if cfg.train.stage == "refiner":  # a model without a refiner gets a fresh one; nothing else may be missing
            missing, unexpected = model.load_state_dict(init.model.state_dict(), strict=False)
            bad = [k for k in missing if not k.startswith("plugin.refiner.")] + list(unexpected)
            if bad:
                raise DesignerError(f"--init-from {init.path}: weights do not fit this model ({bad[0]})")
        else:
            model.load_state_dict(init.model.state_dict())
    else:
        fit_data_scales(model, data)
    if cfg.train.stage == "refiner":
        _freeze_all_but_refiner(model)
    model.train()
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume and last.exists():
        check_resume(run_dir, cfg, model)

    zero = launch_rank() == 0  # under DDP every process runs this function; only rank zero writes the run folder
    created = not run_dir.exists()
    if zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", dump(cfg))
    bs = min(cfg.train.batch_size, len(train_data))
    train_loader = make_loader(data.domain, train_data, bs, shuffle=True, seed=cfg.seed,
                               drop_last=len(train_data) > bs, weights=data.sample_weights)
    val_loader = make_loader(data.domain, holdout, 512)
    lit = LitBetaVAE(model, cfg, len(train_loader), notify=notify if zero else None)

    ckpt = L.pytorch.callbacks.ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor="val/selection",
                                               mode="min", save_top_k=1, save_last=False)
    callbacks = [ckpt, L.pytorch.callbacks.EarlyStopping("val/selection", patience=cfg.train.patience, mode="min"),
                 EpochResume(last, run_dir / "logs" / "metrics.csv"),  # last.ckpt at each epoch start; one log
                 agreement := RankAgreement()]
    if progress:
        callbacks.append(L.pytorch.callbacks.RichProgressBar(leave=False))
    trainer = L.Trainer(
        **trainer_settings(cfg),
        callbacks=callbacks, logger=False,  # EpochResume keeps logs/metrics.csv, continuous across resumes
        enable_progress_bar=progress, enable_model_summary=False, log_every_n_steps=10,
        deterministic=False, num_sanity_val_steps=0,
    )
    start = time.time()
    try:
        trainer.fit(lit, train_loader, val_loader, ckpt_path=str(last) if resume and last.exists() else None)
    except BaseException:
        if zero and created and not last.exists():  # nothing to resume from: leave no half run folder behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise  # with last.ckpt, the folder stays for `designer train ... --resume`
    minutes = (time.time() - start) / 60
    if not trainer.is_global_zero:
        return None  # the other ranks trained the same weights; rank zero exports them

    best_path = ckpt.best_model_path
    if best_path:
        state = torch.load(best_path, map_location="cpu", weights_only=False)["state_dict"]
        lit.load_state_dict(state)
    model = lit.model.cpu().eval()
    mu, logvar = encode_posteriors(model, holdout if len(holdout) else train_data, data.domain)
    calibration = {}
    if model.property_head is not None and len(holdout):
        y_ho = torch.cat([model.plugin.targets(b) for b in make_loader(data.domain, holdout, 512)])
        calibration = {cfg.data.properties[j]: v for j, v in model.property_head.calibrate(mu, y_ho).items()}
    active = active_units(mu) if len(mu) > 1 else torch.zeros(model.latent_dim, dtype=torch.bool)
    kl_last = lit.kl_history[-1] if lit.kl_history else []
    kl_holdout = kl_per_dim(mu, logvar).mean(0) if len(mu) else torch.zeros(model.latent_dim)
    summary = {
        "name": cfg.name, "epochs": trainer.current_epoch, "minutes": round(minutes, 2),
        "best_val_selection": float(ckpt.best_model_score) if ckpt.best_model_score is not None else None,
        "train_rows": len(train_data), "holdout_rows": len(holdout), **data.notes,
        "active_units": int(active.sum()), "latent_dim": model.latent_dim,
        "active_unit_dims": [int(j) for j in torch.nonzero(active).flatten()],
        "holdout_rate_nats": float(kl_holdout.sum()), "holdout_kl_per_dim": [round(float(v), 5) for v in kl_holdout],
        "collapse_warning": lit.collapse_warning,
        "uncertainty_calibration": calibration,
        "kl_per_dim_last_epoch": kl_last, "init_from": str(init.path) if init else None,
        "processes": trainer.world_size, "strategy": type(trainer.strategy).__name__,
        "rank_weight_max_abs_difference": agreement.max_abs_difference,
    }
    with atomic_write(run_dir / "kl_per_dim.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", *[f"z{j}" for j in range(model.latent_dim)]])
        for e, row in enumerate(lit.kl_history):
            w.writerow([e, *[f"{v:.5f}" for v in row]])
    save_model(run_dir / "model.pt", model, cfg, summary)
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
    return run_dir / "model.pt"
