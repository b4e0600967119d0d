"""One measured step of ``designer benchmark scale``, run in its own process (so its peak memory is its own).

``python -m designer.benchmarks.scale_worker synth CSV N SEED | preprocess CSV JOBS | epoch CSV MAX_STEPS |
score JOBS N`` prints one JSON line.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Element

from designer.resources import dataset_path

PROPERTY = "target"


def _cif(name: str, lattice: np.ndarray, frac: np.ndarray, z: np.ndarray) -> str:
    """A minimal P1 CIF (lengths, angles, one site per atom)."""
    a, b, c = np.linalg.norm(lattice, axis=1)
    al = np.degrees(np.arccos(lattice[1] @ lattice[2] / (b * c)))
    be = np.degrees(np.arccos(lattice[0] @ lattice[2] / (a * c)))
    ga = np.degrees(np.arccos(lattice[0] @ lattice[1] / (a * b)))
    lines = [f"data_{name}", f"_cell_length_a {a:.6f}", f"_cell_length_b {b:.6f}", f"_cell_length_c {c:.6f}",
             f"_cell_angle_alpha {al:.6f}", f"_cell_angle_beta {be:.6f}", f"_cell_angle_gamma {ga:.6f}",
             "_symmetry_space_group_name_H-M 'P 1'", "_symmetry_Int_Tables_number 1", "loop_",
             "_symmetry_equiv_pos_as_xyz", "  'x, y, z'", "loop_", "_atom_site_label", "_atom_site_type_symbol",
             "_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z", "_atom_site_occupancy"]
    for k, (f, zz) in enumerate(zip(frac, z)):
        sym = Element.from_Z(int(zz)).symbol
        lines.append(f"{sym}{k} {sym} {f[0]:.6f} {f[1]:.6f} {f[2]:.6f} 1")
    return "\n".join(lines) + "\n"


def synth(path: str, n: str, seed: str) -> dict:
    """``n`` strained, jittered copies of crystals drawn (seeded, with replacement) from the shipped perov_5
    and mp_20_subset training sets, as a CSV."""
    from designer.data.crystal_io import read_crystals

    t0 = time.perf_counter()
    base = read_crystals(dataset_path("perov_5/dev_train.csv.gz"), []) + \
        read_crystals(dataset_path("mp_20_subset/train.csv.gz"), [])
    rng = np.random.default_rng(int(seed))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["material_id", "cif", PROPERTY])
        # every row an independent draw from the same mix, so each size has the same share of
        # perov_5 (5 atoms) and mp_20 (1-20 atoms) crystals (taking the base in order made the 1k set
        # all perovskites and its steps cheaper)
        for i in range(int(n)):
            r = base[int(rng.integers(len(base)))]
            e = rng.normal(0, 0.03, (3, 3))
            lattice = r.lattice @ (np.eye(3) + (e + e.T) / 2)
            frac = np.mod(r.frac_coords + rng.normal(0, 0.01, r.frac_coords.shape), 1.0)
            w.writerow([f"syn-{i}", _cif(f"syn{i}", lattice, frac, r.atomic_numbers), f"{rng.normal():.5f}"])
    return {"seconds": time.perf_counter() - t0, "rows": int(n)}


def preprocess(path: str, jobs: str) -> dict:
    from designer.data.graph_store import open_store

    t0 = time.perf_counter()
    store = open_store(Path(path), [PROPERTY], 7.0, 12, jobs=int(jobs))
    return {"seconds": time.perf_counter() - t0, "rows": len(store), "atoms": store.meta["atoms"],
            "edges": store.meta["edges"]}


def epoch(path: str, max_steps: str) -> dict:
    """One epoch (or its first ``max_steps`` steps) of the default model at batch 128 on the store."""
    import torch

    from designer.config import PipelineConfig
    from designer.runs import build_model
    from designer.training.datasets import fit_data_scales, load_training_data, make_loader

    torch.set_num_threads(1)
    cfg = PipelineConfig(name="scale", domain="crystal",
                         data={"train": [path], "properties": [PROPERTY], "max_atoms": 20},
                         train={"batch_size": 128, "threads": 1})
    t0 = time.perf_counter()
    data = load_training_data(cfg)
    torch.manual_seed(0)
    model = build_model(cfg, data.plugin_args)
    fit_data_scales(model, data)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = make_loader(data.domain, data.train, 128, shuffle=True, seed=0, drop_last=len(data.train) > 128)
    cap = int(max_steps) or len(loader)
    times = []
    model.train()
    for i, batch in enumerate(loader):
        if i >= cap:
            break
        t = time.perf_counter()
        loss = model.loss(batch, cfg.loss.beta)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    timed = times[1:] or times  # the first step warms up
    return {"seconds": time.perf_counter() - t0, "steps": len(times), "steps_per_epoch": len(loader),
            "median_step_seconds": float(np.median(timed)), "batch": 128}


def score(jobs: str, n: str) -> dict:
    import torch

    from designer.data.crystal_io import read_crystals
    from designer.scoring.crystal_card import score_crystals

    torch.set_num_threads(1)
    records = read_crystals(dataset_path("perov_5/test.csv.gz"), [])[: int(n)]
    structures = [r.to_structure() for r in records]
    t0 = time.perf_counter()
    rows = score_crystals(structures, [r.id for r in records], energies=True, jobs=int(jobs))
    seconds = time.perf_counter() - t0
    digest = hashlib.sha256(json.dumps([[r.get("spacegroup"), r.get("charge_neutral"),
                                         round(r.get("energy_per_atom", float("nan")), 4)] for r in rows]).encode())
    return {"seconds": seconds, "structures": len(rows), "digest": digest.hexdigest()}


if __name__ == "__main__":
    verb, *args = sys.argv[1:]
    print(json.dumps({"synth": synth, "preprocess": preprocess, "epoch": epoch, "score": score}[verb](*args)))
