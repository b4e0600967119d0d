"""PNG figures of ``designer analyze``: KL per dimension, traversals, interpolation, factor correlations."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    _plt().close(fig)
    tmp.replace(path)


def kl_bars(kl: np.ndarray, active: np.ndarray, path: Path, name: str) -> None:
    """Bar chart of KL per dimension, sorted, active units coloured."""
    plt = _plt()
    order = np.argsort(-kl)
    fig, ax = plt.subplots(figsize=(max(6, 0.14 * len(kl) + 2), 3.4))
    ax.bar(range(len(kl)), kl[order], color=["tab:blue" if active[j] else "0.75" for j in order])
    ax.set_xticks(range(len(kl)))
    ax.set_xticklabels([f"z{j}" for j in order], rotation=90, fontsize=6)
    ax.set_ylabel("KL (nats)")
    ax.set_title(f"{name}: KL per latent dimension (blue: active, {int(active.sum())}/{len(kl)})")
    fig.tight_layout()
    _save(fig, path)


def traversals_crystal(rows: list[dict], dims: list[int], names: list[str], path: Path) -> None:
    """Lattice constant and predicted property along each traversed dimension (formulas written where they change)."""
    plt = _plt()
    n = max(1, len(dims))
    fig, axes = plt.subplots(n, 2, figsize=(11, 2.1 * n), squeeze=False)
    pkey = f"pred_{names[0]}" if names else None
    for r, j in enumerate(dims):
        steps = [t for t in rows if t["dim"] == j]
        x = [t["value"] for t in steps]
        a = [t["lattice_constant"] if t["lattice_constant"] is not None else np.nan for t in steps]
        axes[r, 0].plot(x, a, "o-")
        axes[r, 0].set_ylabel(f"z{j}\na (Å)")
        last = None
        for t, xv, av in zip(steps, x, a):
            if t["formula"] != last:
                axes[r, 0].annotate(t["formula"] or "invalid", (xv, av), fontsize=7, rotation=20,
                                    textcoords="offset points", xytext=(0, 6))
                last = t["formula"]
        if pkey:
            axes[r, 1].plot(x, [t.get(pkey, np.nan) for t in steps], "s-", color="tab:orange")
            axes[r, 1].set_ylabel(f"predicted\n{names[0]}")
    axes[-1, 0].set_xlabel("latent value")
    axes[-1, 1].set_xlabel("latent value")
    fig.suptitle("traversals from the holdout's mean latent (2nd to 98th percentile of each dimension)")
    fig.tight_layout()
    _save(fig, path)


def traversals_sequence(rows: list[dict], dims: list[int], names: list[str], path: Path) -> None:
    """The decoder's substitution probability at the positions it changes most along each traversed dimension."""
    plt = _plt()
    n = max(1, len(dims))
    fig, axes = plt.subplots(n, 1, figsize=(11, 1.9 * n), squeeze=False)
    for r, j in enumerate(dims):
        steps = [t for t in rows if t["dim"] == j]
        p = np.stack([t["mutation_prob"] for t in steps])  # steps x L
        cols = np.sort(np.argsort(-np.ptp(p, axis=0))[:40])
        ax = axes[r, 0]
        im = ax.imshow(p[:, cols], aspect="auto", cmap="Reds", vmin=0, vmax=max(0.05, float(p[:, cols].max())))
        seqs = [t["sequence"] for t in steps]
        for yi, sq in enumerate(seqs):
            for xi, c in enumerate(cols):
                ax.text(xi, yi, sq[c], ha="center", va="center", fontsize=5)
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels([str(c + 1) for c in cols], fontsize=6, rotation=90)
        ax.set_yticks([0, len(steps) - 1])
        ax.set_yticklabels(["low", "high"], fontsize=7)
        ax.set_ylabel(f"z{j}")
        fig.colorbar(im, ax=ax, pad=0.01, label="P(substitution)")
    axes[-1, 0].set_xlabel("alignment position (the 40 whose substitution probability varies most; "
                           "letters: most likely residue)")
    fig.suptitle("traversals: substitution probability (colour) and most likely residue along each dimension")
    fig.tight_layout()
    _save(fig, path)


def interpolation(rows: list[dict], names: list[str], path: Path, labels: str | None = None,
                  second: str | None = None, second_label: str = "") -> None:
    """The predicted property along an interpolation; ``labels``: a row key written where it changes
    (e.g. the formula); ``second``: a row key drawn on a second axis (e.g. expected substitutions)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = [t["alpha"] for t in rows]
    if names:
        ax.plot(x, [t.get(f"pred_{names[0]}", np.nan) for t in rows], "o-", color="tab:orange")
        ax.set_ylabel(f"predicted {names[0]}")
    if labels is not None:
        last = None
        for t in rows:
            if t[labels] != last:
                ax.annotate(t[labels] or "invalid", (t["alpha"], t.get(f"pred_{names[0]}", 0) if names else 0),
                            fontsize=7, rotation=20, textcoords="offset points", xytext=(0, 6))
                last = t[labels]
    if second is not None:
        ax2 = ax.twinx()
        ax2.plot(x, [t[second] for t in rows], "x--", color="0.4")
        ax2.set_ylabel(second_label)
    ax.set_xlabel("α (0: the first input, 1: the second)")
    ax.set_title("interpolation between two inputs")
    fig.tight_layout()
    _save(fig, path)


def correlations(corr: list[dict], dims: list[int], factors: list[str], path: Path) -> None:
    """Heatmap of Spearman rho between active dimensions and known factors."""
    plt = _plt()
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
    _save(fig, path)
