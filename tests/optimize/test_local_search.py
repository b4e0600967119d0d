"""The mutational-neighbourhood search (designer.optimize.local) and the Ehrlich campaign around it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from designer.optimize.local import MutationSearch, learned_transitions


def _run(search: MutationSearch, f, rounds: int, q: int) -> list:
    proposed = []
    for _ in range(rounds):
        cands = search.ask(q)
        if not cands:
            break
        proposed += cands
        search.tell(cands, np.array([f(c.x) for c in cands]))
    return proposed


def test_finds_a_hidden_target_sequence_and_never_repeats_a_proposal():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 6, 20)

    def f(x):
        return float((x == target).sum())

    x0 = rng.integers(0, 6, 20)
    s = MutationSearch(x0, f(x0), 6, seed=1, max_per_candidate=3)
    proposed = _run(s, f, rounds=40, q=16)
    keys = [c.x.tobytes() for c in proposed]
    assert len(keys) == len(set(keys)) and x0.tobytes() not in keys
    assert np.array_equal(s.best_x, target) and s.best_y == 20


def test_fixed_positions_mutation_cap_and_known_transitions_are_never_violated():
    rng = np.random.default_rng(2)
    v, L = 5, 16
    allowed = np.ones((v, v), dtype=bool)
    allowed[0, 1] = allowed[1, 0] = allowed[2, 3] = False
    ref = np.array([4] * L)
    mutable = np.ones(L, dtype=bool)
    mutable[[0, 5, 6]] = False
    s = MutationSearch(ref.copy(), 0.0, v, mutable=mutable, allowed=allowed, reference=ref, max_mutations=3,
                       seed=3, max_per_candidate=4)
    proposed = _run(s, lambda x: float(rng.normal()), rounds=30, q=16)
    assert proposed
    for c in proposed:
        assert (c.x[~mutable] == ref[~mutable]).all()
        assert (c.x != ref).sum() <= 3
        assert allowed[c.x[:-1], c.x[1:]].all()


def test_improvements_found_in_one_batch_are_combined():
    target = np.array([1, 2, 3, 4, 5, 6, 7, 0])
    x0 = np.zeros(8, dtype=int)

    def f(x):
        return float((x == target).sum())

    s = MutationSearch(x0, f(x0), 8, seed=0)
    cands = s.ask(64)  # singles only: finds several of the 7 improving mutations at once
    s.tell(cands, np.array([f(c.x) for c in cands]))
    found = s.best_y
    nxt = s.ask(8)
    assert nxt[0].tier == 0 and f(nxt[0].x) > found  # the combination comes first and is better


# An L32 Ehrlich incumbent (seed 2) at f = 0.75 where the search stalls: motif 2 lacks its last element at
# position 10, which holds the first element of motif 4 (writing it there completes one and breaks the other).
STUCK_L32_SEED2 = [27, 8, 26, 19, 15, 8, 22, 21, 27, 0, 14, 29, 3, 18, 3, 30, 22, 13, 19, 30, 27, 6, 31, 18, 22, 28,
                   27, 9, 16, 10, 1, 10]


def _calls_to_solve(f, x0, budget: int, **kw) -> int | None:
    import torch

    from designer.benchmarks.ehrlich import _log_objective

    def score(xs):
        return _log_objective(f(torch.as_tensor(np.stack(xs)))).numpy()

    s = MutationSearch(x0, float(score([x0])[0]), f.num_states, allowed=f.feasibility_mask.numpy(),
                       max_per_candidate=8, **kw)
    calls = 0
    while calls < budget and s.best_y < 0:
        cands = s.ask(64)
        s.tell(cands, score([c.x for c in cands]))
        calls += len(cands)
    return calls if s.best_y >= 0 else None


def test_shift_moves_resolve_two_motifs_that_want_the_same_site():
    from designer.benchmarks.ehrlich import SETTINGS
    from designer.objectives import Ehrlich

    f = Ehrlich(**SETTINGS["L32"], random_seed=2)
    x0 = np.array(STUCK_L32_SEED2)
    assert float(f(x0[None])[0]) == 0.75  # numpy in, numpy out
    assert _calls_to_solve(f, x0, 1200, seed=0) is not None
    assert _calls_to_solve(f, x0, 1200, seed=0, shift_moves=False) is None  # single-site moves alone stay stuck


def test_shift_moves_keep_fixed_positions_the_cap_and_known_transitions():
    import torch

    from designer.benchmarks.ehrlich import SETTINGS, _log_objective
    from designer.objectives import Ehrlich

    f = Ehrlich(**SETTINGS["L32"], random_seed=2)
    x0 = np.array(STUCK_L32_SEED2)
    allowed = f.feasibility_mask.numpy()
    mutable = np.ones(32, dtype=bool)
    mutable[[3, 17, 30]] = False
    s = MutationSearch(x0, float(_log_objective(f(torch.as_tensor(x0)[None]))[0]), 32, mutable=mutable, allowed=allowed, reference=x0,
                       max_mutations=10, seed=0, max_per_candidate=4, stall_rounds=0)
    proposed = _run(s, lambda x: float(_log_objective(f(torch.as_tensor(x)[None]))[0]), rounds=25, q=64)
    assert {4, 5} <= {c.tier for c in proposed}  # probes and shift moves were proposed
    for c in proposed:
        assert (c.x[~mutable] == x0[~mutable]).all()
        assert (c.x != x0).sum() <= 10
        assert allowed[c.x[:-1], c.x[1:]].all()


def test_learned_transitions_are_exactly_those_seen():
    seqs = np.array([[0, 1, 2], [2, 1, 0]])
    a = learned_transitions(seqs, 3)
    assert {tuple(p) for p in np.argwhere(a)} == {(0, 1), (1, 2), (2, 1), (1, 0)}


def test_designer_search_solves_an_L128_ehrlich_instance_within_budget():
    from designer.benchmarks.ehrlich import SETTINGS, designer_search
    from designer.objectives import Ehrlich

    f = Ehrlich(**SETTINGS["L128"], random_seed=3)
    o = designer_search(f, budget=20_000, seed=3, prior_sequences=2000)
    assert o.best == 1.0 and o.solved_at is not None and o.calls == o.solved_at  # a batch counts in full


def test_parse_seeds():
    from designer.benchmarks.ehrlich import parse_seeds
    from designer.errors import DesignerError

    assert parse_seeds("1001-1003,7") == [7, 1001, 1002, 1003]
    with pytest.raises(DesignerError, match="--seeds"):
        parse_seeds("a-b")


def test_campaign_writes_per_run_files_and_aggregates_with_unsolved_as_infinite(tmp_path):
    from designer.benchmarks.ehrlich import run

    out = tmp_path / "ehrlich.json"
    run(out=out, seeds="5,6", settings="L32", methods="designer,hill_climb", budget=300, baseline_budget=300)
    runs = sorted(p.name for p in (tmp_path / "ehrlich").glob("*.json"))
    assert runs == ["L32_seed5_designer.json", "L32_seed5_hill_climb.json", "L32_seed6_designer.json",
                    "L32_seed6_hill_climb.json"]
    res = json.loads(out.read_text())["L32"]
    # 300 calls do not solve L32: the median is infinite -> null, the solved fraction 0
    assert res["oracle_calls_to_solve"] == {"designer": None, "hill_climb": None}
    assert res["solved_fraction"] == {"designer": 0.0, "hill_climb": 0.0}
    assert set(res["best_value"]["designer"]) == {"1k", "5k"}
    assert (tmp_path / "ehrlich_L32.png").stat().st_size > 0
    # a solved run counts with its call number; existing runs are reused, not rerun
    p = tmp_path / "ehrlich" / "L32_seed5_designer.json"
    r = json.loads(p.read_text())
    r["solved_at"] = 123
    p.write_text(json.dumps(r))
    run(out=out, seeds="5", settings="L32", methods="designer", budget=300)
    res = json.loads(out.read_text())["L32"]
    assert res["oracle_calls_to_solve"]["designer"] == 123 and res["solved_fraction"]["designer"] == 1.0
