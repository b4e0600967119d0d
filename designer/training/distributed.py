"""What several training processes (Lightning DDP) must agree on: who writes, and whether the weights match."""

from __future__ import annotations

import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import Callback


def launch_rank() -> int:
    """This process's global rank as the launcher set it (``RANK``, ``LOCAL_RANK``, ``SLURM_PROCID``;
    0 when nothing launched it), known before a Trainer exists."""
    return int(getattr(rank_zero_only, "rank", 0) or 0)


def gather_rows(module, x: torch.Tensor) -> torch.Tensor:
    """``n x ...`` rows of every rank stacked (``(world * n) x ...``); ``x`` itself on one process.
    Every rank must hold the same ``n`` (Lightning's distributed sampler pads the shards to equal size)."""
    if module.trainer.world_size <= 1:
        return x
    g = module.all_gather(x)
    return g.reshape(-1, *x.shape[1:])


class RankAgreement(Callback):
    """At the end of training, the largest absolute difference of any weight between a rank and rank
    zero (0.0 on one process); DDP keeps them equal, so anything above float noise is a bug."""

    def __init__(self):
        self.max_abs_difference: float = 0.0

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.world_size <= 1:
            return
        flat = torch.cat([p.detach().reshape(-1).float() for p in pl_module.parameters()])
        everyone = pl_module.all_gather(flat)  # world x n
        self.max_abs_difference = float((everyone - everyone[0]).abs().max().cpu())
