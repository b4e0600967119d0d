"""PNG figures of ``designer analyze`` that every domain shares: KL per dimension, factor correlations
(traversals and interpolations are drawn by the domains)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from designer.report.figures import pyplot, save_png


def kl_bars(kl: np.ndarray, active: np.ndarray, path: Path, name: str) -> None:
    """Bar chart of KL per dimension, sorted, active units coloured."""
    plt = pyplot()
    order = np.argsort(-kl)
    fig, ax = plt.subplots(figsize=(max(6, 0.14 * len(kl) + 2), 3.4))
    ax.bar(range(len(kl)), kl[order], color=["tab:blue" if active[j] else "0.75" for j in order])
    ax.set_xticks(range(len(kl)))
    ax.set_xticklabels([f"z{j}" for j in order], rotation=90, fontsize=6)
    ax.set_ylabel("KL (nats)")
    ax.set_title(f"{name}: KL per latent dimension (blue: active, {int(active.sum())}/{len(kl)})")
    fig.tight_layout()
    save_png(fig, path)


def correlations(corr: list[dict], dims: list[int], factors: list[str], path: Path) -> None:
    """Heatmap of Spearman rho between active dimensions and known factors."""
    plt = pyplot()
    m = np.full((len(factors), len(dims)), np.nan)
    col = {j: c for c, j in enumerate(dims)}
    row = {f: r for r, f in enumerate(factors)}
    for c in corr:
        if c["dim"] in col and c["factor"] in row and c["spearman"] is not None:
            m[row[c["factor"]], col[c["dim"]]] = c["spearman"]
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * len(dims) + 3), 0.35 * len(factors) + 1.8))
    im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(dims)))
    ax.set_xticklabels([f"z{j}" for j in dims], rotation=90, fontsize=7)
    ax.set_yticks(range(len(factors)))
    ax.set_yticklabels(factors, fontsize=7)
    fig.colorbar(im, ax=ax, label="Spearman ρ")
    ax.set_title("active dimensions vs known factors")
    fig.tight_layout()
    save_png(fig, path)
