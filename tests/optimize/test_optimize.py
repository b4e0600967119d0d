"""Latent BO: plausibility percentiles, the box, a toy objective with a known optimum, constraints, dedupe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from designer.optimize.bo import TrustRegion, latent_box, objective_transform, propose
from designer.optimize.loop import Objective, Settings, optimise
from designer.optimize.plausibility import fit_plausibility, percentile_of
from designer.optimize.space import Candidate

OPTIMUM = np.array([0.6, -0.4])


class ToySpace:
    """Decoding rounds z to a 0.05 grid (the 'object'); the property is -|z - OPTIMUM|^2 (max 0).

    Objects with a first coordinate above 0.9 violate a design constraint.
    """

    latent_dim = 2
    property_names = ["f"]

    def __init__(self):
        self.decoded = []

    def decode(self, z):
        out = []
        for row in z.numpy():
            obj = tuple(np.round(row / 0.05).astype(int))
            grid = np.array(obj) * 0.05
            self.decoded.append(row.copy())
            out.append(Candidate(obj, obj, row.copy(), grid,
                                 violation="forbidden: x > 0.9" if grid[0] > 0.9 else None))
        return out

    def predict(self, z):
        f = -((z.numpy() - OPTIMUM) ** 2).sum(1, keepdims=True)
        return f, np.zeros_like(f)


def _start(n=40, seed=0):
    rng = np.random.default_rng(seed)
    z = torch.as_tensor(rng.normal(size=(n, 2)), dtype=torch.float32)
    y = -((z.numpy() - OPTIMUM) ** 2).sum(1)
    return z, y


def test_plausibility_percentiles_of_held_out_points_are_roughly_uniform():
    from scipy.stats import kstest

    rng = np.random.default_rng(1)
    train = np.concatenate([rng.normal(0, 1, (600, 3)), rng.normal(5, 0.5, (600, 3))])
    held = np.concatenate([rng.normal(0, 1, (300, 3)), rng.normal(5, 0.5, (300, 3))])
    p = fit_plausibility(train, seed=0)
    pct = p.percentile(held)
    # the percentile scale comes from 240 held-out training points, so allow that sample's own noise
    assert kstest(pct / 100.0, "uniform").statistic < 0.12
    counts = np.histogram(pct, bins=5, range=(0, 100))[0] / len(pct)
    assert (counts > 0.12).all() and (counts < 0.28).all()
    assert p.percentile(np.full((1, 3), 20.0))[0] == 0.0  # far from the data: implausible
    assert p.selection["chosen"].startswith(("gmm", "kde"))


def test_plausibility_round_trips_through_a_dict():
    from designer.optimize.plausibility import Plausibility

    rng = np.random.default_rng(2)
    p = fit_plausibility(rng.normal(size=(200, 2)))
    q = Plausibility.from_dict(p.to_dict())
    z = rng.normal(size=(5, 2))
    assert np.allclose(p.log_density(z), q.log_density(z))


def test_percentile_of_counts_ties_half():
    assert np.allclose(percentile_of(np.array([0.0, 1.0, 5.0]), np.array([1.0, 2.0, 3.0, 4.0])), [0.0, 12.5, 100.0])


def test_latent_box_covers_the_data_with_margin():
    mu = torch.randn(5000, 3) * torch.tensor([1.0, 2.0, 0.5])
    box = latent_box(mu)
    assert box.shape == (2, 3)
    assert (box[1] > mu.abs().quantile(0.99, dim=0)).all() and torch.allclose(box[0], -box[1])


@pytest.mark.parametrize("direction,expected", [("maximize", [1.0, 3.0]), ("minimize", [-1.0, -3.0])])
def test_objective_directions(direction, expected):
    assert np.allclose(objective_transform(direction)(np.array([1.0, 3.0])), expected)


def test_target_range_objective_is_zero_inside_and_falls_off_outside():
    f = objective_transform("target", (1.0, 2.0))
    assert np.allclose(f(np.array([0.0, 1.5, 2.0, 4.0])), [-1.0, 0.0, 0.0, -2.0])


def test_trust_region_shrinks_after_failures_and_stays_in_the_box():
    tr = TrustRegion(length=0.4, fail_tol=2)
    for _ in range(2):
        tr.update(False)
    assert tr.length == pytest.approx(0.2)
    box = torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=torch.float64)
    b = tr.bounds(torch.tensor([0.95, 0.0], dtype=torch.float64), box)
    assert (b[0] >= box[0]).all() and (b[1] <= box[1]).all() and b[1, 0] == 1.0


@pytest.mark.parametrize("mode", ["penalty", "prior", "constraint", "none"])
def test_proposals_lie_inside_the_box(mode):
    z, y = _start()
    box = torch.tensor([[-0.5, -0.5], [0.5, 0.5]], dtype=torch.float64)
    plaus = fit_plausibility(z.numpy(), seed=0)
    cand = propose(z, torch.as_tensor(y, dtype=torch.float32), box, 4, plaus, mode=mode, num_restarts=2,
                   raw_samples=32)
    assert cand.shape == (4, 2)
    assert (cand >= box[0].float() - 1e-6).all() and (cand <= box[1].float() + 1e-6).all()


def test_bo_finds_the_known_optimum_of_a_toy_latent_objective():
    z, y = _start(30, seed=3)
    space = ToySpace()
    box = torch.tensor([[-2.0, -2.0], [2.0, 2.0]], dtype=torch.float64)
    settings = Settings(q=4, rounds=5, mode="none", trust_region=True, num_restarts=4, raw_samples=64, reproposals=1)
    props = optimise(space, z, y, box, set(), Objective("f"), settings)
    best = max(p.objective for p in props)
    assert best > max(y)  # better than every starting point ...
    assert best > -0.01  # ... and at the optimum (to the 0.05 grid of the decoder)


def test_constraint_violations_and_duplicates_are_never_proposed():
    z, y = _start(30, seed=4)
    space = ToySpace()
    box = torch.tensor([[-2.0, -2.0], [2.0, 2.0]], dtype=torch.float64)
    y_shift = -((z.numpy() - np.array([1.5, 0.0])) ** 2).sum(1)  # the optimum sits in the forbidden region

    class Shifted(ToySpace):
        def predict(self, zz):
            f = -((zz.numpy() - np.array([1.5, 0.0])) ** 2).sum(1, keepdims=True)
            return f, np.zeros_like(f)

    known = {c.key for c in space.decode(z)}
    props = optimise(Shifted(), z, y_shift, box, known, Objective("f"),
                     Settings(q=4, rounds=2, mode="none", num_restarts=2, raw_samples=32, reproposals=2))
    assert props, "some candidates are proposed"
    keys = [p.candidate.key for p in props]
    assert len(keys) == len(set(keys))  # no duplicates within or across rounds
    assert all(p.candidate.violation is None and p.candidate.key[0] * 0.05 <= 0.9 for p in props)
    assert not set(keys) & {c.key for c in space.decode(z)}  # none from the starting data


def test_ask_tell_against_a_fake_lab_improves_over_rounds():
    """The lab measures the decoded object (not the latent); each round refits the GP on all measurements."""
    from designer.optimize.loop import ask

    space = ToySpace()

    def lab(obj):  # the decoded grid point's true value
        return -float(((np.array(obj) * 0.05 - OPTIMUM) ** 2).sum())

    rng = np.random.default_rng(7)
    z = torch.as_tensor(rng.uniform(-2, 2, size=(6, 2)), dtype=torch.float32)
    y = torch.tensor([lab(c.obj) for c in space.decode(z)], dtype=torch.float32)
    box = torch.tensor([[-2.0, -2.0], [2.0, 2.0]], dtype=torch.float64)
    known, best = set(), [float(y.max())]
    settings = Settings(q=3, mode="none", num_restarts=4, raw_samples=64, reproposals=1)
    for r in range(5):
        res = ask(space, z, y, 3, box, known, Objective("f"), settings, round_=r)
        measured = torch.tensor([lab(p.candidate.obj) for p in res.proposals], dtype=torch.float32)
        z = torch.cat([z, torch.as_tensor(np.stack([p.candidate.z for p in res.proposals]), dtype=torch.float32)])
        y = torch.cat([y, measured])
        best.append(float(y.max()))
    assert best[-1] > best[0] and best[-1] > -0.05


def test_two_objectives_use_hypervolume_and_push_the_pareto_front_out():
    """f1 = -|z - a|^2, f2 = -|z - b|^2: the Pareto set is the segment a-b; qLogNEHVI proposals grow the hypervolume."""
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    from designer.optimize.loop import non_dominated

    a, b = np.array([0.8, 0.0]), np.array([-0.8, 0.0])

    class TwoObjectives(ToySpace):
        property_names = ["f1", "f2"]

        def predict(self, zz):
            x = zz.numpy()
            f = np.stack([-((x - a) ** 2).sum(1), -((x - b) ** 2).sum(1)], 1)
            return f, np.zeros_like(f)

    rng = np.random.default_rng(5)
    z = torch.as_tensor(rng.uniform(-2, 2, size=(12, 2)) * np.array([1, 1]) + np.array([0, 1.2]), dtype=torch.float32)
    space = TwoObjectives()
    y, _ = space.predict(z)
    objective = Objective("f1", 0, extra=(Objective("f2", 1),))
    box = torch.tensor([[-2.0, -2.0], [2.0, 2.0]], dtype=torch.float64)
    settings = Settings(q=4, rounds=3, mode="none", num_restarts=2, raw_samples=64, reproposals=1)
    props = optimise(space, z, y, box, set(), objective, settings)
    assert props and all(p.objectives is not None and p.objectives.shape == (2,) for p in props)
    ref = torch.tensor(y.min(0) - 0.1)
    hv = Hypervolume(ref)
    before = hv.compute(torch.as_tensor(y[non_dominated(y)]))
    after_y = np.concatenate([y, np.stack([p.objectives for p in props])])
    after = hv.compute(torch.as_tensor(after_y[non_dominated(after_y)]))
    assert after > before + 1.0  # new non-dominated points add area
    assert min(abs(p.candidate.z[1]) for p in props) < 0.5  # towards the Pareto segment (y = 0)


def test_non_dominated():
    from designer.optimize.loop import non_dominated

    v = np.array([[1, 0], [0, 1], [0.5, 0.5], [0.2, 0.2], [1, 0]])
    assert non_dominated(v).tolist() == [True, True, True, False, True]


def test_several_objectives_in_a_pipeline_file():
    from pathlib import Path

    from designer.config import load_pipeline
    from designer.workflow.run import objective_for
    from designer.errors import ConfigError

    cfg, _ = load_pipeline(Path(__file__).parents[2] / "pipelines" / "rfp.yaml")
    two = cfg.design.model_copy(update={"objectives": [
        type(cfg.design.objective)(property="foldx", direction="minimize"),
        type(cfg.design.objective)(property="rasp", direction="minimize")]})
    obj = objective_for(cfg.model_copy(update={"design": two}))
    assert obj.multi and obj.properties == ["foldx", "rasp"]
    v = obj.values(np.array([[1.0, 2.0], [3.0, -1.0]]))
    assert v.tolist() == [[-1.0, -2.0], [-3.0, 1.0]]
    bad = cfg.design.model_copy(update={"objectives": [type(cfg.design.objective)(property="brightness")]})
    with pytest.raises(ConfigError, match="design.objectives.property: 'brightness'"):
        objective_for(cfg.model_copy(update={"design": bad}))


def test_a_slightly_larger_copy_of_a_training_crystal_is_a_duplicate_in_the_design_space(tiny_loaded, tiny_structures):
    from designer.domains.crystal.space import CrystalSpace, crystal_key

    space = CrystalSpace(tiny_loaded)
    train = tiny_structures[:3]
    space.remember(train, [crystal_key(s) for s in train])
    copy = train[1].copy()
    copy.scale_lattice(train[1].volume * 1.05)
    assert crystal_key(copy) != crystal_key(train[1])  # the volume-based key alone would call it new
    assert space.key(copy) == crystal_key(train[1])
    other = next(s for s in tiny_structures if s.composition.reduced_formula not in
                 {t.composition.reduced_formula for t in train})
    assert space.key(other) == crystal_key(other)


def test_crystal_propose_twice_never_repeats_an_earlier_proposal(tiny_run, cli, tmp_path, monkeypatch):
    import csv
    import shutil

    import yaml

    import designer.optimize.bo as bo

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["domain"] == "crystal"
    efforts, real = [], bo.optimize_acqf

    def recording(*args, **kwargs):
        efforts.append((kwargs["num_restarts"], kwargs["raw_samples"], kwargs["options"]["maxiter"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(bo, "optimize_acqf", recording)
    first = cli("propose", run, "-q", "3", "--out", tmp_path / "b1", "--set", "design.optimizer.num_restarts=3",
                "--set", "design.optimizer.raw_samples=24", "--set", "design.optimizer.maxiter=7")
    assert first.code == 0, first
    assert efforts and set(efforts) == {(3, 24, 7)}  # design.optimizer reaches BoTorch
    second = cli("propose", run, "-q", "3", "--out", tmp_path / "b2")
    assert second.code == 0, second
    from designer.domains.crystal.space import CrystalSpace
    from designer.runs import load_run
    from pymatgen.core import Structure

    def structures(folder):
        rows = list(csv.DictReader(open(folder / "candidates.csv")))
        return [Structure.from_file(folder / r["file"]) for r in rows]

    space = CrystalSpace(load_run(run))
    a, b = structures(tmp_path / "b1"), structures(tmp_path / "b2")
    space.remember(a, [("first", i) for i in range(len(a))])
    assert all(space.key(s)[0] != "first" for s in b)  # no second-batch crystal matches a first-batch one
