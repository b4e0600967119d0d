"""Decode-time chemistry: pick the most likely charge-neutral composition among the decoder's top choices.

No extra network evaluation: the decoder's per-slot element scores are re-ranked. Each
composition is checked with the same SMACT test the benchmark uses (CDVAE's definition), cached
per element multiset.
"""

from __future__ import annotations

import heapq
from collections import Counter

import numpy as np
import torch
from pymatgen.core import Composition, Element
from torch import Tensor

from designer.metrics import charge_balance, composition_validity

_VALID: dict[tuple, bool] = {}


def clear_cache() -> None:
    """Forget the cached charge-balance verdicts of element multisets (and the checker's own cache)."""
    _VALID.clear()
    charge_balance.clear_cache()


def _is_valid(atomic_numbers: tuple[int, ...]) -> bool:
    key = tuple(sorted(Counter(atomic_numbers).items()))
    if key not in _VALID:
        _VALID[key] = composition_validity(Composition({Element.from_Z(z): c for z, c in key}))
    return _VALID[key]


def best_first(scores: np.ndarray, limit: int):
    """Yield index tuples over slots in decreasing total score (``scores``: ``n x k`` sorted per row)."""
    n, k = scores.shape
    start = (0,) * n
    heap = [(-scores[np.arange(n), list(start)].sum(), start)]
    seen = {start}
    for _ in range(limit):
        if not heap:
            return
        neg, idx = heapq.heappop(heap)
        yield idx
        for s in range(n):
            if idx[s] + 1 < k:
                nxt = idx[:s] + (idx[s] + 1,) + idx[s + 1:]
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (neg + scores[s, idx[s]] - scores[s, idx[s] + 1], nxt))


@torch.no_grad()
def charge_neutral_types(slot_logp: Tensor, num_atoms: Tensor, atomic_numbers: Tensor, top_k: int = 3,
                         max_candidates: int = 64) -> Tensor:
    """Most likely per-slot elements whose composition passes the SMACT charge-balance test.

    Args:
        slot_logp: ``B x S x V`` element log-scores per slot.
        num_atoms: ``B`` number of atoms of each decoded structure (first n slots are used).
        atomic_numbers: ``V`` the vocabulary.
        top_k: alternatives considered per slot.
        max_candidates: compositions tried per structure, best first; when none passes, the
            most likely one is kept (and the structure will count as compositionally invalid).

    Returns:
        ``B x S`` vocabulary indices.
    """
    top = slot_logp.topk(min(top_k, slot_logp.shape[-1]), dim=-1)
    values, indices = top.values.cpu().numpy(), top.indices.cpu().numpy()
    z = atomic_numbers.cpu().numpy()
    out = indices[..., 0].copy()
    for b in range(slot_logp.shape[0]):
        n = int(num_atoms[b])
        for choice in best_first(values[b, :n], max_candidates):
            picked = indices[b, np.arange(n), list(choice)]
            if _is_valid(tuple(int(x) for x in z[picked])):
                out[b, :n] = picked
                break
    return torch.from_numpy(out).to(slot_logp.device)
