"""Latent property optimisation from test starts, as CDVAE's protocol (DESIGN section 5).

The selection half of ``perov5-opt`` and ``carbon24-opt``: from each start's latent, latent BO on the
property head's values in a trust region (plausibility penalty) proposes candidates, at most
``decodes`` valid crystals are kept per start, and every start's decodes are appended to a file as
they come so that an interrupted run resumes. Selection uses the model and the density only; the
judges (CDVAE's evaluators, our GBM) are built by the caller after ``select_for_starts`` returns.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from designer.workflow.data import known_data
from designer.workflow.state import shipped_plausibility
from designer.domains.crystal.generate import encode as encode_graphs
from designer.domains.crystal.generate import records_to_data
from designer.domains.crystal.space import CrystalSpace
from designer.errors import DesignerError
from designer.io.atomic import atomic_write_text
from designer.metrics import composition_validity, structure_validity
from designer.optimize.bo import TrustRegion, latent_box, propose
from designer.optimize.plausibility import fit_plausibility
from designer.scoring.competing_phases import compact_structure, structure_from_compact


def settings_key(model_path: Path, **settings) -> str:
    """12 hex digits naming a model file and the selection settings (the decodes file of a resumable run)."""
    h = hashlib.sha256(Path(model_path).read_bytes())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()[:12]


def select_candidates(r, space, z0: torch.Tensor, box, plaus, unit_points: torch.Tensor, *, idx: int, decodes: int,
                      pool: int, tr_length: float, z_known: torch.Tensor, y_known: torch.Tensor, seed: int) -> list:
    """The at most ``decodes`` valid crystals one start's optimisation hands to the judges.

    Uses only the model (its property head and decoder) and the plausibility density; no evaluator
    exists while it runs.

    Args:
        z0: ``(d,)`` the start's latent.
        unit_points: ``(63, d)`` points in the unit cube (this start's Sobol draw), mapped into the trust region.
        z_known, y_known: ``(k, d)`` and ``(k,)`` known latents added to the GP's data (k may be 0).
    """
    head = r.model.property_head
    n_known = len(z_known)
    bounds = TrustRegion(length=tr_length).bounds(z0.double(), box)
    pts = bounds[0] + (bounds[1] - bounds[0]) * unit_points.double()
    zs = torch.cat([z0.unsqueeze(0).double(), pts]).float()
    with torch.no_grad():
        y = -head(zs)[:, idx]  # minimise heat_ref
    if n_known:
        zs, y = torch.cat([zs, z_known]), torch.cat([y, y_known])
    zq = propose(zs, y, box, decodes, plaus, "penalty", 1.0, 5.0, bounds=bounds, seed=seed,
                 num_restarts=4, raw_samples=128, max_fit_points=256)
    if pool > decodes:  # screen a larger pool with the head on the decoded crystals (re-encoded)
        extra = zs[: len(pts) + 1][torch.argsort(y[: len(pts) + 1], descending=True)[: pool - decodes]]
        zq = torch.cat([zq.float(), extra.float()])
    cands = [c for c in space.decode(zq) if c.obj is not None and c.violation is None
             and structure_validity(c.obj) and composition_validity(c.obj)]
    if pool > decodes and cands:
        uniq = {}
        for c in cands:
            uniq.setdefault(c.key, c)
        cands = list(uniq.values())
        with torch.no_grad():
            rt = -head(torch.as_tensor(np.stack([c.z_roundtrip for c in cands]), dtype=torch.float32))[:, idx]
        cands = [cands[j] for j in torch.argsort(rt, descending=True)[:decodes].tolist()]
    return [c.obj for c in cands[:decodes]]


def judge_decodes(predict, starts_structs: list, decoded: list[list]) -> tuple[np.ndarray, np.ndarray, list]:
    """One judge's values: ``(start values (S,), best value per start (S,), best formula per start)``."""
    flat = [s for ds in decoded for s in ds]
    values = np.asarray(predict(flat), dtype=float) if flat else np.zeros(0)
    best, formulas, k = [], [], 0
    for ds in decoded:
        v = values[k:k + len(ds)]
        k += len(ds)
        best.append(float(v.min()) if len(v) else float("inf"))
        formulas.append(ds[int(np.argmin(v))].composition.reduced_formula if len(v) else None)
    start_values = np.asarray(predict(starts_structs), dtype=float) if starts_structs else np.zeros(0)
    return start_values, np.array(best), formulas


def select_for_starts(r, starts: list, prop: str, *, seed: int, decodes: int, tr_length: float, n_known: int,
                      pool: int, decodes_dir: Path, console: Console) -> tuple[list[list], Path]:
    """Every start's selected decodes (minimising ``prop``), resuming from ``decodes_dir``.

    Args:
        r: the loaded run (its head predicts ``prop``).
        starts: ``S`` crystal records whose latents start the searches.

    Returns:
        ``(decoded, decodes_file)``: ``decoded[i]`` the at most ``decodes`` valid structures of start ``i``.
    """
    idx = r.config.data.properties.index(prop)
    settings = {"seed": seed, "decodes": decodes, "tr_length": tr_length, "n_known": n_known, "pool": pool}
    decodes_file = Path(decodes_dir) / f"decodes_{settings_key(r.path, **settings)}.jsonl"
    decodes_file.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if decodes_file.exists():
        lines = [x for x in decodes_file.read_text().splitlines() if x.strip()]
        for k, line in enumerate(lines):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                if k == len(lines) - 1:  # the line a killed run was writing: drop it, that start is selected again
                    atomic_write_text(decodes_file, "".join(x + "\n" for x in lines[:-1]))
                    break
                raise DesignerError(f"{decodes_file}: line {k + 1} is not JSON; delete the file to start over") from None
            done[row["start"]] = [structure_from_compact(t) for t in row["structures"]]
    todo = [i for i, rec in enumerate(starts) if rec.id not in done]
    console.print(f"selection: {len(starts) - len(todo)} starts already in {decodes_file}, {len(todo)} to go")
    if todo:
        console.print("encoding the training latents (box, plausibility)")
        known = known_data(r)
        box = latent_box(known.mu)
        plaus = shipped_plausibility(r, seed) or fit_plausibility(known.mu.cpu().numpy(), seed=seed)  # shipped: fitted once
        space = CrystalSpace(r)
        z_starts = encode_graphs(r, records_to_data(r, starts))[0]
        with torch.no_grad():
            known_y = -r.model.property_head(known.mu)[:, idx]
        top = torch.argsort(known_y, descending=True)[:n_known]
        z_known, y_known = known.mu[top], known_y[top]  # the best known chemistry, by the head
        sobol = torch.quasirandom.SobolEngine(r.model.latent_dim, scramble=True, seed=seed)
        with console.status("optimising") as status, open(decodes_file, "a") as fh:
            for i, z0 in enumerate(z_starts):
                unit = sobol.draw(63)  # the Sobol sequence advances for every start, done or not
                if starts[i].id in done:
                    continue
                status.update(f"optimising start {i + 1}/{len(z_starts)}")
                valid = select_candidates(r, space, z0, box, plaus, unit, idx=idx, decodes=decodes, pool=pool,
                                          tr_length=tr_length, z_known=z_known, y_known=y_known, seed=seed + i)
                done[starts[i].id] = valid
                fh.write(json.dumps({"start": starts[i].id, "structures": [compact_structure(s) for s in valid]}) + "\n")
                fh.flush()
    return [done[rec.id] for rec in starts], decodes_file


def optimiser_text(tr_length: float, n_known: int, pool: int, decodes: int) -> str:
    """The protocol line that describes the selection settings."""
    return ("qLogNEI on a GP fitted to the head's values at the start, 63 Sobol points in a "
            f"trust region of {tr_length} x the latent box"
            + (f" and the {n_known} training latents the head rates best" if n_known else "")
            + "; plausibility penalty (floor: 5th percentile)"
            + (f"; a pool of {pool} decodes (the {decodes} proposals + the Sobol points the head "
               f"rates best) screened by the head on the re-encoded crystals, the best {decodes} "
               "distinct valid ones scored" if pool > decodes else ""))


def _load_chgnet() -> None:
    from designer.scoring.chgnet_energy import load_model

    load_model()


def _relax_start(args) -> list[str]:
    """One start's decodes relaxed with CHGNet (in a ``model_pool_imap`` worker: one torch thread), as
    compact structures; a relaxation that fails keeps the decode as it is."""
    from designer.scoring.chgnet_energy import relax

    structures, steps = args
    out = []
    for s in structures:
        res = relax(s, steps=steps)
        out.append(compact_structure(res["relaxed"] if res["relaxed"] is not None else s))
    return out


def relax_decodes(decoded: list[list], starts: list, steps: int, decodes_file: Path, jobs: int,
                  console: Console) -> tuple[list[list], Path]:
    """Every start's selected decodes relaxed with CHGNet (FIRE with the cell free, at most ``steps``
    steps, fmax 0.1 eV/Å): the product's own post-processing, no judge involved. Kept start by start in
    ``<decodes file>_relaxed<steps>.jsonl`` so that a rerun resumes.

    Returns:
        ``(relaxed, file)``: ``relaxed[i]`` holds start ``i``'s decodes in the same order, relaxed.
    """
    from designer.parallel import model_pool_imap

    path = decodes_file.with_name(f"{decodes_file.stem}_relaxed{steps}.jsonl")
    done = {}
    if path.exists():
        lines = [x for x in path.read_text().splitlines() if x.strip()]
        kept = []
        for line in lines:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # the line a killed run was writing: that start is relaxed again
                continue
            kept.append(line)
            done[row["start"]] = [structure_from_compact(t) for t in row["structures"]]
        if len(kept) != len(lines):  # rewritten whole, so that new lines do not follow a cut one
            atomic_write_text(path, "".join(x + "\n" for x in kept))
    todo = [i for i, rec in enumerate(starts) if rec.id not in done]
    console.print(f"relaxing the decodes with CHGNet ({steps} steps at most): {len(starts) - len(todo)} starts "
                  f"already in {path}, {len(todo)} to go")
    with open(path, "a") as fh:  # one pool for every start (its workers load CHGNet once); each start kept as it ends
        results = model_pool_imap(_relax_start, [(decoded[i], steps) for i in todo], n_jobs=jobs, init=_load_chgnet)
        for k, (i, compact) in enumerate(zip(todo, results)):
            done[starts[i].id] = [structure_from_compact(t) for t in compact]
            fh.write(json.dumps({"start": starts[i].id, "structures": compact}) + "\n")
            fh.flush()
            if (k + 1) % 5 == 0 or k + 1 == len(todo):
                console.print(f"relaxed {len(starts) - len(todo) + k + 1}/{len(starts)} starts")
    return [done[rec.id] for rec in starts], path
