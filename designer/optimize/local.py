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

**Shift moves** get out of a stall where two features want the same site (two motifs of an Ehrlich
function overlapping, so completing one breaks the other). After ``stall_rounds`` rounds without
gain the search maps the incumbent: a position is *essential* when its scored single mutants are
mostly worse than the incumbent, *free* otherwise (unmapped positions get one probe mutant each).
Essential positions are scanned state by state: a state ``s`` at an essential position ``p`` whose
single mutant is no worse is a *swap*, which completes one feature by breaking another. For each
swap the search proposes

- *pushes*: ``s`` written at ``p`` and the displaced stretch moved ``d`` (1..``max_shift``) steps
  towards a free position ``b`` just past a feature's end, so every feature lying wholly inside the
  stretch survives and only the ``d`` free positions ending at ``b`` are lost;
- *relocations*: the essential states of a stretch around ``p`` copied to the same offsets onto free
  positions, and ``s`` written at ``p`` (the displaced feature lives on in the copy) or in the copy
  (the completed feature is rebuilt there).

A transition these moves break is mended only at free positions.
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
        shift_moves: after ``stall_rounds`` rounds without gain, propose shift moves, probes and scans
            (module docstring) in up to ``stall_share`` of each batch; a push moves a stretch of at most
            ``max_window`` positions by 1..``max_shift``; a relocation tries ``max_targets`` places.
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
    shift_moves: bool = True
    stall_rounds: int = 4  # rounds without gain before shift moves are proposed
    max_shift: int = 3  # shift moves push a segment 1..max_shift positions
    max_window: int | None = None  # longest stretch a shift move moves (default: a quarter of the sequence)
    max_targets: int = 4  # places tried per stretch and swap
    stall_share: float = 0.5  # share of a stalled round's batch given to shift moves, probes and scans

    def __post_init__(self):
        self.x0 = np.asarray(self.x0, dtype=np.int64).copy()
        L = len(self.x0)
        self.mutable = np.ones(L, dtype=bool) if self.mutable is None else np.asarray(self.mutable, dtype=bool)
        self.rng = np.random.default_rng(self.seed)
        self.best_x, self.best_y = self.x0.copy(), float(self.y0)
        self.seen[self.best_x.tobytes()] = float(self.y0)
        self._accepted: list[Mutation] = []  # mutations to carry into the next round's combination
        self._outcomes: list[tuple[int, bool]] = []  # (mutations, hurt) of recent candidates
        self._rounds_without_gain = 0
        self._sites: dict[int, dict] = {}  # position -> {state: (gain of that single mutation, parent value)}
        self._pushed: set = set()  # shift moves already proposed

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

    def _bridges(self, y: np.ndarray, i: int) -> np.ndarray:
        """``v`` bool: the states position ``i`` can hold with both of its transitions allowed."""
        left = self.allowed[y[i - 1]] if i > 0 else np.ones(self.num_states, dtype=bool)
        right = self.allowed[:, y[i + 1]] if i < len(y) - 1 else np.ones(self.num_states, dtype=bool)
        return left & right

    def _repair(self, x: np.ndarray, p: int) -> np.ndarray | None:
        """``x`` (mutated at ``p``) with neighbours changed so every transition is allowed; None if impossible."""
        if self.allowed is None or self._transition_ok(x, p):
            return x
        x = x.copy()
        for nb in (p - 1, p + 1):
            if not 0 <= nb < len(x):
                continue
            ok = self._bridges(x, nb)
            if ok[x[nb]]:
                continue
            if not self.mutable[nb]:
                return None
            options = np.flatnonzero(ok)
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
        if self.shift_moves and self._rounds_without_gain >= self.stall_rounds:
            for y, muts, tier in self._stall_candidates(max(1, int(q * self.stall_share))):
                keys.add(y.tobytes())
                picked.append(LocalCandidate(y, self.best_y, muts, tier))
        if self._accepted and len(picked) < q:
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
        before = self.best_y
        old_x = self.best_x
        for c, v in zip(cands, values):
            self.seen[c.x.tobytes()] = float(v)
            if c.tier == 0 or c.tier == SHIFT_TIER:
                continue
            parent = combo_value if np.isnan(c.parent_value) else c.parent_value
            gain = v - parent if np.isfinite(v) and np.isfinite(parent) else -np.inf
            if np.isfinite(parent):
                # a single mutant (a probe's repair of a free neighbour aside) tells what its mutation does;
                # a neutral multi-mutant, that each of its mutations is neutral
                told = c.mutations[:1] if len(c.mutations) == 1 or c.tier == PROBE_TIER else \
                    c.mutations if gain == 0 else ()
                for q_, a_ in told:
                    self._sites.setdefault(q_, {})[a_] = (gain, parent)
            if c.tier >= PROBE_TIER:
                continue
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
        self._rounds_without_gain = 0 if self.best_y > before else self._rounds_without_gain + 1
        if self.best_y > before:  # a site that made the gain: what mutations there do has changed
            for p in np.flatnonzero(self.best_x != old_x):
                self._sites.pop(int(p), None)
        gains.sort(key=lambda t: -t[0])
        up = [m for g, c in gains if g > 0 and c is not accepted_from for m in c.mutations]
        flat = [m for g, c in gains if g == 0 and c is not accepted_from for m in c.mutations]
        self._accepted = up + (flat if self.drift is None else flat[: self.drift])

    # ---------------------------------------------------------------- shift moves (stalls)

    def _single(self, x: np.ndarray, p: int, a: int, free: set[int] = frozenset()) -> np.ndarray | None:
        """``x`` with ``x[p] = a``, a broken transition mended only at a ``free`` neighbour; None if impossible."""
        y = x.copy()
        y[p] = a
        if self.allowed is not None:
            L = len(y)
            for nb, broken in ((p - 1, p > 0 and not self.allowed[y[p - 1], a]),
                               (p + 1, p < L - 1 and not self.allowed[a, y[min(p + 1, L - 1)]])):
                if not broken:
                    continue
                if nb not in free or not self.mutable[nb]:
                    return None
                options = np.flatnonzero(self._bridges(y, nb))
                if not len(options):
                    return None
                y[nb] = options[0] if y[nb] not in options else y[nb]
        return y if self._transition_ok(y, p) and self._within_cap(y) else None

    def _site_map(self, x: np.ndarray) -> tuple[dict[int, bool], list[int], list[tuple[int, int]], dict]:
        """What single mutations of the incumbent ``x`` did (``_sites``): per position essential or free,
        unmapped positions, swaps ``(p, a)`` at essential positions, and the states left to scan at each.

        A position's class comes from the mutations tried at the incumbent's value when there are any
        (older ones otherwise); swaps and scans count only mutations tried at the incumbent's value.
        """
        essential, unmapped, swaps, unscored = {}, [], [], {}
        for p in np.flatnonzero(self.mutable):
            p = int(p)
            tried = self._sites.get(p, {})
            if not tried:
                unmapped.append(p)
                continue
            now = {a: g for a, (g, level) in tried.items() if level == self.best_y}
            gains = list(now.values()) or [g for g, _ in tried.values()]
            essential[p] = bool(np.mean([g < 0 for g in gains]) > 0.5)
            if essential[p]:
                swaps += [(p, a) for a, g in now.items() if g >= 0 and a != x[p]]
                unscored[p] = [a for a in range(self.num_states) if a != x[p] and a not in now]
        return essential, unmapped, swaps, unscored

    def _mend(self, y: np.ndarray, lo: int, hi: int, flexible: set[int]) -> np.ndarray | None:
        """``y`` with each forbidden transition between positions ``lo - 1`` and ``hi + 1`` mended by
        changing a ``flexible`` position next to it; None when some cannot be mended."""
        L = len(y)
        for t in range(max(lo - 1, 0), min(hi + 1, L - 1)):
            if self.allowed is None or self.allowed[y[t], y[t + 1]]:
                continue
            for i in (t, t + 1):
                if i not in flexible or not self.mutable[i]:
                    continue
                options = np.flatnonzero(self._bridges(y, i))
                if len(options):
                    y[i] = self.rng.choice(options)
                    break
            else:
                return None
        return y

    def _accept_move(self, x: np.ndarray, y: np.ndarray | None) -> np.ndarray | None:
        """``y`` when it differs from ``x`` only where allowed (mutable, cap, transitions), else None."""
        if y is None:
            return None
        changed = np.flatnonzero(y != x)
        if not len(changed) or not self.mutable[changed].all() or not self._within_cap(y):
            return None
        if self.allowed is not None and not self.allowed[y[:-1], y[1:]].all():
            return None
        return y

    def _push(self, x: np.ndarray, p: int, a: int, b: int, d: int, free: set[int]) -> np.ndarray | None:
        """``x`` with ``a`` written at ``p`` and the segment between ``p`` and ``b`` pushed ``d`` steps towards ``b``.

        The ``d`` positions ending at ``b`` are lost (they must be free); the ``d - 1`` positions opened
        next to ``p`` are filled, and a transition the move breaks is mended by changing a filler or a
        free position just outside the moved stretch. None when that is impossible.
        """
        L = len(x)
        y = x.copy()
        if b > p:
            if b - p < d:
                return None
            lost, gap, outside = range(b - d + 1, b + 1), range(p + 1, p + d), (p - 1, b + 1)
            y[p + d:b + 1] = x[p:b + 1 - d]
        else:
            if p - b < d:
                return None
            lost, gap, outside = range(b, b + d), range(p - d + 1, p), (p + 1, b - 1)
            y[b:p - d + 1] = x[b + d:p + 1]
        if not all(i in free for i in lost):
            return None
        y[p] = a
        y[list(gap)] = a
        flexible = set(gap) | {i for i in outside if 0 <= i < L and i in free}
        return self._accept_move(x, self._mend(y, min(p, b), max(p, b), flexible))

    def _relocate(self, x: np.ndarray, p: int, a: int, s: int, e: int, t: int, free: set[int],
                  in_copy: bool) -> np.ndarray | None:
        """The essential states of the stretch ``x[s:e+1]`` (which holds ``p``) copied to the same offsets
        from ``t`` on (onto free positions or the stretch itself), and ``a`` written at ``p`` (the feature
        ``a`` displaces lives on in the copy) or, ``in_copy``, at ``p``'s image in the copy (the feature
        ``a`` completes is rebuilt there, the original left alone). None when impossible."""
        n = e - s + 1
        if t == s or t < 0 or t + n > len(x):
            return None
        y = x.copy()
        written = set()
        for i in range(s, e + 1):
            if i in free:
                continue
            j = t + i - s
            if j not in free and not s <= j <= e:
                return None
            y[j] = x[i]
            written.add(j)
        q_ = t + p - s if in_copy else p
        y[q_] = a
        written.add(q_)
        lo, hi = min(min(written), s), max(max(written), e)
        return self._accept_move(x, self._mend(y, lo, hi, {i for i in free if i not in written}))

    def _stall_candidates(self, q: int) -> list[tuple[np.ndarray, tuple, int]]:
        """Up to ``q`` candidates for a stalled search: shift moves for known swaps, then probes of unmapped
        positions, then untried states at essential positions (to find swaps)."""
        x = self.best_x
        essential, unmapped, swaps, unscored = self._site_map(x)
        free = [p for p, e in essential.items() if not e]
        out, keys = [], set()

        def add(y, tier, lead=None) -> bool:  # lead: the intended mutation of a probe, listed first
            k = y.tobytes()
            if k in self.seen or k in keys or len(out) >= q:
                return False
            keys.add(k)
            muts = [(int(i), int(y[i])) for i in np.flatnonzero(y != x) if int(i) != lead]
            out.append((y, tuple(([(lead, int(y[lead]))] if lead is not None else []) + muts), tier))
            return True

        pushes, free_set = [], set(free)
        free_mask = np.zeros(len(x), dtype=bool)
        free_mask[free] = True
        ess = sorted(i for i, e_ in essential.items() if e_)
        w = self.max_window or max(2, len(x) // 4)
        for p, a in swaps:
            # a pushed stretch ends just past an essential position (the end of a feature) within reach
            ends = {i + 1 for i in ess if p < i < p + w} | {i - 1 for i in ess if p - w < i < p}
            for b in sorted(b_ for b_ in ends if b_ in free_set):
                for d in range(1, self.max_shift + 1):
                    lo, hi = min(p, b), max(p, b)
                    key = (p, a, b, d, x[max(lo - 1, 0):hi + 2].tobytes())
                    if key in self._pushed:
                        continue
                    y = self._push(x, p, a, b, d, free_set)
                    if y is not None:
                        pushes.append((y, key))
            for s_ in [i for i in ess if p - w < i <= p]:
                for e_ in [i for i in ess if p <= i < s_ + w]:
                    n = e_ - s_ + 1
                    landing = free_mask.copy()  # where an essential state of the stretch may be copied to
                    landing[s_:e_ + 1] = True
                    ok = np.ones(len(x) - n + 1, dtype=bool)
                    ok[s_] = False
                    for o in range(n):
                        if not free_mask[s_ + o]:
                            ok &= landing[o:o + len(ok)]
                    targets = np.flatnonzero(ok).tolist()
                    for t in self.rng.permutation(targets)[:self.max_targets] if targets else []:
                        for in_copy in (False, True):
                            key = ("copy", in_copy, p, a, s_, e_, int(t), x[min(s_, t):max(e_, t + n) + 1].tobytes())
                            if key in self._pushed:
                                continue
                            y = self._relocate(x, p, a, s_, e_, int(t), free_set, in_copy)
                            if y is not None:
                                pushes.append((y, key))
        for i in self.rng.permutation(len(pushes)):
            if add(pushes[i][0], SHIFT_TIER):
                self._pushed.add(pushes[i][1])
        for p in self.rng.permutation(unmapped) if unmapped else []:
            singles = [y for a in range(self.num_states) if a != x[p] and (y := self._single(x, int(p), a)) is not None]
            if singles:
                add(singles[int(self.rng.integers(len(singles)))], PROBE_TIER, int(p))
        scans = [(p, a) for p, left in unscored.items() for a in left]
        for i in self.rng.permutation(len(scans)):
            p, a = scans[i]
            y = self._single(x, p, a, free_set)
            if y is not None:
                add(y, PROBE_TIER, p)
        return out


# candidate tiers: 0 the combination, 1-3 single-mutation tiers; from PROBE_TIER on, a stalled search's
# moves, never carried into a combination
PROBE_TIER = 4
SHIFT_TIER = 5


def learned_transitions(sequences: np.ndarray, num_states: int) -> np.ndarray:
    """``v x v`` bool: the transitions ``a -> b`` seen in ``n x L`` unlabelled sequences."""
    s = np.asarray(sequences, dtype=np.int64)
    allowed = np.zeros((num_states, num_states), dtype=bool)
    allowed[s[:, :-1].ravel(), s[:, 1:].ravel()] = True
    return allowed
