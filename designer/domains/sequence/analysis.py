"""Sequence factors of variation, the substitution intervention and the traversal figure of ``designer analyze``.

Factors: the properties, the number of substitutions from the reference and the net charge
(K + R - D - E). The intervention gives each sequence one extra random substitution at an
ungapped position and re-encodes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from designer.data.protein_dataset import decode_tokens
from designer.report.figures import pyplot, save_png


def protein_factors(tokens, reference, properties: np.ndarray, property_names: list[str]) -> tuple[list[str], np.ndarray]:
    """``(names, n x k)``: properties, substitutions from ``reference`` (``L`` tokens) and net charge."""
    tok = np.asarray(tokens)
    ref = np.asarray(reference)
    n_mut = (tok != ref[None, :]).sum(1).astype(float)
    seqs = decode_tokens(tokens, keep_gaps=False)
    charge = np.array([sum(s.count(a) for a in "KR") - sum(s.count(a) for a in "DE") for s in seqs], dtype=float)
    mat = np.stack([n_mut, charge], 1)
    return ["substitutions", "net_charge", *property_names], np.concatenate([mat, properties.reshape(len(tok), -1)], 1)


def mutation_intervention(encode, tokens, mu, n_residue_types: int, seed: int = 0):
    """``n x d`` change of the posterior mean (``mu``: the unchanged sequences') after one extra random
    substitution per sequence.

    ``encode``: ``n x L`` tokens -> ``n x d`` means; ``tokens`` below ``n_residue_types`` are
    residues (gaps and unknowns are left alone); the new residue differs from the old one.
    """
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


def plot_traversals(rows: list[dict], dims: list[int], names: list[str], path: Path) -> None:
    """The decoder's substitution probability at the positions it changes most along each traversed dimension."""
    plt = pyplot()
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
    save_png(fig, path)
