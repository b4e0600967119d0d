"""The avGFP "lab" of ``designer benchmark gfp-design``: an ensemble of 1-D CNNs on one-hot sequences.

It is a different architecture from the model it judges (a β-VAE whose property head reads the
latent), and it sees every labelled avGFP variant (Sarkisyan et al. 2016, 54k), as the oracles of
CbAS (Brookes et al. 2019) and design-bench do. The ensemble is cross-fitted: member ``k`` is trained
on every fold but ``k``, so the out-of-fold predictions give an honest cross-validated Spearman, and
the oracle's value is the members' mean, its spread their standard deviation. A design the members
disagree on (spread above the 95th percentile of the spread on the labelled variants) lies where
the oracle has no data, and is flagged.

The oracle is a judge only: nothing in the designer's ask/tell loop reads it except as the lab's
answer to a proposed batch, and it never trains on a proposal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from designer.data.protein_io import UNKNOWN_INDEX
from designer.errors import DesignerError
from designer.io.atomic import atomic_write_bytes
from designer.metrics.protein import spearman

NUM_TOKENS = UNKNOWN_INDEX + 1  # 20 amino acids, the gap, unknown
FORMAT = 1


class SequenceCNN(nn.Module):
    """Two convolutions over the one-hot sequence, a max-pool, then a dense layer on the flattened
    (position-aware) features.

    Args:
        length: ``L``, the aligned sequence length.
    """

    def __init__(self, length: int, channels: int = 32, kernel: int = 5, pool: int = 4, hidden: int = 64,
                 dropout: float = 0.1):
        super().__init__()
        self.length, self.channels, self.kernel, self.pool, self.hidden = length, channels, kernel, pool, hidden
        self.conv1 = nn.Conv1d(NUM_TOKENS, channels, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        self.dense = nn.Linear(channels * (length // pool), hidden)
        self.out = nn.Linear(hidden, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor) -> Tensor:
        """``n x L`` int tokens -> ``n`` values."""
        x = F.one_hot(tokens.long(), NUM_TOKENS).float().transpose(1, 2)
        h = F.relu(self.conv2(F.relu(self.conv1(x))))
        h = F.max_pool1d(h, self.pool).flatten(1)
        return self.out(self.dropout(F.relu(self.dense(h)))).squeeze(-1)

    def settings(self) -> dict:
        return {"length": self.length, "channels": self.channels, "kernel": self.kernel, "pool": self.pool,
                "hidden": self.hidden}


@dataclass
class Oracle:
    """A cross-fitted CNN ensemble (``members``) with its standardisation and its record.

    ``meta``: ``cv_spearman`` (out-of-fold), ``spread_p95`` (95th percentile of the members' std on
    the labelled variants), ``n``, ``folds``, ``epochs``, ``seconds``, ``seed``.
    """

    members: list[SequenceCNN]
    y_mean: float
    y_std: float
    meta: dict

    @torch.no_grad()
    def predict(self, tokens: Tensor | np.ndarray, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """``n x L`` tokens -> ``(mean, std)`` over the members, each ``n`` (label units)."""
        tokens = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
        outs = []
        for m in self.members:
            m.eval()
            outs.append(torch.cat([m(tokens[i:i + batch]) for i in range(0, len(tokens), batch)])
                        if len(tokens) else torch.zeros(0))
        v = torch.stack(outs).cpu().numpy() * self.y_std + self.y_mean  # members x n
        return v.mean(0), v.std(0)

    def save(self, path: Path) -> None:
        """Plain tensors and data (loadable with ``torch.load(weights_only=True)``); written atomically."""
        import io

        state = {"format": FORMAT, "settings": self.members[0].settings(), "y_mean": self.y_mean, "y_std": self.y_std,
                 "meta": self.meta, "members": [{k: v.half() for k, v in m.state_dict().items()} for m in self.members]}
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "Oracle":
        path = Path(path)
        if not path.is_file():
            raise DesignerError(f"{path}: no oracle file; train one with designer benchmark gfp-design --train-oracle")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != FORMAT:
            raise DesignerError(f"{path}: oracle format {state.get('format')}, this designer reads {FORMAT}; retrain it")
        members = []
        for sd in state["members"]:
            m = SequenceCNN(**state["settings"])
            m.load_state_dict({k: v.float() for k, v in sd.items()})
            members.append(m.eval())
        return cls(members, float(state["y_mean"]), float(state["y_std"]), dict(state["meta"]))


def train_oracle(tokens: Tensor, y: np.ndarray, folds: int = 5, epochs: int = 8, seed: int = 0, batch: int = 256,
                 lr: float = 2e-3, log=print) -> Oracle:
    """Cross-fit ``folds`` CNNs on ``n x L`` tokens and their ``n`` labels (all finite).

    Member ``k`` trains on the rows outside fold ``k`` for ``epochs`` epochs (fixed: no fold's
    own rows choose anything); its predictions on fold ``k`` are the out-of-fold predictions.
    """
    y = np.asarray(y, dtype=np.float64)
    if len(y) != len(tokens) or not np.isfinite(y).all():
        raise DesignerError("oracle training needs one finite label per sequence")
    t0 = time.time()
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(y)) % folds
    y_mean, y_std = float(y.mean()), float(y.std() or 1.0)
    target = torch.as_tensor((y - y_mean) / y_std, dtype=torch.float32)
    tokens = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    oof = np.zeros(len(y))
    members = []
    for k in range(folds):
        torch.manual_seed(seed * 1000 + k)
        model = SequenceCNN(tokens.shape[1])
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
        train_idx = np.flatnonzero(fold != k)
        for epoch in range(epochs):
            model.train()
            order = torch.as_tensor(rng.permutation(train_idx))
            total = 0.0
            for i in range(0, len(order), batch):
                idx = order[i:i + batch]
                loss = F.mse_loss(model(tokens[idx]), target[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            sched.step()
            log(f"oracle member {k + 1}/{folds}, epoch {epoch + 1}/{epochs}: train mse {total / len(order):.4f}")
        model.eval()
        held = np.flatnonzero(fold == k)
        with torch.no_grad():
            oof[held] = torch.cat([model(tokens[held[i:i + 4096]]) for i in range(0, len(held), 4096)]).numpy()
        members.append(model)
    oracle = Oracle(members, y_mean, y_std, {})
    _, spread = oracle.predict(tokens)
    oof = oof * y_std + y_mean
    oracle.meta = {"cv_spearman": spearman(oof, y), "cv_rmse": float(np.sqrt(np.mean((oof - y) ** 2))),
                   "spread_p95": float(np.percentile(spread, 95)), "n": int(len(y)), "folds": folds,
                   "epochs": epochs, "seed": seed, "seconds": round(time.time() - t0, 1),
                   "architecture": "2 x Conv1d(k=5, 32 ch) on one-hot, max-pool 4, dense 64; cross-fitted ensemble"}
    return oracle
