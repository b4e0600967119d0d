"""The CDVAE protocol (DESIGN section 5) on one dataset: reconstruction, generation, coverage, speed.

``perov5``, ``carbon24`` and ``mp20_subset`` are this one protocol with their own ``Suite``: the
shipped model and pipeline, the coverage cutoffs, CDVAE's evaluator for d_E, the anchors and the
statement of the split.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pymatgen.core import Structure
from rich.console import Console

from designer.config import load_pipeline
from designer.data.cache import cached
from designer.data.crystal_dataset import load_records
from designer.domains.crystal.decoding import clear_cache
from designer.domains.crystal.generate import reconstruct, records_to_data, sample
from designer.errors import DesignerError
from designer.evaluators.cdvae import CDVAEEvaluator
from designer.metrics import DESCRIPTIONS, composition_validity, fingerprints, generation_metrics, \
    reconstruction_metrics, structure_validity
from designer.report.results import command_line, device_info, fmt, write_results
from designer.resources import require_pipeline
from designer.runs import load_run


@dataclass(frozen=True)
class Suite:
    """One dataset's instance of the protocol.

    Attributes:
        name: the benchmark name in the results (``results/<name>.json``).
        title: the heading of the markdown report.
        pipeline: the shipped pipeline (and model) name; its ``data.train`` / ``data.test`` are the
            novelty reference and the test part when the run's own paths are not on this machine.
        dataset: coverage-cutoff preset of ``generation_metrics`` (``perov``, ``carbon``, ``mp20``).
        evaluator: CDVAE's property model that judges d_E (``CDVAEEvaluator`` name).
        protocol_note: what the split is and how it differs from the paper's.
        anchors: ``section.key`` -> published numbers and bars.
        n_novelty: judge the StructureMatcher novelty and uniqueness (``novel_rate``, ``unique_rate``) on
            this many of the seeded draw of valid samples instead of all of them (None: all). One-formula
            data (carbon) compares every sample with every other, which 8,000 samples make hours long.
    """

    name: str
    title: str
    pipeline: str
    dataset: str
    evaluator: str
    protocol_note: str
    anchors: dict = field(default_factory=dict)
    n_novelty: int | None = None


def _read_sample_dir(folder: Path) -> list:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".cif")
    if not files:
        raise DesignerError(f"{folder}: no .cif files to judge")
    out = []
    for f in files:
        try:
            out.append(Structure.from_file(f))
        except Exception:
            out.append(None)  # unreadable = invalid
    return out


def _structures(path: Path) -> list:
    return [r.to_structure() for r in load_records(path, [])]


def _reconstruction(r, test_records, test, steps: int, jobs: int, raw: bool) -> dict:
    """Reconstruction metrics of one decode path (``steps`` refinement steps), plus argmax decoding if ``raw``."""
    vocab = set(r.model.plugin.atomic_numbers.tolist())
    known = [i for i, rec in enumerate(test_records) if set(rec.atomic_numbers.tolist()) <= vocab]
    data = records_to_data(r, [test_records[i] for i in known])
    out = {}
    for key, neutral in (("reconstruction", True),) + ((("reconstruction_raw_decode", False),) if raw else ()):
        dec = reconstruct(r, data, charge_neutral=neutral, refine_steps=steps)
        preds: list = [None] * len(test)
        for i, s in zip(known, dec.structures):
            preds[i] = s
        out[key] = reconstruction_metrics(preds, test, n_jobs=jobs)
        out[key]["unknown_element_rows"] = len(test) - len(known)
    return out


def _count_evaluations(model) -> tuple[dict, list]:
    """Forward hooks counting the rows of every decoder network evaluation (one-shot and refiner)."""
    calls = {"rows": 0}

    def hook(module, args, output):
        calls["rows"] += len(args[0])

    plugin = model.plugin
    modules = [plugin.decoder] + ([plugin.refiner] if plugin.refiner is not None else [])
    return calls, [m.register_forward_hook(hook) for m in modules]


def _sampling(r, n_samples: int, seed: int, steps: int, raw: bool) -> tuple[list, dict, dict | None]:
    """Timed prior samples (sampling + validity) of one decode path, with an exact evaluation count."""
    calls, hooks = _count_evaluations(r.model)
    clear_cache()  # every timed path starts from cold charge-balance caches
    try:
        t0 = time.perf_counter()
        sampled = sample(r, n_samples, seed=seed, refine_steps=steps).structures
        t_sample = time.perf_counter() - t0
        n_valid = sum(structure_validity(s) and composition_validity(s) for s in sampled)  # timed: sampling + validity
        t_total = time.perf_counter() - t0
    finally:
        for h in hooks:
            h.remove()
    speed = {"nfe_per_structure": calls["rows"] / n_samples, "refinement_steps": steps,
             "structures_per_s": n_samples / t_total, "sampling_only_structures_per_s": n_samples / t_sample,
             "device": str(next(r.model.parameters()).device), "torch_threads": torch.get_num_threads(), "valid_in_timed_pass": int(n_valid)}
    raw_gen = None
    if raw:
        # one element in the vocabulary: the charge-neutral decode can only pick it, so the raw decode is the same
        single = len(r.model.plugin.atomic_numbers) == 1
        plain = sampled if single else sample(r, n_samples, seed=seed, charge_neutral=False, refine_steps=steps).structures
        raw_gen = {"struct_validity": float(np.mean([structure_validity(x) for x in plain])),
                   "comp_validity": float(np.mean([x is not None and composition_validity(x) for x in plain])),
                   "same_as_charge_neutral_decode": single}
    return sampled, speed, raw_gen


def run_suite(suite: Suite, run: str | None = None, out: Path | None = None, samples: Path | None = None,
              n_samples: int = 10_000, seed: int = 0, jobs: int = 1, compare_one_shot: bool = True,
              console: Console | None = None) -> Path:
    """Run the protocol of ``suite`` on ``run`` (default: the shipped model of that name), or judge the
    CIFs of a ``samples`` folder; ``compare_one_shot`` also reports the decode without refinement."""
    console = console or Console(stderr=True)
    out = Path(out or f"results/{suite.name}.json")
    t0 = time.time()
    results: dict = {"benchmark": suite.name, "command": command_line(), "device": device_info(), "seed": seed}
    if samples is None:
        r = load_run(run or suite.pipeline)
        cfg = r.config
        plugin = r.model.plugin
        results["model"] = {"path": str(r.path), "name": cfg.name, "latent_dim": cfg.model.latent_dim,
                            "beta": cfg.loss.beta, "training": {k: v for k, v in r.meta.items() if k != "plausibility"}, "refinement_steps": plugin.refine_steps,
                            "refinement_start_sigma": plugin.refine_start_sigma,
                            "network_evaluations_per_structure": plugin.evaluations_per_structure}
        train_paths = [Path(p) for p in cfg.data.train]
        test_path = Path(cfg.data.test) if cfg.data.test else None
    else:
        train_paths, test_path = [], None
        results["samples_dir"] = str(samples)
    if test_path is None or not test_path.exists() or not all(p.exists() for p in train_paths):
        # judging CIFs, or a shipped model recording paths of the machine it was trained on: the embedded copy
        default, _ = load_pipeline(require_pipeline(suite.pipeline))
        train_paths, test_path = [Path(p) for p in default.data.train], Path(default.data.test)

    console.print("reading train and test crystals")
    test_records = load_records(test_path, [])
    test = [rec.to_structure() for rec in test_records]
    train = [s for p in train_paths for s in _structures(p)]

    if samples is None:
        refined_steps = r.model.plugin.refine_steps
        paths = [("", refined_steps)] + ([("one_shot", 0)] if refined_steps > 0 and compare_one_shot else [])
        for label, steps in paths:
            name = "refined" if steps else "one-shot"
            console.print(f"({name}) reconstruction of the test set")
            part = _reconstruction(r, test_records, test, steps, jobs, raw=not label)
            console.print(f"({name}) sampling {n_samples} structures from the prior")
            sampled_here, speed, raw_gen = _sampling(r, n_samples, seed, steps, raw=not label)
            part["speed"] = speed
            if raw_gen is not None:
                part["generation_raw_decode"] = raw_gen
            if label:
                results[label] = part
                results[label]["_samples"] = sampled_here
            else:
                results.update(part)
                sampled = sampled_here
    else:
        sampled = _read_sample_dir(samples)

    console.print("fingerprints of the test set (cached after the first run)")
    test_fp = cached(test_path, {"kind": "cdvae_fingerprints"}, lambda: fingerprints(test, n_jobs=jobs))
    console.print(f"CDVAE's {suite.evaluator} evaluator on the test set (cached after the first run), for d_E")
    judge = CDVAEEvaluator(suite.evaluator)
    test_pred = cached(test_path, {"kind": "cdvae_evaluator_predictions", "evaluator": suite.evaluator},
                       lambda: judge.predict(test))
    console.print(f"generation metrics over {len(sampled)} samples (fingerprints, coverage, novelty, d_E)")
    results["generation"] = generation_metrics(sampled, test, train, dataset=suite.dataset, n_property=1000, seed=seed,
                                               n_jobs=jobs, test_fingerprints=test_fp, property_predictor=judge.predict,
                                               test_predictions=test_pred, n_novelty=suite.n_novelty)
    if "one_shot" in results:
        console.print("generation metrics of the one-shot samples")
        results["one_shot"]["generation"] = generation_metrics(
            results["one_shot"].pop("_samples"), test, train, dataset=suite.dataset, n_property=1000, seed=seed,
            n_jobs=jobs, test_fingerprints=test_fp, property_predictor=judge.predict, test_predictions=test_pred,
            n_novelty=suite.n_novelty)
    results["protocol"] = {"train_rows": len(train), "test_rows": len(test), "test_file": test_path.name,
                           "handicap": suite.protocol_note}
    results["minutes"] = round((time.time() - t0) / 60, 2)
    write_results(out, results, _markdown(results, suite))
    return out


def _markdown(res: dict, suite: Suite) -> str:
    lines = [f"# {suite.title} benchmark (CDVAE protocol)", "", f"Command: `{res['command']}`"
             + (f" ({res['minutes']} min)" if res.get("minutes") is not None else ""), ""]
    d = res["device"]
    lines += [f"Device: {d['cpu']} ({d['cpu_cores']} cores, torch {d['torch']}, {d['torch_threads']} threads"
              f"{', GPU ' + d['gpu'] if d['gpu'] else ', no GPU'})", ""]
    if "model" in res:
        m = res["model"]
        lines += [f"Model: `{m['path']}` (latent {m['latent_dim']}, beta {m['beta']}; trained "
                  f"{m['training'].get('epochs', '?')} epochs in {m['training'].get('minutes', '?')} min)", ""]
    if "samples_dir" in res:
        lines += [f"Samples judged: `{res['samples_dir']}`", ""]
    p = res["protocol"]
    lines += [p["handicap"], "", f"Rows: {p['train_rows']} training crystals (novelty reference), {p['test_rows']} "
              f"test crystals (`{p.get('test_file', '?')}`: reconstruction, coverage and property reference).", ""]
    g = res["generation"]
    lines += [f"Compositional validity uses smact {g['smact']['smact_version']} with the "
              f"`{g['smact']['oxidation_state_set']}` oxidation-state set (CDVAE's list).", ""]
    lines += ["| metric | value | anchor / bar | what it measures |", "|---|---|---|---|"]
    one_shot = res.get("one_shot", {})
    for section in ("reconstruction", "generation", "speed", "reconstruction_raw_decode", "generation_raw_decode"):
        for prefix, block in (("", res), ("one_shot.", one_shot)):
            if section not in block:
                continue
            for k, v in block[section].items():
                if isinstance(v, (dict, list)):
                    continue
                key = f"{prefix}{section}.{k}"
                lines.append(f"| `{key}` | {fmt(v)} | {suite.anchors.get(key, '')} | {DESCRIPTIONS.get(k, '')} |")
    if "model" in res:
        m = res["model"]
        lines += ["", f"Decoder: the one-shot pass, then {m['refinement_steps']} refinement steps from noise level "
                  f"{m['refinement_start_sigma']} (probability-flow ODE of the periodic denoiser, deterministic): "
                  f"{m['network_evaluations_per_structure']} network evaluations per structure, counted by hooks on "
                  "both networks (`speed.nfe_per_structure`). `one_shot.*` rows are the same protocol with the "
                  "refinement switched off (`--one-shot`), so its gain is visible."]
    lines += ["", "Decoding: each decoded structure takes the most likely per-slot elements whose composition passes "
              "the SMACT charge-balance test (top-3 alternatives per slot, best-first, at most 64 compositions; "
              "no extra network evaluation). The `*_raw_decode` rows give the same protocol with plain argmax "
              "decoding, so the effect of that step is visible.",
              "", "Rates are fractions (0–1). COV rewards memorising the training set, which is why novelty and "
              "uniqueness (StructureMatcher ltol 0.2, stol 0.3, angle_tol 5 within a reduced formula) are reported too."]
    return "\n".join(lines) + "\n"
