"""``design.search: mutations`` for proteins: the incumbent's mutational neighbourhood instead of latent BO.

The property head is the objective (as for latent BO without lab data): each round a pool of single-
and multi-site mutants of the best sequence so far (``designer.optimize.local.MutationSearch``) is
encoded, scored by the head, and the ``q`` best new ones that pass the plausibility floor become
that round's proposals. Fixed positions and the mutation cap hold by construction; gapped positions
of the reference are never mutated.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from designer.data.protein_dataset import GAP_INDEX, decode_tokens
from designer.optimize.local import MutationSearch
from designer.optimize.loop import Objective, Proposal, Settings
from designer.optimize.plausibility import Plausibility
from designer.optimize.space import Candidate


def mutation_design(space, start: torch.Tensor, objective: Objective, settings: Settings,
                    plausibility: Plausibility | None, known_keys: set, pool: int = 256,
                    max_per_candidate: int = 1, floor_percentile: float = 5.0,
                    on_round: Callable[[int, list[Proposal]], None] | None = None) -> list[Proposal]:
    """``settings.rounds`` rounds of ``settings.q`` proposals around ``start`` (``L`` tokens).

    ``space``: a ``ProteinSpace``; ``pool``: mutants scored by the head per round;
    ``max_per_candidate``: mutations per candidate (1: single mutants only).
    """
    plugin = space.run.model.plugin
    ref = plugin.reference.numpy()
    x0 = start.numpy().astype(np.int64)
    mutable = (x0 < GAP_INDEX) & (ref < GAP_INDEX)
    mutable[space.fixed] = False
    cap = space.constraints.max_mutations

    def score(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
        t = torch.as_tensor(tokens, dtype=torch.long)
        z = space.encode(t)
        mean, std = space.predict(z)
        obj = objective.scalar(objective.values(mean))
        pl = plausibility.percentile(z.numpy()) if plausibility is not None else np.full(len(t), 100.0)
        return obj, pl, mean, std, z

    obj0, pl0, *_ = score(x0[None])
    # no shift moves: on aligned variants of one protein a shifted stretch is an insertion plus a deletion,
    # which the alignment-based model does not represent
    search = MutationSearch(x0, float(obj0[0]), GAP_INDEX, mutable=mutable, reference=ref, max_mutations=cap,
                            seed=settings.seed, max_per_candidate=max_per_candidate, shift_moves=False)
    out: list[Proposal] = []
    for r in range(settings.rounds):
        cands = search.ask(pool)
        if not cands:
            break
        tokens = np.stack([c.x for c in cands])
        obj, pl, mean, std, z = score(tokens)
        plausible = pl >= floor_percentile
        search.tell(cands, np.where(plausible, obj, -np.inf))  # implausible mutants never become the incumbent
        seqs = decode_tokens(torch.as_tensor(tokens))
        picked = []
        for i in np.argsort(-np.where(plausible, obj, -np.inf)):
            if len(picked) >= settings.q or not plausible[i]:
                break
            if seqs[i] in known_keys:
                continue
            known_keys.add(seqs[i])
            n_mut = int((tokens[i] != ref).sum())
            cand = Candidate(seqs[i], seqs[i], z[i].numpy(), z[i].numpy(), None, {"mutations": n_mut})
            picked.append(Proposal(r, cand, mean[i], std[i], float(obj[i]), float(pl[i])))
        out += picked
        if on_round:
            on_round(r, picked)
    return out
