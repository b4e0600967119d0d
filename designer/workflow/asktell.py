"""The lab loop: ``designer propose`` (ask) and ``designer observe`` (tell), state in ``<run>/design/``.

``state.json`` holds every proposal (id, round, latent, key, predictions, plausibility) and every
observation (id, measured values, latent). It is rewritten atomically, and ``observe`` validates
the whole measurements file before changing anything.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import torch

from designer.io.output_folder import check_output, output_folder
from designer.io.text import open_text
from designer.workflow.data import known_data
from designer.workflow.export import candidate_rows, export_candidates
from designer.workflow.scorecard import score_rows
from designer.workflow.setup import objective_for, settings_for, start_points, with_scales
from designer.workflow.spaces import space_for
from designer.workflow.state import cached_plausibility, load_state, save_state, shipped_plausibility, state_dir, \
    state_lock
from designer.domains import get_domain
from designer.errors import DataError, DesignerError
from designer.io.atomic import atomic_write_bytes
from designer.optimize.bo import TrustRegion, latent_box
from designer.optimize.loop import ask
from designer.runs import Run, load_run

__all__ = ["observe", "propose", "refit_head", "state_dir"]


def propose(run_arg: str, q: int, out: Path, cfg=None, seed: int | None = None, log=print,
            one_shot: bool = False, overwrite: bool = False) -> tuple[Path, int]:
    """Write the next batch to ``out`` and record it; returns (table path, number proposed).

    ``one_shot``: decode without the refinement stage; ``overwrite``: replace a complete earlier
    output in ``out`` (``io.output_folder``; checked before any work)."""
    out = check_output(out, overwrite)
    run = load_run(run_arg, one_shot=one_shot)
    if cfg is not None:
        run.config = run.config.model_copy(update={"design": cfg.design})
    folder = state_dir(run_arg, run)
    with state_lock(folder):  # a concurrent observe or propose waits: nothing recorded is lost
        state = load_state(folder)
        objective = objective_for(run.config)
        settings = settings_for(run.config, seed)
        # each round samples residues (decode_temperature > 0) from its own stream: a round that reused
        # the first round's draws near the same latents would decode only repeats
        space = space_for(run, run.config.design.constraints, settings.seed + 1000 * state["rounds"])
        known = known_data(run)
        plaus = shipped_plausibility(run, settings.seed)
        if plaus is None:
            plaus = cached_plausibility(folder, known.mu, settings.seed)
        head_file = folder / "head.pt"
        if run.config.design.refit_head and state["observations"]:
            report = refit_head(run, known, state["observations"], seed=settings.seed)
            buf = io.BytesIO()
            torch.save(run.model.property_head.state_dict(), buf)
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
                space.remember_latents(torch.tensor([p["z"] for p in earlier], dtype=torch.float32),
                                       [tuple(p["key"]) if isinstance(p["key"], list) else p["key"] for p in earlier])
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
        rows = candidate_rows(run, res.proposals, objective, prefix=f"r{round_ + 1}")
        summary = {"round": round_ + 1, "rejected": res.rejected, "gp_data": source}
        if run.config.scoring.enabled:
            summary["scoring"] = score_rows(run, res.proposals, rows, run.config.scoring, known=known, plausibility=plaus,
                                            log=log)
        for row in rows:
            p = res.proposals[row["_proposal"]]
            state["proposals"].append({"id": row["id"], "round": round_ + 1, "z": p.candidate.z.tolist(),
                                       "key": list(p.candidate.key) if isinstance(p.candidate.key, tuple) else p.candidate.key,
                                       "predicted": p.predicted.tolist(), "std": p.std.tolist(),
                                       "plausibility": p.plausibility})
        state["rounds"] = round_ + 1
        save_state(folder, state)  # recorded first: files on disk never carry ids the state does not know
        with output_folder(out, overwrite):
            export_candidates(run, res.proposals, rows, out, summary, symprec=run.config.scoring.symprec)
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
    run = load_run(run_arg)
    folder = state_dir(run_arg, run)
    with state_lock(folder):
        return _observe(run, folder, Path(path), log)


def _observe(run: Run, folder: Path, path: Path, log) -> int:
    state = load_state(folder)
    if not path.exists():
        raise DataError(f"{path}: no such measurements file")
    with open_text(path) as f:  # gzip / UTF-8 / UTF-16 sniffed
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
        item = (row.get(get_domain(run).observation_column) or "").strip()
        if rid in proposed:
            new.append({"id": rid, "values": values, "z": proposed[rid]["z"], "source": "proposal"})
        elif item:
            new.append({"id": rid, "values": values, "z": None, "source": item})
            need_encoding.append((len(new) - 1, item, where))
        else:
            raise DataError(f"{where}: the id matches no proposal and the row gives no "
                            f"{get_domain(run).observation_column} column to encode")
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
    return get_domain(run).encode_observed(run, items, wheres, base)
