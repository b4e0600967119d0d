"""The design report's plots as PNG (embedded in ``report.html`` by ``designer.report.page``; the trace and
latent map are also written beside it): the optimisation trace, the latent map, and scatter plots
of candidates (objective against plausibility or energy above hull, the Pareto front).
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def trace_png(rounds: list[int], objective: list[float], known_best: float | None) -> bytes:
    """Best objective so far after each round (and each round's candidates as dots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3))
    r = np.asarray(rounds)
    o = np.asarray(objective, dtype=float)
    ax.scatter(r, o, s=10, alpha=0.5, label="candidates")
    if len(r):
        xs = np.arange(1, r.max() + 1)
        best = [np.nanmax(o[r <= x]) for x in xs]
        ax.plot(xs, best, "k-o", ms=3, label="best so far")
    if known_best is not None and math.isfinite(known_best):
        ax.axhline(known_best, color="grey", ls="--", lw=1, label="best known (head)")
    ax.set_xlabel("round")
    ax.set_ylabel("objective (to maximise)")
    ax.legend(fontsize=7)
    return figure_png(fig)


def latent_map_png(known_z: np.ndarray, cand_z: np.ndarray, cand_score: np.ndarray | None = None) -> bytes:
    """The training latents and the candidates on the training data's first two principal components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    known_z = np.asarray(known_z, dtype=float)
    mean = known_z.mean(0)
    _, _, vt = np.linalg.svd(known_z - mean, full_matrices=False)
    pk = (known_z - mean) @ vt[:2].T
    pc = (np.asarray(cand_z, dtype=float) - mean) @ vt[:2].T
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.scatter(pk[:, 0], pk[:, 1], s=3, c="#bbb", label="training data")
    sc = ax.scatter(pc[:, 0], pc[:, 1], s=18, c=cand_score if cand_score is not None else "C3",
                    cmap="viridis", edgecolors="k", linewidths=0.3, label="candidates")
    if cand_score is not None:
        fig.colorbar(sc, ax=ax, label="objective")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=7)
    return figure_png(fig)




def scatter_png(x, y, xlabel: str, ylabel: str, highlight=None, highlight_label: str = "", front=None) -> bytes:
    """Candidates as points (``highlight``: a bool mask drawn on top, e.g. the selected batch; ``front``: a
    bool mask of Pareto-optimal points joined by a line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    fig, ax = plt.subplots(figsize=(4.5, 3.3))
    ax.scatter(x[ok], y[ok], s=16, c="#8c959f", label="candidates")
    if highlight is not None:
        h = np.asarray(highlight, dtype=bool) & ok
        if h.any():
            ax.scatter(x[h], y[h], s=26, c="#0969da", edgecolors="k", linewidths=0.4, label=highlight_label or "highlighted")
    if front is not None:
        f = np.asarray(front, dtype=bool) & ok
        if f.any():
            order = np.argsort(x[f])
            ax.plot(x[f][order], y[f][order], "-o", c="#cf222e", ms=5, lw=1, label="Pareto front")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    return figure_png(fig)
