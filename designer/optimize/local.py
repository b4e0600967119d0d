"""A discrete trust region around the best sequence: its single-mutation neighbourhood, searched with memory.

Latent BO moves through a decoder, so consecutive proposals can differ at many positions; where the
property rewards a few exact residues at exact places (binding motifs, the Ehrlich functions), what
pays is a targeted edit of the best sequence so far. ``MutationSearch`` proposes, per round:

1. **combinations**: the incumbent plus mutations that improved an earlier parent (all of them
   together, the best few cumulatively, and each alone) — gains found in the same batch are merged;
2. **untried single mutants** of the incumbent, ranked by a surrogate (``rank``: higher first; e.g.
   expected improvement of a GP on the VAE latents of the candidates) or at random;
3. then mutants whose mutation was neutral on an earlier parent, then those that hurt.

No sequence is proposed twice. A mutation that breaks a transition the model has never seen
(``allowed``, learned from unlabelled sequences) is repaired by changing a neighbour to a state
with seen transitions on both sides; irreparable ones come last. When the whole neighbourhood has
been scored without gain, the search steps to an equally good neighbour (a walk on the plateau,
as hill climbing does) and scans again. Fixed positions and a mutation cap against a reference are
never violated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Mutation = tuple[int, int]  # (position, state)


@dataclass
class LocalCandidate:
    """A proposed sequence (``L`` ints), the incumbent value it was derived from and its mutations."""

    x: np.ndarray
    parent_value: float
    mutations: tuple[Mutation, ...]
    tier: int


@dataclass
class MutationSearch:
    """State of the neighbourhood search (see the module docstring).

    Args:
        x0: ``L`` starting sequence (integer states); y0: its value (to maximise).
        num_states: alphabet size ``v``.
        mutable: ``L`` bool, positions that may change (default all).
        allowed: ``v x v`` bool, transitions ``a -> b`` known to be possible (default all).
        reference, max_mutations: proposals differ from ``reference`` at most ``max_mutations`` times.
    """

    x0: np.ndarray
    y0: float
    num_states: int
    mutable: np.ndarray | None = None
    allowed: np.ndarray | None = None
    reference: np.ndarray | None = None
    max_mutations: int | None = None
    seed: int = 0
    seen: dict = field(default_factory=dict)  # bytes -> value
    gains: dict = field(default_factory=dict)  # Mutation -> its gain over the parent it was last tried on
    drift: int | None = None  # neutral mutations carried per round (None: all)
    max_per_candidate: int = 1

    def __post_init__(self):
        self.x0 = np.asarray(self.x0, dtype=np.int64).copy()
        L = len(self.x0)
        self.mutable = np.ones(L, dtype=bool) if self.mutable is None else np.asarray(self.mutable, dtype=bool)
        self.rng = np.random.default_rng(self.seed)
        self.best_x, self.best_y = self.x0.copy(), float(self.y0)
        self.seen[self.best_x.tobytes()] = float(self.y0)
        self._accepted: list[Mutation] = []  # mutations to carry into the next round's combination
        self._outcomes: list[tuple[int, bool]] = []  # (mutations, hurt) of recent candidates

    # ---------------------------------------------------------------- rules

    def _transition_ok(self, x: np.ndarray, i: int) -> bool:
        """Whether the transitions into and out of position ``i`` are allowed."""
        if self.allowed is None:
            return True
        ok = True
        if i > 0:
            ok &= bool(self.allowed[x[i - 1], x[i]])
        if i < len(x) - 1:
            ok &= bool(self.allowed[x[i], x[i + 1]])
        return ok

    def _repair(self, x: np.ndarray, p: int) -> np.ndarray | None:
        """``x`` (mutated at ``p``) with neighbours changed so every transition is allowed; None if impossible."""
        if self.allowed is None or self._transition_ok(x, p):
            return x
        x = x.copy()
        for nb in (p - 1, p + 1):
            if not 0 <= nb < len(x):
                continue
            left = self.allowed[x[nb - 1]] if nb > 0 else np.ones(self.num_states, dtype=bool)
            right = self.allowed[:, x[nb + 1]] if nb < len(x) - 1 else np.ones(self.num_states, dtype=bool)
            if left[x[nb]] and right[x[nb]]:
                continue
            if not self.mutable[nb]:
                return None
            options = np.flatnonzero(left & right)
            if not len(options):
                return None
            x[nb] = self.rng.choice(options)
        return x if self._transition_ok(x, p) else None

    def _within_cap(self, x: np.ndarray) -> bool:
        if self.reference is None or self.max_mutations is None:
            return True
        return int((x != self.reference).sum()) <= self.max_mutations

    # ---------------------------------------------------------------- ask / tell

    def _combine(self, x: np.ndarray, muts: list[Mutation]) -> tuple[np.ndarray, tuple]:
        """``x`` with as many of ``muts`` (in order, one per position) as keep every transition allowed."""
        y, used, taken = x.copy(), set(), []
        for p, a in muts:
            if p in used or y[p] == a or not self.mutable[p]:
                continue
            old, y[p] = y[p], a
            if not self._transition_ok(y, p) or not self._within_cap(y):
                y[p] = old
                continue
            used.add(p)
            taken.append((p, a))
        return y, tuple(taken)

    def ask(self, q: int, rank: Callable[[np.ndarray], np.ndarray] | None = None,
            rank_pool: int = 4096) -> list[LocalCandidate]:
        """Up to ``q`` new sequences: the incumbent with last round's accepted mutations, and its single mutants.

        ``rank``: ``n x L`` candidates -> ``n`` scores (higher is proposed first), applied within each
        tier to at most ``rank_pool`` of them (random subset).
        """
        picked, keys = [], set()
        base, base_value = self.best_x, self.best_y
        if self._accepted:
            y, muts = self._combine(self.best_x, self._accepted)
            if muts and y.tobytes() not in self.seen:
                picked.append(LocalCandidate(y, self.best_y, muts, 0))
                keys.add(y.tobytes())
                base, base_value = y, np.nan  # its mutants' gains are measured against its value (tell)
        tiers: list[list] = [[], [], []]
        for p in np.flatnonzero(self.mutable):
            for a in range(self.num_states):
                if a == base[p]:
                    continue
                g = self.gains.get((int(p), a))
                y = base.copy()
                y[p] = a
                fixed = self._repair(y, int(p))
                if fixed is None or not self._within_cap(fixed):
                    continue
                k = fixed.tobytes()
                if k not in self.seen and k not in keys:
                    tiers[0 if g is None or g >= 0 else 1 if np.isfinite(g) else 2].append((fixed, ((int(p), a),)))
        ordered = []  # (sequence, mutation, tier) in proposal order
        for t, items in enumerate(tiers):
            if not items:
                continue
            order = self.rng.permutation(len(items))
            if rank is not None and len(items) > 1:
                pool = order[:rank_pool]
                scores = np.asarray(rank(np.stack([items[i][0] for i in pool])), dtype=float)
                order = np.concatenate([pool[np.argsort(-scores, kind="stable")], order[rank_pool:]])
            ordered += [(items[i][0], items[i][1][0], t + 1) for i in order]
        # candidates carry 1..max_mutations_per_candidate of these mutations each: where most sites are
        # neutral, a multi-mutant tests several sites for the price of one call
        i = 0
        while len(picked) < q and i < len(ordered):
            k = int(self.rng.integers(1, self._k_max() + 1))
            chunk = ordered[i:i + k]
            i += len(chunk)
            if len(chunk) == 1:
                y, muts, tier = chunk[0][0], (chunk[0][1],), chunk[0][2]
            else:
                y, muts = self._apply(base, [m for _, m, _ in chunk])
                tier = max(t for _, _, t in chunk)
            key = y.tobytes()
            if muts and key not in self.seen and key not in keys:
                keys.add(key)
                picked.append(LocalCandidate(y, base_value, muts, tier))
        return picked

    def _k_max(self) -> int:
        """Mutations per candidate: up to ``max_per_candidate``, fewer where mutations often hurt.

        With a fraction ``d`` of harmful sites, a ``k``-mutant finds a rare improving site at a rate
        ``k (1 - d)^k`` per call, best near ``k = 1/d``; ``d`` is estimated from recent candidates
        (``P(not hurt) = (1 - d)^k``), so ``k`` ranges up to about ``2/d``.
        """
        hist = self._outcomes[-512:]
        if self.max_per_candidate <= 1 or len(hist) < 32:
            return self.max_per_candidate
        ks = np.array([k for k, _ in hist], dtype=float)
        ok = np.mean([not hurt for _, hurt in hist])
        d = 1.0 - max(ok, 1e-3) ** (1.0 / ks.mean())
        return int(np.clip(round(2.0 / max(d, 1e-6)) - 1, 1, self.max_per_candidate))

    def _apply(self, x: np.ndarray, muts: list[Mutation]) -> tuple[np.ndarray, tuple]:
        """``x`` with ``muts`` applied in turn (neighbours repaired); mutations that cannot be made are skipped."""
        y, taken = x.copy(), []
        for p, a in muts:
            if y[p] == a:
                continue
            z = y.copy()
            z[p] = a
            z = self._repair(z, p)
            if z is None or not self._within_cap(z):
                continue
            y = z
            taken.append((p, a))
        return y, tuple(taken)

    def tell(self, cands: list[LocalCandidate], values: np.ndarray) -> None:
        """Record the values (``n``, to maximise; -inf for infeasible) of the candidates ``ask`` returned.

        The next incumbent is the best of the batch when it improves; otherwise the combination
        (when it is not worse: a step on the plateau, as hill climbing takes). Mutations that did
        not hurt their parent are carried into the next round's combination, improving ones first
        and at most ``drift`` neutral ones.
        """
        values = np.asarray(values, dtype=float)
        if not len(values):
            return
        combo = [(c, v) for c, v in zip(cands, values) if c.tier == 0]
        combo_value = combo[0][1] if combo else np.nan
        combo_ok = bool(combo) and np.isfinite(combo_value) and combo_value >= self.best_y
        gains = []
        for c, v in zip(cands, values):
            self.seen[c.x.tobytes()] = float(v)
            if c.tier == 0:
                continue
            parent = combo_value if np.isnan(c.parent_value) else c.parent_value
            gain = v - parent if np.isfinite(v) and np.isfinite(parent) else -np.inf
            if len(c.mutations) == 1:
                self.gains[c.mutations[0]] = gain
            if np.isfinite(parent):
                self._outcomes.append((len(c.mutations), bool(gain < 0)))
            if np.isnan(c.parent_value) and not combo_ok:
                continue  # built on a combination that failed: no step from it
            gains.append((gain, c))
        i = int(np.argmax(values))
        accepted_from = None
        if values[i] > self.best_y and cands[i].tier != 0:
            self.best_x, self.best_y = cands[i].x.copy(), float(values[i])
            accepted_from = cands[i]
        elif combo_ok:
            self.best_x, self.best_y = combo[0][0].x.copy(), float(combo_value)
        elif values[i] > self.best_y:
            self.best_x, self.best_y = cands[i].x.copy(), float(values[i])
        gains.sort(key=lambda t: -t[0])
        up = [m for g, c in gains if g > 0 and c is not accepted_from for m in c.mutations]
        flat = [m for g, c in gains if g == 0 and c is not accepted_from for m in c.mutations]
        self._accepted = up + (flat if self.drift is None else flat[: self.drift])


def learned_transitions(sequences: np.ndarray, num_states: int) -> np.ndarray:
    """``v x v`` bool: the transitions ``a -> b`` seen in ``n x L`` unlabelled sequences."""
    s = np.asarray(sequences, dtype=np.int64)
    allowed = np.zeros((num_states, num_states), dtype=bool)
    allowed[s[:, :-1].ravel(), s[:, 1:].ravel()] = True
    return allowed
