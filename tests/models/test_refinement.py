"""The crystal decoder's refinement stage: symmetry, validity, fixed atoms, exact evaluation count."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from designer.models.crystal.lattice import lattice_to_params, params_to_lattice, raw_to_params
from designer.models.crystal.plugin import CrystalPlugin
from designer.models.crystal.refine import (
    CrystalRefiner,
    denoising_terms,
    params_to_raw,
    refine,
    sigma_schedule,
    wrapped_normal_target,
)

V, D = 6, 8


def _live(module: torch.nn.Module, seed: int = 0, scale: float = 0.3) -> torch.nn.Module:
    """Give the zero-initialised output layers weights, so the network moves structures."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() >= 1 and torch.count_nonzero(p) == 0:
                p.copy_(scale * torch.randn(p.shape, generator=g))
    return module.eval()


def _refiner(seed: int = 0) -> CrystalRefiner:
    torch.manual_seed(seed)
    return _live(CrystalRefiner(V, D, hidden=32, layers=2), seed)


def _batch(B: int = 3, N: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(B, D, generator=g)
    types = torch.randint(0, V, (B, N), generator=g)
    mask = torch.ones(B, N, dtype=torch.bool)
    mask[0, -2:] = False  # a smaller structure in the batch
    frac = torch.rand(B, N, 3, generator=g)
    raw = torch.randn(B, 6, generator=g) * 0.3
    raw[:, :3] += 0.5
    return z, types, mask, frac, raw


def _rotation(seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q.float()


def test_permuting_the_atoms_permutes_the_outputs():
    net = _refiner()
    z, types, mask, frac, raw = _batch()
    sigma = torch.full((3,), 0.1)
    dfrac, dlat = net(z, types, mask, frac, raw, sigma)
    perm = torch.tensor([2, 0, 4, 1, 3])
    keep = mask[1:]  # structures whose atoms are all real, so any permutation keeps the padding at the end
    dfrac_p, dlat_p = net(z[1:], types[1:, perm], keep, frac[1:, perm], raw[1:], sigma[1:])
    torch.testing.assert_close(dfrac_p, dfrac[1:, perm], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(dlat_p, dlat[1:], atol=1e-5, rtol=1e-4)


def test_rotating_or_translating_the_structure_leaves_the_outputs_unchanged():
    net = _refiner(1)
    z, types, mask, frac, raw = _batch(seed=1)
    sigma = torch.full((3,), 0.05)
    lattice = params_to_lattice(raw_to_params(raw))
    rotated = lattice @ _rotation(3).T  # rows are vectors: every vector rotated
    assert not torch.allclose(rotated, lattice, atol=1e-3)
    raw_rot = params_to_raw(lattice_to_params(rotated))
    shifted = (frac + torch.tensor([0.31, -0.17, 0.52])) % 1.0
    base = net(z, types, mask, frac, raw, sigma)
    for f, r in ((frac, raw_rot), (shifted, raw)):
        out = net(z, types, mask, f, r, sigma)
        torch.testing.assert_close(out[0], base[0], atol=1e-4, rtol=1e-3)
        torch.testing.assert_close(out[1], base[1], atol=1e-4, rtol=1e-3)


def test_outputs_are_periodic_in_the_fractional_coordinates():
    net = _refiner(2)
    z, types, mask, frac, raw = _batch(seed=2)
    sigma = torch.full((3,), 0.2)
    lifted = frac + torch.randint(-2, 3, frac.shape).float()
    for a, b in zip(net(z, types, mask, frac, raw, sigma), net(z, types, mask, lifted, raw, sigma)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 30.0), start=st.floats(0.01, 0.5),
       steps=st.integers(1, 12))
def test_every_intermediate_lattice_is_a_valid_cell(seed, scale, start, steps):
    """However wild the network's steps, each cell along the way has a finite, positive volume."""
    torch.manual_seed(seed)
    net = _live(CrystalRefiner(V, D, hidden=16, layers=1), seed, scale)
    z, types, mask, frac, raw = _batch(seed=seed)
    raw = raw * scale
    path: list = []
    refine(net, z, types, mask, frac, raw, steps, start, trajectory=path)
    assert len(path) == steps
    for x, r in path:
        lat = params_to_lattice(raw_to_params(r))
        vol = torch.linalg.det(lat.double())
        assert torch.isfinite(lat).all() and (vol > 0).all()
        assert ((x >= 0) & (x < 1)).all()


def test_the_noise_schedule_has_one_level_per_evaluation_and_ends_clean():
    for k in (1, 2, 10, 49):
        s = sigma_schedule(0.1, k)
        assert len(s) == k + 1 and s[-1] == 0.0 and s[0] == pytest.approx(0.1)
        assert all(a > b for a, b in zip(s, s[1:]))


def test_wrapped_normal_target_is_the_min_image_displacement_for_small_noise_and_zero_when_ambiguous():
    delta = torch.tensor([[0.01, -0.02, 0.3]])
    np.testing.assert_allclose(wrapped_normal_target(delta, torch.tensor(0.01)).numpy(), -delta.numpy(), atol=1e-6)
    half = wrapped_normal_target(torch.tensor([[-0.5, 0.0, 0.0]]), torch.tensor(0.3))
    assert abs(float(half[0, 0])) < 1e-5  # both images equally near: no preferred direction


def _plugin(steps: int = 4) -> CrystalPlugin:
    torch.manual_seed(0)
    plugin = CrystalPlugin(list(range(3, 3 + V)), max_atoms=6, latent_dim=D, hidden=16, encoder_layers=1,
                           feature_dim=16, decoder_hidden=32, decoder_layers=1, refine=True, refine_hidden=16,
                           refine_layers=1, refine_steps=steps, refine_start_sigma=0.2)
    _live(plugin.refiner, 0)
    return plugin.eval()


def test_refinement_keeps_the_atoms_and_moves_coordinates_and_lattice():
    plugin = _plugin()
    z = torch.randn(7, D, generator=torch.Generator().manual_seed(5))
    one_shot = plugin.refine_decoded(plugin.decode(z), steps=0)
    refined = plugin.refine_decoded(plugin.decode(z))
    a, b = plugin.to_arrays(one_shot), plugin.to_arrays(refined)
    for x, y in zip(a, b):
        assert len(x["atomic_numbers"]) == len(y["atomic_numbers"])
        np.testing.assert_array_equal(x["atomic_numbers"], y["atomic_numbers"])
    assert not np.allclose(np.concatenate([x["frac"] for x in a]), np.concatenate([y["frac"] for y in b]))
    assert not np.allclose(np.stack([x["lattice"] for x in a]), np.stack([y["lattice"] for y in b]))
    again = plugin.to_arrays(plugin.refine_decoded(plugin.decode(z)))
    for x, y in zip(b, again):  # deterministic: one decode per latent
        np.testing.assert_array_equal(x["frac"], y["frac"])


@pytest.mark.parametrize("steps", [0, 1, 7])
def test_network_evaluations_are_counted_exactly(steps):
    from designer.benchmarks.cdvae_suite import _count_evaluations

    plugin = _plugin(steps)
    model = type("M", (), {"plugin": plugin})()
    calls, hooks = _count_evaluations(model)
    z = torch.randn(11, D)
    plugin.to_structures(plugin.refine_decoded(plugin.decode(z)))
    for h in hooks:
        h.remove()
    assert calls["rows"] == 11 * (1 + steps) == 11 * plugin.evaluations_per_structure


def test_tiny_train_sample_reconstruct_runs_through_the_refinement(tiny_run, tiny_csv, tmp_path, cli):
    """Training logs the denoising terms; sample and reconstruct decode with refinement unless --one-shot."""
    from designer.runs import load_run

    metrics = pd.read_csv(next(tiny_run.rglob("metrics.csv")))
    for term in ("train/refine_coords", "train/refine_lattice", "val/refine_coords"):
        assert metrics[term].notna().any(), term
    run = load_run(tiny_run)
    assert run.model.plugin.refiner is not None and run.model.plugin.evaluations_per_structure == 1 + 10
    assert load_run(tiny_run, one_shot=True).model.plugin.evaluations_per_structure == 1

    outs = {}
    for label, extra in (("refined", []), ("one_shot", ["--one-shot"])):
        res = cli("sample", str(tiny_run), "-n", "6", "--out", str(tmp_path / f"s_{label}"), *extra)
        assert res.code == 0, res
        rec = cli("reconstruct", str(tiny_run), "--data", str(tiny_csv), "--out", str(tmp_path / f"r_{label}"), *extra)
        assert rec.code == 0, rec
        outs[label] = (pd.read_csv(tmp_path / f"s_{label}" / "samples.csv"),
                       pd.read_csv(tmp_path / f"r_{label}" / "reconstruct.csv"))
    (s_ref, r_ref), (s_one, r_one) = outs["refined"], outs["one_shot"]
    assert len(s_ref) == 6 and len(r_ref) == len(r_one)
    # same latents, same atoms (refinement keeps the composition), different geometry
    assert list(s_ref["formula"]) == list(s_one["formula"])
    assert list(r_ref["formula_out"]) == list(r_one["formula_out"])
    cif_ref = sorted((tmp_path / "s_refined").glob("*.cif"))[0].read_text()
    cif_one = sorted((tmp_path / "s_one_shot").glob("*.cif"))[0].read_text()
    assert cif_ref != cif_one


def test_the_benchmark_counts_refined_and_one_shot_evaluations(tiny_loaded):
    from designer.benchmarks.cdvae_suite import _sampling

    for steps in (tiny_loaded.model.plugin.refine_steps, 0):
        structures, speed, raw = _sampling(tiny_loaded, 9, seed=0, steps=steps, raw=False)
        assert len(structures) == 9 and raw is None
        assert speed["nfe_per_structure"] == 1 + steps and speed["refinement_steps"] == steps


def test_holdout_compares_decode_settings_and_rejects_a_bad_grid(tiny_run, tmp_path):
    import json

    from designer.benchmarks import holdout
    from designer.errors import DesignerError

    path = holdout.run(run=str(tiny_run), out=tmp_path / "h.json", refine_grid="0:0.1,3:0.05")
    res = json.loads(path.read_text())
    assert [(g["refine_steps"], g["refine_start_sigma"]) for g in res["grid"]] == [(0, 0.1), (3, 0.05)]
    assert all(0 <= g["match_rate"] <= 1 for g in res["grid"])
    assert "| 3 | 0.05 |" in path.with_suffix(".md").read_text()
    with pytest.raises(DesignerError, match="--refine-grid: '10' is not STEPS:START_SIGMA"):
        holdout.parse_grid("10")
    with pytest.raises(DesignerError, match="steps must be 0-49"):
        holdout.parse_grid("60:0.1")


def test_shipping_records_decode_settings_chosen_on_the_holdout(tiny_run, tmp_path, monkeypatch):
    from designer import runs
    from designer.errors import DesignerError

    monkeypatch.setattr(runs, "SHIPPED", tmp_path)
    path = runs.ship(tiny_run, "tiny_shipped", ["model.refine_start_sigma=0.05", "model.refine_steps=4"])
    shipped = runs.load_run(path)
    assert (shipped.model.plugin.refine_start_sigma, shipped.model.plugin.refine_steps) == (0.05, 4)
    assert shipped.meta["ship_overrides"] == ["model.refine_start_sigma=0.05", "model.refine_steps=4"]
    # the training latents' density ships with the model, as tensors (a model load stays fast), and
    # scoring with the shipped file uses it as fitted
    from designer.workflow.state import shipped_plausibility

    doc = shipped.meta["plausibility"]
    assert all(isinstance(doc["density_tensors"][k], torch.Tensor) for k in ("means", "weights", "reference"))
    density = shipped_plausibility(shipped, shipped.config.seed)
    assert density.log_density(torch.zeros(2, shipped.config.model.latent_dim)).shape == (2,) and len(density.reference) > 0
    legacy = {**doc, "density": density.to_dict()}  # models shipped before: the same density as lists
    del legacy["density_tensors"]
    shipped.meta["plausibility"] = legacy
    assert (shipped_plausibility(shipped, shipped.config.seed).means == density.means).all()
    with pytest.raises(DesignerError):
        runs.ship(tiny_run, "bad", ["model.refine_steps=500"])  # beyond the 50-evaluation budget


def test_pair_distances_are_minimum_image_so_outputs_are_continuous_in_a_skewed_cell():
    net = _refiner(7)
    z, types, mask, frac, _ = _batch(B=1, seed=7)
    skewed = torch.tensor([[4.0, 0.0, 0.0], [2.9, 3.0, 0.0], [1.5, 1.2, 5.0]])
    raw = params_to_raw(lattice_to_params(skewed[None]))
    sigma = torch.full((1,), 0.05)
    outs = []
    for eps in (-1e-6, 1e-6):  # atom 1 sits half a cell from atom 0 along a, just either side of the wrap
        f = frac.clone()
        f[0, 1] = f[0, 0] + torch.tensor([0.5 + eps, 0.0, 0.0])
        outs.append(net(z, types, mask, f % 1.0, raw, sigma))
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-4, rtol=1e-3)


def test_a_start_below_the_smallest_noise_level_is_refused():
    with pytest.raises(ValueError, match="must exceed sigma_min"):
        sigma_schedule(0.004, 5)


def test_models_saved_before_the_minimum_image_fix_keep_their_distance_feature(tiny_run, tmp_path):
    from designer.runs import load_run

    payload = torch.load(tiny_run / "model.pt", weights_only=False)
    del payload["config"]["model"]["refine_distance"]
    del payload["config"]["model"]["refine_detach_z"]
    torch.save(payload, tmp_path / "old.pt")
    old = load_run(tmp_path / "old.pt")
    assert old.model.plugin.refiner.distance == "axis_wrapped"
    assert old.config.model.refine_detach_z is False  # it was trained with the gradient through z
    new = load_run(tiny_run)
    assert new.model.plugin.refiner.distance == "min_image" and new.config.model.refine_detach_z is True


def test_propose_one_shot_never_runs_the_refinement(tiny_run, cli, tmp_path, monkeypatch):
    """(The default path's refinement is checked through sample/reconstruct above, at a fraction of the cost.)"""
    import shutil

    from designer.models.crystal import plugin as plugin_module

    calls = []
    monkeypatch.setattr(plugin_module, "refine", lambda *a, **k: calls.append(a[6]))
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    res = cli("propose", run, "-q", "2", "--out", tmp_path / "batch", "--one-shot")
    assert res.code == 0, res
    assert calls == []
    assert (tmp_path / "batch" / "candidates.csv").is_file()


@pytest.mark.parametrize("detach", [True, False])
def test_the_denoising_loss_reaches_the_encoder_only_when_asked(tiny_run, detach):
    """``model.refine_detach_z`` (the default) keeps the refiner's gradient out of z and the encoder."""
    from designer.runs import load_run
    from designer.training.datasets import load_training_data, make_loader

    run = load_run(tiny_run)
    model, plugin = run.model.train(), run.model.plugin
    plugin.refine_detach_z = detach
    batch = next(iter(make_loader(run.config.domain, load_training_data(run.config).train, batch_size=8)))
    mu, _ = model.encode(batch)
    terms = plugin.reconstruction_loss(plugin.decode(mu), batch)
    model.zero_grad()
    terms["refine_coords"].mean().backward()
    encoder_grad = sum(float(p.grad.abs().sum()) for p in plugin.encoder.parameters() if p.grad is not None)
    refiner_grad = sum(float(p.grad.abs().sum()) for p in plugin.refiner.parameters() if p.grad is not None)
    assert refiner_grad > 0
    assert (encoder_grad == 0) == detach


def test_a_refiner_trained_on_a_frozen_one_shot_model_leaves_everything_else_unchanged(tiny_run, tiny_pipeline, tmp_path):
    """``train.stage: refiner`` (with --init-from) adds and trains a refinement stage; the VAE stays as it was."""
    import warnings

    from designer.config import apply_overrides, load_pipeline, validate
    from designer.runs import load_run
    from designer.training.train import train

    payload = torch.load(tiny_run / "model.pt", weights_only=False)
    payload["state_dict"] = {k: v for k, v in payload["state_dict"].items() if not k.startswith("plugin.refiner.")}
    payload["config"]["model"]["refine"] = False
    torch.save(payload, tmp_path / "one_shot.pt")
    old = load_run(tmp_path / "one_shot.pt")
    assert old.model.plugin.refiner is None
    cfg, _ = load_pipeline(tiny_pipeline)
    cfg = validate(apply_overrides(cfg.model_dump(mode="json"), ["train.stage=refiner", "train.epochs=2",
                                                                 "model.refine_steps=3"]), "test")
    with pytest.raises(Exception, match="--init-from"):
        train(cfg, tmp_path / "no_init", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(cfg, tmp_path / "refined", init_from=str(tmp_path / "one_shot.pt"), progress=False)
    new = load_run(tmp_path / "refined")
    assert new.model.plugin.refiner is not None and new.config.model.refine_steps == 3
    old_state, new_state = old.model.state_dict(), new.model.state_dict()
    for k, v in old_state.items():
        torch.testing.assert_close(new_state[k], v, msg=k)  # encoder, decoder, head: frozen
    assert any(torch.count_nonzero(v) for k, v in new_state.items() if k.startswith("plugin.refiner.") and "out" in k)
