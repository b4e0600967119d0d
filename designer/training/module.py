"""LightningModule around the beta-VAE core: beta schedule, logging of KL per dimension, collapse warning, model selection."""

from __future__ import annotations

import warnings

import lightning as L
import torch

from designer.config import PipelineConfig
from designer.models.vae import BetaVAE, active_units, beta_at, capacity_at, is_collapsed
from designer.training.distributed import gather_rows


class PosteriorCollapseWarning(UserWarning):
    """The encoder stopped carrying information: rate near 0 or few active latent units."""


def collapse_message(rate: float, active: int, latent_dim: int, epoch: int, cfg: PipelineConfig) -> str | None:
    """A one-line warning naming the remedies, or None when the latent is alive.

    Collapse: the training rate (KL, nats per example) is below ``loss.collapse.min_rate``, or
    fewer than ``loss.collapse.min_active_fraction`` x d units are active (Cov_x E[z_j|x] > 0.01;
    off by default, see ``designer.models.vae.is_collapsed``).
    """
    c, cap = cfg.loss.collapse, cfg.loss.capacity
    min_rate = c.min_rate if cap is None else min(c.min_rate, 0.5 * cap.max_nats)  # capacity asks for its own rate
    if not is_collapsed(rate, active, latent_dim, min_rate, c.min_active_fraction):
        return None
    how = f"rate {rate:.3g} nats, {active}/{latent_dim} active units at epoch {epoch}"
    if cap is not None:
        return (f"posterior collapse ({how}) under capacity annealing to {cap.max_nats:g} nats: raise "
                "loss.capacity.weight so the rate follows its target, or loss.capacity.max_nats")
    return (f"posterior collapse ({how}, loss.beta={cfg.loss.beta:g}): the latent carries almost no information. "
            "Remedies: lower loss.beta, or set loss.free_bits: 0.1 (nats per dim), "
            "loss.schedule: {kind: cyclical} or {kind: linear, warmup_epochs: 20}, "
            "or loss.capacity: {max_nats: 25} (capacity annealing)")


class LitBetaVAE(L.LightningModule):
    """Trains ``BetaVAE`` with the pipeline's loss settings.

    Model selection and early stopping use ``val/selection`` = reconstruction at the posterior
    mean + final beta x KL (or gamma |KL - C_max| under capacity annealing) + property loss,
    measured on the seeded holdout with a fixed beta (so it does not drift with a warm-up or a
    cyclical schedule).

    After each epoch the training rate and the holdout's active units are checked; the first
    collapse raises a ``PosteriorCollapseWarning`` (kept in ``collapse_warning``) that names the
    remedies. The check waits until a warm-up / capacity ramp is over.
    """

    def __init__(self, model: BetaVAE, cfg: PipelineConfig, steps_per_epoch: int, notify=None):
        super().__init__()
        self.notify = notify  # called with the collapse message (the CLI prints it at once)
        self.model = model
        self.cfg = cfg
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.kl_history: list[list[float]] = []
        self.active_history: list[int] = []
        self.collapse_warning: str | None = None
        self._kl_sum: torch.Tensor | None = None
        self._kl_count = 0
        self._val_mu: list[torch.Tensor] = []

    def _epoch(self) -> float:
        return self.current_epoch + (self.global_step % self.steps_per_epoch) / self.steps_per_epoch

    def _beta(self) -> float:
        s = self.cfg.loss.schedule
        return beta_at(self._epoch(), self.cfg.loss.beta, s.kind, s.warmup_epochs, s.cycle_epochs, s.ratio)

    def _capacity(self, final: bool = False) -> tuple[float, float] | None:
        c = self.cfg.loss.capacity
        if c is None:
            return None
        return (c.max_nats if final else capacity_at(self._epoch(), c.max_nats, c.anneal_epochs), c.weight)

    def _ramp_epochs(self) -> float:
        """Epochs before the full penalty applies (no collapse check before)."""
        loss = self.cfg.loss
        if loss.capacity is not None:
            return loss.capacity.anneal_epochs
        return loss.schedule.warmup_epochs if loss.schedule.kind == "linear" else 0.0

    def _refiner_loss(self, batch, sample: bool) -> dict:
        """``train.stage: refiner``: the refinement stage's denoising loss on latents of the frozen encoder."""
        with torch.no_grad():
            mu, logvar = self.model.encode(batch)
            z = self.model.reparameterize(mu, logvar) if sample else mu
        terms = self.model.plugin.refinement_loss(z, batch)
        out = {k: v.mean() for k, v in terms.items()}
        out["loss"] = sum(out.values())
        return out

    def training_step(self, batch, batch_idx):
        if self.cfg.train.stage == "refiner":
            out = self._refiner_loss(batch, sample=True)
            bs = len(self.model.plugin.targets(batch))
            self.log_dict({f"train/{k}": v.detach() for k, v in out.items()}, batch_size=bs, on_step=False, on_epoch=True,
                          sync_dist=True)
            return out["loss"]
        beta = self._beta()
        out = self.model.loss(batch, beta, self.cfg.loss.free_bits, sample=True,
                              property_weight=self.cfg.loss.property_weight, capacity=self._capacity())
        bs = len(self.model.plugin.targets(batch))
        self.log_dict({f"train/{k}": v for k, v in out.items() if v.ndim == 0}, batch_size=bs, on_step=False, on_epoch=True,
                      sync_dist=True)
        self.log("train/beta", beta, batch_size=bs, on_step=False, on_epoch=True, sync_dist=True)
        kl = out["kl_per_dim"].detach() * bs
        self._kl_sum = kl if self._kl_sum is None else self._kl_sum + kl
        self._kl_count += bs
        return out["loss"]

    def on_train_start(self) -> None:
        # optimiser steps per epoch on this rank, after Lightning sharded the data: the schedules' clock
        self.steps_per_epoch = max(1, int(self.trainer.num_training_batches))

    def on_train_epoch_end(self) -> None:
        if self._kl_sum is not None:
            # summed over every rank's shard, so all ranks (and the log) see the whole epoch's KL
            kl_sum = self.trainer.strategy.reduce(self._kl_sum, reduce_op="sum")
            count = self.trainer.strategy.reduce(torch.tensor(float(self._kl_count), device=self._kl_sum.device),
                                                 reduce_op="sum")
            per_dim = (kl_sum / count).cpu()
            self.kl_history.append(per_dim.tolist())
            self.log("train/active_dims_kl>0.01", float((per_dim > 0.01).sum()))
            self._check_collapse(float(per_dim.sum()))
        self._kl_sum, self._kl_count = None, 0

    def _check_collapse(self, rate: float) -> None:
        if self.collapse_warning is not None:
            return
        if self.current_epoch + 1 < max(1.0, self._ramp_epochs()):
            return
        # without a holdout the active units are unknown: only the rate is judged
        active = self.active_history[-1] if self.active_history else self.model.latent_dim
        msg = collapse_message(rate, active, self.model.latent_dim, self.current_epoch, self.cfg)
        if msg is not None:
            self.collapse_warning = msg
            if self.trainer.is_global_zero:
                warnings.warn(msg, PosteriorCollapseWarning, stacklevel=2)
            if self.notify is not None:
                self.notify(msg)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["kl_history"] = self.kl_history
        checkpoint["active_history"] = self.active_history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.kl_history = list(checkpoint.get("kl_history", []))
        self.active_history = list(checkpoint.get("active_history", []))

    def validation_step(self, batch, batch_idx):
        if self.cfg.train.stage == "refiner":
            out = self._refiner_loss(batch, sample=False)
            bs = len(self.model.plugin.targets(batch))
            self.log("val/selection", out.pop("loss"), batch_size=bs, prog_bar=True, sync_dist=True)
            self.log_dict({f"val/{k}": v for k, v in out.items()}, batch_size=bs, sync_dist=True)
            return
        # at the final beta (or C_max), without free bits or sampling, the objective is the selection score
        out = self.model.loss(batch, self.cfg.loss.beta, 0.0, sample=False,
                              property_weight=self.cfg.loss.property_weight, capacity=self._capacity(final=True))
        bs = len(self.model.plugin.targets(batch))
        # reduced over the ranks: it selects the checkpoint, stops training and schedules the learning rate
        self.log("val/selection", out["loss"], batch_size=bs, prog_bar=True, sync_dist=True)
        self.log_dict({f"val/{k}": v for k, v in out.items() if v.ndim == 0 and k != "loss"}, batch_size=bs,
                      sync_dist=True)
        self._val_mu.append(out["mu"].detach())

    def on_validation_epoch_end(self) -> None:
        if self._val_mu:
            mu = gather_rows(self, torch.cat(self._val_mu)).cpu()  # every rank's holdout latents
            if len(mu) > 1:
                n_active = int(active_units(mu).sum())
                self.active_history.append(n_active)
                self.log("val/active_units", float(n_active))
        self._val_mu = []

    def configure_optimizers(self):
        t = self.cfg.train
        opt = torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=t.lr, weight_decay=t.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(3, t.patience // 4), min_lr=1e-5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val/selection"}}
