"""The lab loop: ``designer propose`` (ask) and ``designer observe`` (tell), state in ``<run>/design/``.

``state.json`` holds every proposal (id, round, latent, key, predictions, plausibility) and every
observation (id, measured values, latent). It is rewritten atomically, and ``observe`` validates
the whole measurements file before changing anything.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import torch

from designer.errors import DataError, DesignerError
from designer.io.atomic import atomic_write_text
from designer.runs import Run

STATE_VERSION = 1


def state_dir(run_arg: str, run: Run) -> Path:
    """``<run folder>/design``; for a shipped model (read-only package) ``runs/<name>/design``."""
    p = Path(run_arg)
    base = p if p.is_dir() else (p.parent if p.is_file() and p.name == "model.pt" else Path("runs") / run.config.name)
    return base / "design"


def load_state(folder: Path) -> dict:
    f = folder / "state.json"
    if not f.exists():
        return {"version": STATE_VERSION, "rounds": 0, "proposals": [], "observations": []}
    try:
        state = json.loads(f.read_text())
    except json.JSONDecodeError:
        raise DesignerError(f"{f}: the design state is not valid JSON; restore it from a backup or delete the folder") from None
    return state


def save_state(folder: Path, state: dict) -> None:
    atomic_write_text(folder / "state.json", json.dumps(state, indent=1) + "\n")


def _plausibility(folder: Path, mu: torch.Tensor, seed: int):
    """The run's plausibility density, fitted once and kept in the state folder."""
    from designer.optimize.plausibility import Plausibility, fit_plausibility

    f = folder / "plausibility.json"
    if f.exists():
        return Plausibility.from_dict(json.loads(f.read_text()))
    p = fit_plausibility(mu.numpy(), seed=seed)
    atomic_write_text(f, json.dumps(p.to_dict()))
    return p


def propose(run_arg: str, q: int, out: Path, cfg=None, seed: int | None = None, log=print) -> tuple[Path, int]:
    """Write the next batch to ``out`` and record it; returns (table path, number proposed)."""
    from designer.design.data import known_data
    from designer.design.export import export_candidates
    from designer.design.run import objective_for, settings_for, start_points, with_scales
    from designer.design.spaces import space_for
    from designer.optimize.bo import TrustRegion, latent_box
    from designer.optimize.loop import ask
    from designer.runs import load_run

    run = load_run(run_arg)
    if cfg is not None:
        run.config = run.config.model_copy(update={"design": cfg.design})
    folder = state_dir(run_arg, run)
    state = load_state(folder)
    objective = objective_for(run.config)
    settings = settings_for(run.config, seed)
    space = space_for(run, run.config.design.constraints, settings.seed)
    known = known_data(run)
    plaus = _plausibility(folder, known.mu, settings.seed)
    head_file = folder / "head.pt"
    if run.config.design.refit_head and state["observations"]:
        report = refit_head(run, known, state["observations"], seed=settings.seed)
        import io

        buf = io.BytesIO()
        torch.save(run.model.property_head.state_dict(), buf)
        from designer.io.atomic import atomic_write_bytes

        atomic_write_bytes(head_file, buf.getvalue())
        log(f"property head fine-tuned on {report['measurements']} measurement(s): error on them "
            f"{report['mae_before']:.4g} -> {report['mae_after']:.4g} (kept in {head_file})")
    elif head_file.exists():  # an earlier refit stays in use
        run.model.property_head.load_state_dict(torch.load(head_file, weights_only=True))
        log(f"using the fine-tuned property head {head_file}")
    box = latent_box(known.mu)
    keys = set(known.keys) | {tuple(k) if isinstance(k, list) else k for k in (p["key"] for p in state["proposals"])}
    if hasattr(space, "remember"):  # crystals: a repeat of a training structure or an earlier proposal is a duplicate
        space.remember(known.items, known.keys)
        earlier = [p for p in state["proposals"] if p.get("z") is not None]
        if earlier:
            from designer.generate import decode_latents

            decoded = decode_latents(run, torch.tensor([p["z"] for p in earlier], dtype=torch.float32)).structures
            space.remember(decoded, [tuple(p["key"]) if isinstance(p["key"], list) else p["key"] for p in earlier])
    names = objective.properties
    obs = [o for o in state["observations"] if all(math.isfinite(o["values"].get(n, math.nan)) for n in names)]
    mean, _ = space.predict(known.mu)
    with_scales(objective, objective.values(mean))
    if len(obs) >= 2:
        z = torch.tensor([o["z"] for o in obs], dtype=torch.float32)
        cols = [objective.parts[k].score(np.array([o["values"][n] for o in obs])) for k, n in enumerate(names)]
        y = torch.as_tensor(np.stack(cols, 1) if objective.multi else cols[0], dtype=torch.float32)
        source = f"{len(obs)} measurements"
    else:
        values = objective.values(mean)
        z, y0 = start_points(run.config, known.mu, values, run.model, np.random.default_rng(settings.seed))
        y = torch.as_tensor(y0, dtype=torch.float32)
        source = "the property head (no measurements yet)"
    round_ = state["rounds"]
    bounds = None
    if settings.trust_region:
        best = int(np.argmax(objective.scalar(y.numpy())))
        bounds = TrustRegion(length=settings.tr_length).bounds(z[best].double(), box)
    log(f"round {round_ + 1}: fitting the GP on {len(z)} points from {source}")
    res = ask(space, z, y, q, box, keys, objective, settings, plaus, bounds, round_)
    if not res.proposals:
        raise DesignerError(f"no new candidate in {res.attempts} attempts (rejected: {res.rejected}); "
                            "loosen design.constraints or widen design.tr_length")
    rows = export_candidates(run, res.proposals, out, objective,
                             {"round": round_ + 1, "rejected": res.rejected, "gp_data": source}, prefix=f"r{round_ + 1}",
                             scoring=run.config.scoring, known=known, log=log)
    for row in rows:
        p = res.proposals[row["_proposal"]]
        state["proposals"].append({"id": row["id"], "round": round_ + 1, "z": p.candidate.z.tolist(),
                                   "key": list(p.candidate.key) if isinstance(p.candidate.key, tuple) else p.candidate.key,
                                   "predicted": p.predicted.tolist(), "std": p.std.tolist(),
                                   "plausibility": p.plausibility})
    state["rounds"] = round_ + 1
    save_state(folder, state)
    return out / "candidates.csv", len(rows)


def refit_head(run: Run, known, observations: list[dict], seed: int = 0, steps: int = 200, lab_weight: float = 10.0,
               batch: int = 1024) -> dict:
    """Fine-tune the property head in place on the lab's measurements plus the training labels.

    Each step sees all measurements (weighted ``lab_weight``) and a random batch of training
    latents with their labels, so a few measurements correct the head without erasing what it
    learned. Returns the mean absolute error on the measurements before and after.
    """
    head = run.model.property_head
    props = run.config.data.properties
    z_lab = torch.tensor([o["z"] for o in observations], dtype=torch.float32)
    y_lab = torch.tensor([[o["values"].get(p, float("nan")) for p in props] for o in observations], dtype=torch.float32)
    y_known = torch.as_tensor(known.y, dtype=torch.float32)
    labelled = torch.isfinite(y_known).any(1)
    z_tr, y_tr = known.mu[labelled], y_known[labelled]

    def lab_mae() -> float:
        head.eval()
        with torch.no_grad():
            err = (head(z_lab) - y_lab).abs()
        return float(err[torch.isfinite(err)].mean())

    before = lab_mae()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    head.train()
    for _ in range(steps):
        idx = torch.randint(len(z_tr), (min(batch, len(z_tr)),), generator=gen) if len(z_tr) else torch.zeros(0, dtype=torch.long)
        loss = lab_weight * head.loss(z_lab, y_lab)
        if len(idx):
            loss = loss + head.loss(z_tr[idx], y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    return {"measurements": len(observations), "mae_before": before, "mae_after": lab_mae()}


def _numeric(value: str, where: str, column: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {column}={value!r} is not a number; fix the measurement or leave the row out") from None
    if not math.isfinite(v):
        raise DataError(f"{where}: {column}={value!r} is not a finite number; leave the row out")
    return v


def observe(run_arg: str, path: Path, log=print) -> int:
    """Record the lab's measurements; returns how many rows were recorded. All-or-nothing."""
    from designer.runs import load_run

    run = load_run(run_arg)
    folder = state_dir(run_arg, run)
    state = load_state(folder)
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such measurements file")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        rows = list(reader)
    if not header or not rows:
        raise DataError(f"{path}: the file is empty; give a header (id, {', '.join(run.config.data.properties)}) and rows")
    props = [p for p in run.config.data.properties if p in header]
    if "id" not in header:
        raise DataError(f"{path}: no 'id' column; columns must be id, {', '.join(run.config.data.properties)} "
                        "(and optionally cif or sequence)")
    if not props:
        raise DataError(f"{path}: no measured column; name one as in the pipeline: {', '.join(run.config.data.properties)}")
    proposed = {p["id"]: p for p in state["proposals"]}
    seen: set[str] = set()
    new, need_encoding = [], []
    for line, row in enumerate(rows, start=2):
        rid = (row.get("id") or "").strip()
        where = f"{path} line {line} (id {rid or '?'})"
        if not rid:
            raise DataError(f"{where}: empty id")
        if rid in seen:
            raise DataError(f"{where}: duplicate id; give each measured item once")
        seen.add(rid)
        values = {p: _numeric(row.get(p), where, p) for p in props if (row.get(p) or "").strip() != ""}
        if not values:
            raise DataError(f"{where}: no value in {', '.join(props)}")
        item = (row.get("cif") or row.get("sequence") or "").strip()
        if rid in proposed:
            new.append({"id": rid, "values": values, "z": proposed[rid]["z"], "source": "proposal"})
        elif item:
            new.append({"id": rid, "values": values, "z": None, "source": item})
            need_encoding.append((len(new) - 1, item, where))
        else:
            raise DataError(f"{where}: the id matches no proposal and the row gives no "
                            f"{'cif' if run.config.domain == 'crystal' else 'sequence'} column to encode")
    if need_encoding:
        latents = _encode_items(run, [i for _, i, _ in need_encoding], [w for _, _, w in need_encoding], path.parent)
        for (k, _, _), zrow in zip(need_encoding, latents):
            new[k]["z"] = zrow.tolist()
    ids = {o["id"] for o in new}
    state["observations"] = [o for o in state["observations"] if o["id"] not in ids] + new
    save_state(folder, state)
    log(f"recorded {len(new)} measurement(s) in {folder / 'state.json'}; the next propose fits on "
        f"{len(state['observations'])} measurement(s)")
    return len(new)


def _encode_items(run: Run, items: list[str], wheres: list[str], base: Path) -> np.ndarray:
    if run.config.domain == "crystal":
        from designer.data.crystal_io import read_crystals
        from designer.design.spaces import CrystalSpace

        structures = []
        for item, where in zip(items, wheres):
            p = Path(item) if Path(item).is_absolute() else base / item
            if not p.exists():
                raise DataError(f"{where}: cif {item!r}: no such file")
            try:
                structures.append(read_crystals(p, [])[0].to_structure())
            except DesignerError as exc:
                raise DataError(f"{where}: {exc}") from None
        return CrystalSpace(run).encode(structures).numpy()
    import tempfile

    from designer.config import sequence_options
    from designer.data.protein_dataset import load_protein_set
    from designer.generate_protein import encode, reference_sequence

    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "observed.fasta"
        f.write_text("".join(f">item{i}\n{s}\n" for i, s in enumerate(items)))
        opts = sequence_options(run.config)
        opts.format = "fasta"
        try:
            pset = load_protein_set([f], [], opts, reference_sequence(run), use_cache=False)
        except DesignerError as exc:
            raise DataError(f"{wheres[0]}: {str(exc).split(': ', 1)[-1]}") from None
    if len(pset.tokens) != len(items):
        raise DataError(f"{wheres[0]}: a sequence was skipped while reading ({pset.report.summary()})")
    return encode(run, pset.tokens)[0].numpy()
