"""LightningModule around the beta-VAE core: beta schedule, logging of KL per dimension, model selection."""

from __future__ import annotations

import lightning as L
import torch

from designer.config import PipelineConfig
from designer.models.vae import BetaVAE, beta_at


class LitBetaVAE(L.LightningModule):
    """Trains ``BetaVAE`` with the pipeline's loss settings.

    Model selection and early stopping use ``val/selection`` = reconstruction at the posterior
    mean + final beta x KL + property loss, measured on the seeded holdout with a fixed beta (so
    it does not drift with a warm-up or a cyclical schedule).
    """

    def __init__(self, model: BetaVAE, cfg: PipelineConfig, steps_per_epoch: int):
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.kl_history: list[list[float]] = []
        self._kl_sum: torch.Tensor | None = None
        self._kl_count = 0

    def _beta(self) -> float:
        s = self.cfg.loss.schedule
        epoch = self.current_epoch + (self.global_step % self.steps_per_epoch) / self.steps_per_epoch
        return beta_at(epoch, self.cfg.loss.beta, s.kind, s.warmup_epochs, s.cycle_epochs, s.ratio)

    def training_step(self, batch, batch_idx):
        beta = self._beta()
        out = self.model.loss(batch, beta, self.cfg.loss.free_bits, sample=True,
                              property_weight=self.cfg.loss.property_weight)
        bs = len(self.model.plugin.targets(batch))
        self.log_dict({f"train/{k}": v for k, v in out.items() if v.ndim == 0}, batch_size=bs, on_step=False, on_epoch=True)
        self.log("train/beta", beta, batch_size=bs, on_step=False, on_epoch=True)
        kl = out["kl_per_dim"].detach() * bs
        self._kl_sum = kl if self._kl_sum is None else self._kl_sum + kl
        self._kl_count += bs
        return out["loss"]

    def on_train_epoch_end(self) -> None:
        if self._kl_sum is not None:
            per_dim = (self._kl_sum / self._kl_count).cpu()
            self.kl_history.append(per_dim.tolist())
            self.log("train/active_dims_kl>0.01", float((per_dim > 0.01).sum()))
        self._kl_sum, self._kl_count = None, 0

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["kl_history"] = self.kl_history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.kl_history = list(checkpoint.get("kl_history", []))

    def validation_step(self, batch, batch_idx):
        out = self.model.loss(batch, self.cfg.loss.beta, 0.0, sample=False, property_weight=self.cfg.loss.property_weight)
        bs = len(self.model.plugin.targets(batch))
        selection = out["recon"] + self.cfg.loss.beta * out["kl"]
        if "property" in out:
            selection = selection + self.cfg.loss.property_weight * out["property"]
        self.log("val/selection", selection, batch_size=bs, prog_bar=True)
        self.log_dict({f"val/{k}": v for k, v in out.items() if v.ndim == 0 and k != "loss"}, batch_size=bs)

    def configure_optimizers(self):
        t = self.cfg.train
        opt = torch.optim.AdamW(self.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(3, t.patience // 4), min_lr=1e-5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val/selection"}}
