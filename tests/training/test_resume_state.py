"""The pieces a resumed run relies on: epoch-seeded training order and the saved random streams."""

from __future__ import annotations

import io
import random

import numpy as np
import torch

from designer.data.samplers import EpochSeededSampler, training_sampler
from designer.training.resume import rng_state, set_rng_state


def _order(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


def test_the_training_order_depends_only_on_seed_and_epoch():
    a, b = EpochSeededSampler(50, seed=3), EpochSeededSampler(50, seed=3)
    _order(a, 0), _order(a, 1)  # a has run two epochs in this process, b none
    assert _order(a, 2) == _order(b, 2)
    assert sorted(_order(b, 2)) == list(range(50))  # a permutation
    assert _order(b, 2) != _order(b, 3) and _order(b, 2) != _order(EpochSeededSampler(50, seed=4), 2)


def test_weighted_draws_follow_the_weights_and_are_reproducible():
    w = np.array([0.0, 1.0, 3.0])
    s = EpochSeededSampler(3000, seed=0, weights=np.repeat(w, 1000))
    draws = np.array(_order(s, 5))
    assert len(draws) == 3000 and (draws >= 1000).all()  # weight 0: never drawn
    share = (draws >= 2000).mean()
    assert 0.7 < share < 0.8  # 3 : 1
    assert draws.tolist() == _order(EpochSeededSampler(3000, seed=0, weights=np.repeat(w, 1000)), 5)


def test_an_unshuffled_loader_keeps_file_order():
    assert training_sampler(10, shuffle=False, seed=0) is None
    assert isinstance(training_sampler(10, shuffle=True, seed=0), EpochSeededSampler)


def test_the_random_streams_round_trip_through_a_weights_only_checkpoint():
    state = rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(3))
    buf = io.BytesIO()
    torch.save({"rng": state}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)["rng"]
    random.random(), np.random.rand(), torch.rand(3)  # move every stream on
    set_rng_state(loaded)
    again = (random.random(), np.random.rand(), torch.rand(3))
    assert again[0] == expected[0] and again[1] == expected[1] and torch.equal(again[2], expected[2])
