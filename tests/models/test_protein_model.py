"""Protein plug-in: masked likelihood, semi-supervised property head, train -> sample -> reconstruct, FASTA out."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import yaml

from protein_fixtures import AA, REFERENCE, _variants, write_protein_pipeline  # noqa: F401
from conftest import TINY_OPTIMIZER


def _train(path, run_dir):
    from designer.config import load_pipeline
    from designer.training.train import train

    cfg, _ = load_pipeline(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(cfg, run_dir, progress=False)
    return run_dir


@pytest.fixture(scope="module")
def protein_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prot")
    path = write_protein_pipeline(folder, _variants(160), epochs=3)
    return _train(path, folder / "run")


# --------------------------------------------------------------------------- masked likelihood


def _nll(plugin, logits, tokens):
    return sum(plugin.reconstruction_loss({"logits": logits}, {"tokens": tokens}).values())


def test_masked_positions_do_not_change_the_reconstruction_loss():
    from designer.models.sequence.plugin import UNKNOWN_INDEX, SequencePlugin as ProteinPlugin

    torch.manual_seed(0)
    plugin = ProteinPlugin(length=10, latent_dim=4, hidden=16, encoder_layers=1, feature_dim=8,
                           decoder_hidden=16, decoder_layers=1)
    tokens = torch.randint(0, 20, (3, 10))
    tokens[:, 4] = UNKNOWN_INDEX
    logits = torch.randn(3, 10, 21)
    base = _nll(plugin, logits, tokens)
    changed = logits.clone()
    changed[:, 4] = torch.randn(3, 21) * 10  # whatever the decoder says at a masked position ...
    assert torch.allclose(base, _nll(plugin, changed, tokens))  # ... costs nothing
    changed[:, 5] = torch.randn(3, 21) * 10
    assert not torch.allclose(base, _nll(plugin, changed, tokens))


def test_substitutions_are_a_separate_term_that_loss_weights_can_weigh():
    """A deep-mutational scan's few mutated positions get their own NLL term; the two terms add up to the full NLL."""
    from designer.models.sequence.plugin import GAP_INDEX, UNKNOWN_INDEX, SequencePlugin, masked_log_likelihood

    torch.manual_seed(0)
    plugin = SequencePlugin(length=6, latent_dim=4, hidden=16, encoder_layers=1, feature_dim=8)
    reference = torch.tensor([0, 1, 2, 3, 4, 5])
    plugin.fit_data(reference, torch.zeros(6, dtype=torch.bool))
    tokens = torch.tensor([[0, 1, 2, 3, 4, 5],                    # the wild type: no substitution
                           [0, 7, 2, 3, 9, 5],                    # two substitutions
                           [0, 1, 2, GAP_INDEX, GAP_INDEX, UNKNOWN_INDEX]])  # a truncation is not a substitution
    logits = torch.randn(3, 6, 21)
    terms = plugin.reconstruction_loss({"logits": logits}, {"tokens": tokens})
    assert set(terms) == set(plugin.loss_terms) == {"residues", "substitutions"}
    assert torch.allclose(terms["residues"] + terms["substitutions"], -masked_log_likelihood(logits, tokens))
    assert terms["substitutions"][0] == 0 and terms["substitutions"][2] == 0
    logp = torch.log_softmax(logits[1], -1)
    assert torch.isclose(terms["substitutions"][1], -(logp[1, 7] + logp[4, 9]))


def test_masked_residue_is_invisible_to_the_encoder():
    from designer.models.sequence.plugin import UNKNOWN_INDEX, SequencePlugin as ProteinPlugin

    plugin = ProteinPlugin(length=6, latent_dim=4, hidden=16, encoder_layers=1, feature_dim=8)
    a = torch.tensor([[0, 1, 2, UNKNOWN_INDEX, 4, 5]])
    feats = plugin.encode_features({"tokens": a})
    assert torch.isfinite(feats).all()
    from designer.models.sequence.plugin import one_hot

    assert one_hot(a)[0, 3].sum() == 0  # a masked position is all zeros, not some residue


# --------------------------------------------------------------------------- semi-supervised property head


def test_property_head_learns_with_half_the_labels_missing(tmp_path):
    from designer.domains.sequence.generate import encode
    from designer.metrics.protein import spearman
    from designer.runs import load_run

    rows = _variants(400, seed=3, max_mut=2)
    path = write_protein_pipeline(tmp_path, rows, label_fraction=0.5, epochs=30, seed=3,
                                  extra={"loss": {"beta": 0.01, "property_weight": 5.0}, "train": {"lr": 0.003}})
    run = load_run(_train(path, tmp_path / "run"))
    from designer.domains.sequence.generate import read_for_run

    pset = read_for_run(run, tmp_path / "variants.tsv", properties=[])
    truth = np.array([y for _, y in rows])
    mu, _ = encode(run, pset.tokens)
    pred = run.model.property_head.predict(mu)[0][:, 0].numpy()
    assert np.isfinite(pred).all()
    assert spearman(pred, truth) > 0.6  # also ranks the rows whose label it never saw


def test_uncertainty_is_calibrated_on_fresh_data(tmp_path):
    """Training scales the MC-dropout std on the holdout; the 90% interval then covers ~90% of new variants."""
    import json

    from designer.domains.sequence.generate import encode, read_for_run
    from designer.runs import load_run

    rows = _variants(600, seed=11, max_mut=2)
    path = write_protein_pipeline(tmp_path, rows, epochs=30, seed=11,
                                  extra={"loss": {"beta": 0.01, "property_weight": 5.0}, "train": {"lr": 0.003},
                                         "model": {"property_dropout": 0.2}, "data": {"holdout_fraction": 0.3}})
    run_dir = _train(path, tmp_path / "run")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "score" in summary["uncertainty_calibration"]
    run = load_run(run_dir)
    fresh = _variants(400, seed=12, max_mut=2)
    lines = ["mutant\tscore"] + [f"{m}\t{y:.4f}" for m, y in fresh]
    (tmp_path / "fresh.tsv").write_text("\n".join(lines) + "\n")
    pset = read_for_run(run, tmp_path / "fresh.tsv")
    mu, _ = encode(run, pset.tokens)
    torch.manual_seed(0)
    mean, std = run.model.property_head.predict(mu, mc_samples=30)
    inside = ((pset.y[:, 0] - mean[:, 0]).abs() <= 1.645 * std[:, 0]).float().mean().item()
    assert 0.75 <= inside <= 0.99


# --------------------------------------------------------------------------- train -> sample -> reconstruct


def test_run_records_the_alignment(protein_run):
    import json

    summary = json.loads((protein_run / "summary.json").read_text())
    assert summary["alignment_length"] == len(REFERENCE)
    from designer.runs import load_run

    run = load_run(protein_run)
    from designer.domains.sequence.generate import reference_sequence

    assert reference_sequence(run) == REFERENCE


def test_sample_writes_fasta_with_scores(protein_run, cli, tmp_path):
    from Bio import SeqIO

    res = cli("sample", protein_run, "-n", 7, "--out", tmp_path / "s", "--seed", 1)
    assert res.code == 0, res
    recs = list(SeqIO.parse(tmp_path / "s" / "samples.fasta", "fasta"))
    assert [r.id for r in recs] == [f"sample_{i}" for i in range(7)]
    assert all("pred_score=" in r.description and "edit_distance_to_reference=" in r.description for r in recs)
    assert all("-" not in str(r.seq) and set(str(r.seq)) <= set(AA) for r in recs)
    import csv

    table = list(csv.DictReader(open(tmp_path / "s" / "samples.csv")))
    assert len(table) == 7 and {"sequence", "valid", "pred_score", "pred_score_std", "mutations"} <= set(table[0])
    again = cli("sample", protein_run, "-n", 7, "--out", tmp_path / "t", "--seed", 1)
    assert again.code == 0
    assert (tmp_path / "s" / "samples.fasta").read_text() == (tmp_path / "t" / "samples.fasta").read_text()


def test_reconstruct_keeps_ids_and_reads_fasta(protein_run, cli, tmp_path):
    from Bio import SeqIO

    fasta = tmp_path / "in.fasta"
    mutant = REFERENCE[:3] + "W" + REFERENCE[4:]
    fasta.write_text(f">wild\n{REFERENCE}\n>m4W\n{mutant}\n")
    res = cli("reconstruct", protein_run, "--data", fasta, "--out", tmp_path / "r")
    assert res.code == 0, res
    recs = list(SeqIO.parse(tmp_path / "r" / "reconstruct.fasta", "fasta"))
    assert [r.id for r in recs] == ["wild", "m4W"]
    assert all(len(r.seq) == len(REFERENCE) for r in recs)


def test_reconstruct_refuses_an_unknown_character(protein_run, cli, tmp_path):
    fasta = tmp_path / "bad.fasta"
    fasta.write_text(">x\nMKT4AY\n")
    res = cli("reconstruct", protein_run, "--data", fasta, "--out", tmp_path / "r")
    assert res.code == 2 and len(res.err_lines) == 1 and "bad.fasta" in res.err and "'4'" in res.err
    assert not (tmp_path / "r").exists()


def test_constrained_sampling_never_puts_a_gap_where_training_has_none(protein_run):
    from designer.domains.sequence.generate import sample
    from designer.metrics.protein import sequence_validity
    from designer.runs import load_run

    run = load_run(protein_run)
    with torch.no_grad():  # make the gap the decoder's favourite everywhere
        run.model.plugin.decoder[-1].bias[20::21] += 100.0
    raw = sample(run, 50, seed=0, constrained=False)
    fixed = sample(run, 50, seed=0, constrained=True)
    gap_ok = run.model.plugin.gap_allowed.numpy()
    assert sequence_validity(raw.tokens.numpy(), gap_ok).mean() == 0.0
    assert sequence_validity(fixed.tokens.numpy(), gap_ok).all()


def test_gfp_benchmark_refuses_a_run_trained_on_the_test_variants(protein_run, cli):
    res = cli("benchmark", "gfp", "--run", protein_run, "--out", "/nonexistent/gfp.json")
    assert res.code == 2 and "max_mutations" in res.err


def test_unknown_sequence_option_names_the_closest_key(tmp_path, cli):
    path = write_protein_pipeline(tmp_path, _variants(10))
    raw = yaml.safe_load(path.read_text())
    raw["data"]["sequences"]["index_bas"] = 1
    path.write_text(yaml.safe_dump(raw))
    res = cli("train", path, "--out", tmp_path / "run")
    assert res.code == 2 and "index_bas" in res.err and "index_base" in res.err


def test_variable_length_pipeline_trains_and_samples(tmp_path, cli):
    """pipelines/rfp.yaml: 1,563 unaligned RFPs (216-228 aa) aligned to the first, trained briefly, sampled."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    tiny = ["model.hidden=32", "model.feature_dim=16", "model.decoder_hidden=32", "model.latent_dim=4",
            "model.encoder_layers=1", "model.decoder_layers=1", "train.epochs=1"]
    args = [a for kv in tiny for a in ("--set", kv)]
    res = cli("train", root / "pipelines" / "rfp.yaml", *args, "--out", tmp_path / "run")
    assert res.code == 0, res
    import json

    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["alignment_length"] == 228 and "aligned to the reference" in summary["read"]
    res = cli("sample", tmp_path / "run", "-n", 20, "--out", tmp_path / "s")
    assert res.code == 0, res
    import csv

    rows = list(csv.DictReader(open(tmp_path / "s" / "samples.csv")))
    assert all(r["valid"] == "True" for r in rows)
    assert all(200 <= len(r["sequence"]) <= 228 for r in rows)


def test_fine_tuning_a_protein_run_keeps_its_alignment(protein_run, tmp_path, cli):
    path = write_protein_pipeline(tmp_path, _variants(60, seed=9), epochs=1, seed=9)
    res = cli("train", path, "--init-from", protein_run, "--seed", 2, "--out", tmp_path / "ft")
    assert res.code == 0, res
    import json

    summary = json.loads((tmp_path / "ft" / "summary.json").read_text())
    assert summary["init_from"] and summary["alignment_length"] == len(REFERENCE)


def test_sequence_reweighting_trains_and_reports_the_effective_number(tmp_path):
    import json

    rows = _variants(80, seed=5) * 3  # every variant three times: reweighting counts each family once
    path = write_protein_pipeline(tmp_path, rows, epochs=1, extra={"data": {"sequences": {
        "format": "mutations", "reference": "ref.fasta", "index_base": 1, "reweight": 0.8}}})
    _train(path, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert 0 < summary["effective_sequences"] < 0.5 * summary["train_rows"]


# --------------------------------------------------------------------------- ask / tell


@pytest.fixture(scope="module")
def design_run(tmp_path_factory):
    """A run whose decoder samples residues (decode_temperature 1), so batches are new sequences."""
    folder = tmp_path_factory.mktemp("askt")
    path = write_protein_pipeline(folder, _variants(300, seed=3, max_mut=2), epochs=20, seed=3,
                                  extra={"loss": {"beta": 0.001, "property_weight": 1.0}, "train": {"lr": 0.003},
                                         "design": {"decode_temperature": 1.0, "optimizer": dict(TINY_OPTIMIZER)}})
    return _train(path, folder / "run")


def _measure(table, out):
    import csv

    rows = list(csv.DictReader(open(table)))
    out.write_text("id,score\n" + "".join(f"{r['id']},{-r['sequence'][:14].count('A') - 0.1 * i}\n"
                                          for i, r in enumerate(rows)))
    return rows


def test_propose_observe_round_trip(design_run, cli, tmp_path):
    import json

    res = cli("propose", design_run, "-q", 4, "--out", tmp_path / "b1")
    assert res.code == 0, res
    rows = _measure(tmp_path / "b1" / "candidates.csv", tmp_path / "m1.csv")
    assert rows and all(r["id"].startswith("r1_") for r in rows)
    assert {"pred_score", "pred_score_std", "plausibility_percentile", "sequence"} <= set(rows[0])
    assert (tmp_path / "b1" / "candidates.fasta").exists()
    res = cli("observe", design_run, tmp_path / "m1.csv")
    assert res.code == 0, res
    state = json.loads((design_run / "design" / "state.json").read_text())
    assert len(state["observations"]) == len(rows) and state["rounds"] == 1
    res = cli("propose", design_run, "-q", 4, "--out", tmp_path / "b2")
    assert res.code == 0, res
    summary = json.loads((tmp_path / "b2" / "summary.json").read_text())
    assert "measurements" in summary["gp_data"]  # the second round fits on the lab's values
    rows2 = _measure(tmp_path / "b2" / "candidates.csv", tmp_path / "m2.csv")
    assert all(r["id"].startswith("r2_") for r in rows2)
    assert not {r["sequence"] for r in rows2} & {r["sequence"] for r in rows}  # never proposed twice
    # an item we did not propose, given by its sequence
    (tmp_path / "m3.csv").write_text(f"id,score,sequence\nwild_type,0.0,{REFERENCE}\n")
    assert cli("observe", design_run, tmp_path / "m3.csv").code == 0
    state = json.loads((design_run / "design" / "state.json").read_text())
    assert any(o["id"] == "wild_type" and len(o["z"]) == 8 for o in state["observations"])


def test_two_observe_calls_at_once_both_keep_their_measurements(design_run, tmp_path):
    """Without the state lock, two concurrent calls both said "recorded" and one was lost (5 of 6 trials)."""
    import json
    import subprocess
    import sys
    from pathlib import Path as _P

    exe = _P(sys.executable).with_name("designer")
    files = []
    for k in range(2):
        seq = REFERENCE[:k] + ("W" if REFERENCE[k] != "W" else "Y") + REFERENCE[k + 1:]
        f = tmp_path / f"lab{k}.csv"
        f.write_text(f"id,score,sequence\nconcurrent_{k},{0.5 + k},{seq}\n")
        files.append(f)
    procs = [subprocess.Popen([str(exe), "observe", str(design_run), str(f)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for f in files]
    outs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    state = json.loads((design_run / "design" / "state.json").read_text())
    ids = {o["id"] for o in state["observations"]}
    assert {"concurrent_0", "concurrent_1"} <= ids


@pytest.mark.parametrize("content,needle", [
    ("id,score\nnobody,1.0\n", "matches no proposal"),
    ("id,score\n{id},1.0\n{id},2.0\n", "duplicate id"),
    ("id,score\n{id},bright\n", "not a number"),
    ("id,brightness\n{id},1.0\n", "no measured column"),
    ("", "empty"),
])
def test_bad_measurements_fail_in_one_line_and_leave_the_state_unchanged(design_run, cli, tmp_path, content, needle):
    state_file = design_run / "design" / "state.json"
    if not state_file.exists():
        assert cli("propose", design_run, "-q", 2, "--out", tmp_path / "b").code == 0
    import json

    first = json.loads(state_file.read_text())["proposals"][0]["id"]
    before = state_file.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(content.format(id=first))
    res = cli("observe", design_run, bad)
    assert res.code == 2 and len(res.err_lines) == 1 and needle in res.err and "bad.csv" in res.err
    assert state_file.read_bytes() == before


def test_design_respects_fixed_positions_and_the_mutation_cap(design_run, cli, tmp_path):
    import csv

    import yaml as _yaml

    cfg = _yaml.safe_load((design_run / "config.yaml").read_text())
    cfg["design"].update({"q": 4, "rounds": 2, "start": "seed", "seed_item": REFERENCE[:5] + "W" + REFERENCE[6:],
                          "constraints": {"fixed_positions": [1, 2, 3], "max_mutations": 2}})
    pipe = tmp_path / "design.yaml"
    pipe.write_text(_yaml.safe_dump(cfg))
    res = cli("design", pipe, "--run", design_run, "--out", tmp_path / "d")
    assert res.code == 0, res
    rows = list(csv.DictReader(open(tmp_path / "d" / "candidates.csv")))
    assert rows, "some candidates"
    for r in rows:
        seq = r["sequence"]
        assert seq[:3] == REFERENCE[:3]  # positions 1-3 (1-based) never change
        assert sum(a != b for a, b in zip(seq, REFERENCE)) <= 2
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert float(rows[0]["objective"]) >= float(rows[-1]["objective"])


def test_mutation_search_design_improves_on_its_start_and_respects_the_rules(design_run, cli, tmp_path):
    import csv

    import yaml as _yaml

    cfg = _yaml.safe_load((design_run / "config.yaml").read_text())
    seed_seq = REFERENCE[:5] + "W" + REFERENCE[6:]
    cfg["design"].update({"q": 4, "rounds": 3, "start": "seed", "seed_item": seed_seq, "search": "mutations",
                          "mutation_pool": 64, "mutations_per_candidate": 2,
                          "plausibility": {"floor_percentile": 0.0},
                          "constraints": {"fixed_positions": [1, 2, 3], "max_mutations": 3}})
    pipe = tmp_path / "mut.yaml"
    pipe.write_text(_yaml.safe_dump(cfg))
    res = cli("design", pipe, "--run", design_run, "--out", tmp_path / "m")
    assert res.code == 0, res
    rows = list(csv.DictReader(open(tmp_path / "m" / "candidates.csv")))
    assert len(rows) == 12 and len({r["sequence"] for r in rows}) == 12
    for r in rows:
        seq = r["sequence"]
        assert seq[:3] == REFERENCE[:3] and sum(a != b for a, b in zip(seq, REFERENCE)) <= 3
    # later rounds start from better incumbents: the best of round 3 is at least the best of round 1
    best = {k: max(float(r["objective"]) for r in rows if r["round"] == k) for k in ("1", "3")}
    assert best["3"] >= best["1"]


def test_refit_head_moves_predictions_towards_the_measurements(design_run, cli, tmp_path):
    import csv
    import re
    import shutil

    run = tmp_path / "run"  # a private copy: no measurements from other tests
    shutil.copytree(design_run, run, ignore=shutil.ignore_patterns("design"))
    design_run = run

    assert cli("propose", design_run, "-q", 4, "--out", tmp_path / "b").code == 0
    rows = list(csv.DictReader(open(tmp_path / "b" / "candidates.csv")))
    # the lab finds these far brighter than the head thinks
    (tmp_path / "m.csv").write_text("id,score\n" + "".join(f"{r['id']},{float(r['pred_score']) + 5}\n" for r in rows))
    assert cli("observe", design_run, tmp_path / "m.csv").code == 0
    res = cli("propose", design_run, "-q", 2, "--out", tmp_path / "b2", "--refit-head")
    assert res.code == 0, res
    before, after = map(float, re.search(r"error on them ([\d.e+-]+) -> ([\d.e+-]+)", res.err + res.out).groups())
    assert after < 0.5 * before
    assert (design_run / "design" / "head.pt").exists()


def test_score_with_a_shipped_model_writes_nothing_into_the_current_folder(tmp_path):
    """`designer score --run gfp` is read-only for the user's folder and fits nothing: the shipped model
    carries its training density (fitting it took minutes of encoding 54k variants)."""
    import os
    import subprocess
    import sys
    from pathlib import Path as _P

    from designer.domains.sequence import generate
    from designer.runs import load_run

    work = tmp_path / "work"
    work.mkdir()
    (work / "wt.fasta").write_text(">wt\n" + generate.reference_sequence(load_run("gfp")) + "\n")
    env = dict(os.environ, DESIGNER_CACHE_DIR=str(tmp_path / "cache"))
    res = subprocess.run([str(_P(sys.executable).with_name("designer")), "score", "wt.fasta", "--run", "gfp",
                          "--out", "out"], cwd=work, env=env, capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in work.iterdir()) == ["out", "wt.fasta"]
    assert not (tmp_path / "cache" / "plausibility").exists()  # the shipped density, not a fit


def test_a_density_that_was_not_shipped_is_fitted_once_into_the_user_cache(protein_run, tmp_path, monkeypatch):
    """A model named by name without a shipped density: fitted once into $DESIGNER_CACHE_DIR, never into ./."""
    from designer.runs import load_run
    from designer.workflow.data import known_data
    from designer.workflow.state import run_plausibility

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("DESIGNER_CACHE_DIR", str(tmp_path / "cache"))
    r = load_run(protein_run)
    r.meta.pop("plausibility", None)
    fits = []

    def mu():
        fits.append(1)
        return known_data(r).mu

    first = run_plausibility(r, "a-shipped-name", mu)
    (cached,) = (tmp_path / "cache" / "plausibility").glob(f"{r.config.name}-*/plausibility.json")
    again = run_plausibility(r, "a-shipped-name", mu)
    assert fits == [1] and list(work.iterdir()) == []
    assert again.to_dict() == first.to_dict()


def _elbo_of_three_wild_types(protein_run, device: str = "cpu"):
    from designer.domains.sequence import generate
    from designer.runs import load_run

    r = load_run(protein_run, map_location=device)
    tokens = generate.read_sequence_strings(r, [generate.reference_sequence(r)] * 3).tokens  # CPU tokens
    return generate.elbo(r, tokens, n_samples=2)


def test_the_elbo_is_seeded(protein_run):
    """The ELBO behind `score`'s likelihood columns: the same seed gives the same numbers."""
    first = _elbo_of_three_wild_types(protein_run)
    assert first.shape == (3,) and torch.isfinite(first).all()
    assert torch.equal(first, _elbo_of_three_wild_types(protein_run))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_the_elbo_runs_where_the_model_lives(protein_run):
    """A model on a GPU takes CPU tokens and a CPU generator (drawn there, moved to the model)."""
    on_gpu = _elbo_of_three_wild_types(protein_run, "cuda")
    assert on_gpu.is_cuda and torch.allclose(on_gpu.cpu(), _elbo_of_three_wild_types(protein_run), atol=1e-3)
