"""Crystal factors of variation, the strain intervention and the traversal figure of ``designer analyze``.

A perovskite-like ABX3 cell gives per-site factors (A, B, X electronegativity and atomic radius;
X = the element three times as frequent, B = the cation closest to X); every crystal gives the
lattice constant (volume per formula unit)^(1/3), the mean electronegativity and the atom count;
the dataset's properties are factors too. The intervention strains each cell isotropically by 1%
(the lattice constant alone changes) and re-encodes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pymatgen.core import Element

from designer.report.figures import pyplot, save_png


def _site_factors(structure) -> dict[str, float]:
    """A/B/X site electronegativity and radius of an ABX3 cell (NaN elsewhere)."""
    keys = [f"{s}_{p}" for s in "ABX" for p in ("electronegativity", "radius")]
    out = dict.fromkeys(keys, float("nan"))
    comp = structure.composition.reduced_composition
    amounts = sorted(comp.get_el_amt_dict().items(), key=lambda kv: kv[1])
    if len(amounts) != 3 or [a for _, a in amounts] != [1.0, 1.0, 3.0]:
        return out
    x_sym = amounts[2][0]
    cations = [amounts[0][0], amounts[1][0]]
    dist = {}
    for c in cations:
        i = next(k for k, site in enumerate(structure) if site.specie.symbol == c)
        dist[c] = min(structure.get_distance(i, j) for j, site in enumerate(structure) if site.specie.symbol == x_sym)
    b_sym = min(cations, key=lambda c: dist[c])
    a_sym = next(c for c in cations if c != b_sym)
    for site, sym in zip("ABX", (a_sym, b_sym, x_sym)):
        el = Element(sym)
        out[f"{site}_electronegativity"] = float(el.X)
        out[f"{site}_radius"] = float(el.atomic_radius) if el.atomic_radius is not None else float("nan")
    return out


def lattice_constant(structure) -> float:
    """(Volume per formula unit)^(1/3), in Å: the cubic perovskite's a."""
    z = structure.composition.get_reduced_composition_and_factor()[1]
    return float((structure.volume / z) ** (1 / 3))


def crystal_factors(structures: list, properties: np.ndarray, property_names: list[str]) -> tuple[list[str], np.ndarray]:
    """``(names, n x k)`` known factors of ``structures`` (NaN where a factor does not apply)."""
    rows = []
    for s in structures:
        f = _site_factors(s)
        f["lattice_constant"] = lattice_constant(s)
        f["mean_electronegativity"] = float(s.composition.average_electroneg)
        f["num_atoms"] = float(len(s))
        rows.append(f)
    names = list(rows[0]) if rows else []
    names = [n for n in names if np.isfinite([r[n] for r in rows]).any()]
    mat = np.array([[r[n] for n in names] for r in rows], dtype=float).reshape(len(rows), len(names))
    return names + list(property_names), np.concatenate([mat, properties.reshape(len(rows), -1)], axis=1)


def strain_intervention(space, structures: list, mu, strain: float = 0.01):
    """``n x d`` change of the posterior mean (``mu``: the unstrained structures' ``n x d``) when each
    structure is strained isotropically by ``strain``."""
    strained = []
    for s in structures:
        t = s.copy()
        t.scale_lattice(s.volume * (1 + strain) ** 3)
        strained.append(t)
    return (space.encode(strained) - mu).numpy()


def plot_traversals(rows: list[dict], dims: list[int], names: list[str], path: Path) -> None:
    """Lattice constant and predicted property along each traversed dimension (formulas written where they change)."""
    plt = pyplot()
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
    save_png(fig, path)
