"""Known generative factors of the inputs (for MIG, correlations) and one-factor interventions.

Crystals: a perovskite-like ABX3 cell gives per-site factors (A, B, X electronegativity and
atomic radius; X = the element three times as frequent, B = the cation closest to X); every
crystal gives the lattice constant (volume per formula unit)^(1/3), the mean electronegativity and
the atom count; the dataset's properties are factors too. Proteins: the properties, the number of
substitutions from the reference and the net charge (K + R - D - E).

Interventions change one factor by a small step and re-encode: crystals are strained
isotropically by 1% (the lattice constant alone changes); proteins receive one extra random
substitution at an ungapped position.
"""

from __future__ import annotations

import numpy as np


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
    from pymatgen.core import Element

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


def protein_factors(tokens, reference, properties: np.ndarray, property_names: list[str]) -> tuple[list[str], np.ndarray]:
    """``(names, n x k)``: properties, substitutions from ``reference`` (``L`` tokens) and net charge."""
    from designer.data.protein_dataset import decode_tokens

    tok = np.asarray(tokens)
    ref = np.asarray(reference)
    n_mut = (tok != ref[None, :]).sum(1).astype(float)
    seqs = decode_tokens(tokens, keep_gaps=False)
    charge = np.array([sum(s.count(a) for a in "KR") - sum(s.count(a) for a in "DE") for s in seqs], dtype=float)
    mat = np.stack([n_mut, charge], 1)
    return ["substitutions", "net_charge", *property_names], np.concatenate([mat, properties.reshape(len(tok), -1)], 1)


def strain_intervention(space, structures: list, mu, strain: float = 0.01):
    """``n x d`` change of the posterior mean (``mu``: the unstrained structures' ``n x d``) when each
    structure is strained isotropically by ``strain``."""
    strained = []
    for s in structures:
        t = s.copy()
        t.scale_lattice(s.volume * (1 + strain) ** 3)
        strained.append(t)
    return (space.encode(strained) - mu).numpy()


def mutation_intervention(encode, tokens, mu, n_residue_types: int, seed: int = 0):
    """``n x d`` change of the posterior mean (``mu``: the unchanged sequences') after one extra random
    substitution per sequence.

    ``encode``: ``n x L`` tokens -> ``n x d`` means; ``tokens`` below ``n_residue_types`` are
    residues (gaps and unknowns are left alone); the new residue differs from the old one.
    """
    import torch

    rng = np.random.default_rng(seed)
    mutated = tokens.clone()
    for i in range(len(tokens)):
        ok = torch.nonzero(tokens[i] < n_residue_types).flatten().numpy()
        if not len(ok):
            continue
        p = int(rng.choice(ok))
        choices = [a for a in range(n_residue_types) if a != int(tokens[i, p])]
        mutated[i, p] = int(rng.choice(choices))
    return (encode(mutated) - mu).numpy()
