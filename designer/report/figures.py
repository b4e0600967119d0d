"""Small matplotlib helpers shared by the reports and the domains' analysis figures (PNG, written atomically)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path) -> None:
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    pyplot().close(fig)
    tmp.replace(path)


def interpolation(rows: list[dict], names: list[str], path: Path, labels: str | None = None,
                  second: str | None = None, second_label: str = "") -> None:
    """The predicted property along an interpolation; ``labels``: a row key written where it changes
    (e.g. the formula); ``second``: a row key drawn on a second axis (e.g. expected substitutions)."""
    plt = pyplot()
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
    save_png(fig, path)
