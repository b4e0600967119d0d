"""``designer benchmark gfp-design``: designed avGFP variants judged by an independent oracle.

The lab is ``designer.benchmarks.gfp_oracle``: a cross-fitted 1-D CNN ensemble trained on all
labelled avGFP variants (a different architecture from the model under test). Every method starts
from the training data of the model (variants with at most 3 mutations) and gets the same budget of
lab measurements, ``rounds`` batches of ``q``; every design stays within ``max_mutations``
substitutions of the wild type. The oracle answers each batch and never trains on a proposal.

Methods, side by side in one run:

* ``designer``: the lab loop as a user runs it, ``designer propose`` then ``designer observe`` with
  the oracle as the lab, on the pipeline's design settings (latent BO with the plausibility term),
  the property head fine-tuned on the measurements before each round (``design.refit_head``);
* ``latent_bo``: the same ask/tell without the head refit and without the plausibility term;
* ``mutation_search``: ``designer.optimize.local.MutationSearch`` from the best training variant,
  told the lab's values only (no model);
* ``hill_climb``: each round ``q`` random single mutants of the best sequence measured so far;
* ``random_mutants``: random single and double mutants of the best training variant.

For each method: the oracle value of its best design and the mean of its top 16, their
substitutions from the wild type, the top 16's diversity (mean pairwise edit distance), the
fraction of designs the oracle calls brighter than the wild type and than the best training
variant, and the share of designs where the oracle's members disagree more than on 95 % of the
labelled variants (``flagged``: the oracle is extrapolating there). Means and spreads over the seeds.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

from designer.benchmarks.ehrlich import parse_seeds
from designer.benchmarks.gfp import TRAIN_MAX_MUTATIONS, _data_path
from designer.benchmarks.gfp_oracle import Oracle, train_oracle
from designer.data.protein_dataset import decode_tokens
from designer.data.protein_io import GAP_INDEX
from designer.domains import get_domain
from designer.domains.sequence.domain import SequenceDomain
from designer.domains.sequence.generate import read_for_run, read_sequence_strings
from designer.errors import DesignerError
from designer.metrics.protein import mean_pairwise_edit_distance
from designer.optimize.local import MutationSearch
from designer.report.results import command_line, device_info, fmt, write_results
from designer.resources import package_path
from designer.runs import Run, load_run, resolve

METHODS = ("designer", "latent_bo", "mutation_search", "hill_climb", "random_mutants")
TOP = 16


def default_oracle_path() -> Path:
    return package_path("data_files") / "oracles" / "gfp_cnn.pt"


def run(run: str | None = None, out: Path | None = None, seeds: str = "0,1,2", rounds: int = 4, q: int = 96,
        max_mutations: int = 6, methods: str = ",".join(METHODS), oracle: Path | None = None,
        train_oracle_epochs: int = 0, console: Console | None = None) -> Path:
    """Run every method for every seed; ``train_oracle_epochs > 0`` (re)trains the oracle first and
    saves it to ``oracle`` (default: the shipped one)."""
    console = console or Console(stderr=True)
    out = Path(out or "results/gfp_design.json")
    t0 = time.time()
    seed_list = parse_seeds(seeds)
    method_list = [m.strip() for m in str(methods).split(",") if m.strip()]
    unknown = sorted(set(method_list) - set(METHODS))
    if unknown or not method_list:
        raise DesignerError(f"--methods {','.join(unknown)}: use some of {','.join(METHODS)}")
    r = load_run(run or "gfp")
    if not isinstance(get_domain(r.config), SequenceDomain):
        raise DesignerError(f"{r.path}: a {r.config.domain} model; gfp-design needs a protein run trained on avGFP")
    mm = r.config.data.sequences.max_mutations
    if mm is None or mm > TRAIN_MAX_MUTATIONS or not r.config.data.properties:
        raise DesignerError(f"{r.path}: gfp-design starts from variants with <= 3 mutations and a brightness head; "
                            "train with data.sequences.max_mutations: 3 and data.properties: [medianBrightness]")
    prop = r.config.data.properties[0]

    console.print("reading avGFP")
    pset = read_for_run(r, _data_path(r), [prop])
    tokens, y = pset.tokens, pset.y[:, 0].numpy()
    labelled = np.isfinite(y)
    wt = r.model.plugin.reference.cpu().numpy()

    oracle_path = Path(oracle or default_oracle_path())
    if train_oracle_epochs > 0:
        console.print(f"training the oracle on {int(labelled.sum())} labelled variants ({train_oracle_epochs} epochs a member)")
        lab = train_oracle(tokens[labelled], y[labelled], epochs=train_oracle_epochs, log=console.print)
        lab.save(oracle_path)
    lab = Oracle.load(oracle_path)
    console.print(f"oracle: cross-validated Spearman {lab.meta['cv_spearman']:.3f} on {lab.meta['n']} variants")

    train = labelled & (pset.mutations.numpy() <= TRAIN_MAX_MUTATIONS) & (pset.mutations.numpy() >= 0)
    best_i = int(np.flatnonzero(train)[np.argmax(y[train])])
    x_best = tokens[best_i].numpy()
    (wt_oracle,), _ = lab.predict(wt[None])
    (best_oracle,), _ = lab.predict(x_best[None])
    known = {t.tobytes() for t in tokens[train].numpy()}

    ctx = _Context(r=r, lab=lab, wt=wt, x_best=x_best, rounds=rounds, q=q, max_mutations=max_mutations,
                   known=known, console=console, prop=prop)
    per_seed: dict[str, dict] = {}
    for seed in seed_list:
        per_seed[str(seed)] = {}
        for method in method_list:
            console.print(f"seed {seed}: {method}")
            t = time.time()
            designs = _METHOD_FNS[method](ctx, seed)
            per_seed[str(seed)][method] = {**_summary(ctx, designs, wt_oracle, best_oracle),
                                           "seconds": round(time.time() - t, 1)}

    res = {"benchmark": "gfp-design", "command": command_line(), "device": device_info(), "seeds": seed_list,
           "model": {"path": str(r.path), "name": r.config.name},
           "budget": {"rounds": rounds, "q": q, "lab_measurements": rounds * q, "max_mutations": max_mutations},
           "oracle": {"path": str(oracle_path), **lab.meta},
           "wild_type_oracle": float(wt_oracle), "best_training_oracle": float(best_oracle),
           "best_training_label": float(y[best_i]), "best_training_mutations": int(pset.mutations[best_i]),
           "protocol": " ".join(__doc__.split("\n\n", 1)[1].split()),
           "per_seed": per_seed}
    res["baselines"] = {}
    for method in method_list:
        agg = _aggregate([per_seed[str(s)][method] for s in seed_list])
        if method == "designer":
            res["designer"] = agg
        else:
            res["baselines"][method] = agg
    res["minutes"] = round((time.time() - t0) / 60, 1)
    write_results(out, res, _markdown(res))
    return out


# ----------------------------------------------------------------------------------------- methods


@dataclass
class _Context:
    """What every method shares: the model, the oracle (the lab), the wild type and the best training
    variant (``L`` tokens each), the budget and the mutation cap, and the training sequences (bytes)."""

    r: Run
    lab: Oracle
    wt: np.ndarray
    x_best: np.ndarray
    rounds: int
    q: int
    max_mutations: int
    known: set
    console: Console
    prop: str

    def allowed(self, x: np.ndarray) -> bool:
        return int((x != self.wt).sum()) <= self.max_mutations


def _designer(ctx: _Context, seed: int) -> np.ndarray:
    return _ask_tell(ctx, seed, refit_head=True, plausibility=None)


def _latent_bo(ctx: _Context, seed: int) -> np.ndarray:
    return _ask_tell(ctx, seed, refit_head=False, plausibility="none")


def _ask_tell(ctx: _Context, seed: int, refit_head: bool, plausibility: str | None) -> np.ndarray:
    """``designer propose`` / ``observe`` in a fresh run folder (a copy of the model), the oracle as the lab."""
    from designer.workflow.asktell import observe, propose

    work = Path(tempfile.mkdtemp(prefix="gfp-design-"))
    try:
        shutil.copyfile(resolve(ctx.r.path), work / "model.pt")
        cfg = ctx.r.config  # the design settings the model was shipped or trained with
        update = {"q": ctx.q, "refit_head": refit_head,
                  "constraints": cfg.design.constraints.model_copy(update={"max_mutations": ctx.max_mutations})}
        if plausibility is not None:
            update["plausibility"] = cfg.design.plausibility.model_copy(update={"mode": plausibility})
        cfg = cfg.model_copy(update={"design": cfg.design.model_copy(update=update)})
        designs = []
        for k in range(ctx.rounds):
            try:
                table, _ = propose(str(work), ctx.q, work / f"round{k + 1}", cfg=cfg, seed=seed, log=lambda *_: None)
            except DesignerError as exc:  # nothing new inside the constraints: the lab gets no batch this round
                ctx.console.print(f"  round {k + 1}: {exc}")
                continue
            with open(table, newline="") as f:
                rows = list(csv.DictReader(f))
            pset = read_sequence_strings(ctx.r, [row["sequence"] for row in rows], [row["id"] for row in rows])
            got = {rec.id: i for i, rec in enumerate(pset.records)}
            x = pset.tokens.numpy()
            values, _ = ctx.lab.predict(x)
            measured = work / f"measured{k + 1}.csv"
            with open(measured, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["id", ctx.prop])
                for row in rows:
                    if row["id"] in got:
                        w.writerow([row["id"], f"{values[got[row['id']]]:.6f}"])
            observe(str(work), measured, log=lambda *_: None)
            designs.append(x)
            ctx.console.print(f"  round {k + 1}: {len(x)} designs, best oracle {values.max():.3f}")
        return np.concatenate(designs) if designs else np.zeros((0, len(ctx.wt)), dtype=np.int64)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _mutants(ctx: _Context, x: np.ndarray, n: int, rng: np.random.Generator, sites: tuple[int, ...] = (1,),
             seen: set | None = None) -> list[np.ndarray]:
    """Up to ``n`` new random mutants of ``x`` (``sites`` substitutions each) within the cap, none seen before."""
    seen = set() if seen is None else seen
    out, tries = [], 0
    positions = np.flatnonzero(x != GAP_INDEX)
    while len(out) < n and tries < 50 * n:
        tries += 1
        y = x.copy()
        k = int(rng.choice(sites))
        for p in rng.choice(positions, size=k, replace=False):
            y[p] = int(rng.choice([a for a in range(20) if a != y[p]]))
        key = y.tobytes()
        if key in seen or not ctx.allowed(y):
            continue
        seen.add(key)
        out.append(y)
    return out


def _random_mutants(ctx: _Context, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack(_mutants(ctx, ctx.x_best, ctx.rounds * ctx.q, rng, sites=(1, 2), seen=set(ctx.known)))


def _hill_climb(ctx: _Context, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    seen = set(ctx.known)
    x, (fx,) = ctx.x_best, ctx.lab.predict(ctx.x_best[None])[0]
    designs = []
    for _ in range(ctx.rounds):
        batch = np.stack(_mutants(ctx, x, ctx.q, rng, seen=seen))
        v, _ = ctx.lab.predict(batch)
        designs.append(batch)
        if v.max() > fx:
            x, fx = batch[int(np.argmax(v))], float(v.max())
    return np.concatenate(designs)


def _mutation_search(ctx: _Context, seed: int) -> np.ndarray:
    (y0,), _ = ctx.lab.predict(ctx.x_best[None])
    mutable = ctx.x_best != GAP_INDEX
    search = MutationSearch(ctx.x_best, float(y0), num_states=20, mutable=mutable, reference=ctx.wt,
                            max_mutations=ctx.max_mutations, seed=seed)
    designs = []
    for _ in range(ctx.rounds):
        cands = search.ask(ctx.q)
        x = np.stack([c.x for c in cands])
        v, _ = ctx.lab.predict(x)
        search.tell(cands, v)
        designs.append(x)
    return np.concatenate(designs)


_METHOD_FNS = {"designer": _designer, "latent_bo": _latent_bo, "mutation_search": _mutation_search,
               "hill_climb": _hill_climb, "random_mutants": _random_mutants}


# ----------------------------------------------------------------------------------------- judging


def _summary(ctx: _Context, designs: np.ndarray, wt_oracle: float, best_oracle: float) -> dict:
    """One method's designs (``n x L`` tokens, in the order measured) as the lab sees them."""
    designs = np.asarray(designs)
    if not len(designs):
        return {"designs": 0}
    v, s = ctx.lab.predict(designs)
    subs = (designs != ctx.wt[None]).sum(1)
    order = np.argsort(-v)
    top = order[:TOP]
    strings = decode_tokens(designs[top], keep_gaps=False)
    flagged = s > ctx.lab.meta["spread_p95"]
    trusted = np.flatnonzero(~flagged)
    return {
        "designs": int(len(designs)),
        "unique": int(len({d.tobytes() for d in designs})),
        "best_oracle": float(v[order[0]]),
        "best_oracle_spread": float(s[order[0]]),
        "best_flagged": bool(flagged[order[0]]),
        "best_mutations": int(subs[order[0]]),
        "best_trusted_oracle": float(v[trusted].max()) if len(trusted) else None,
        "top16_mean_oracle": float(v[top].mean()),
        "top16_mean_spread": float(s[top].mean()),
        "top16_flagged": int(flagged[top].sum()),
        "top16_mean_mutations": float(subs[top].mean()),
        "top16_diversity": mean_pairwise_edit_distance(strings),
        "fraction_brighter_than_wild_type": float((v > wt_oracle).mean()),
        "fraction_brighter_than_best_training": float((v > best_oracle).mean()),
        "fraction_flagged": float(flagged.mean()),
        "mean_mutations": float(subs.mean()),
        "best_sequence": decode_tokens(designs[order[:1]], keep_gaps=False)[0],
    }


def _aggregate(rows: list[dict]) -> dict:
    """Mean and standard deviation over the seeds of every numeric value (seeds without designs count
    in ``designs`` only)."""
    out: dict = {"designs": float(np.mean([row["designs"] for row in rows]))}
    rows = [row for row in rows if row["designs"]] or rows
    for k in rows[0]:
        vals = [row.get(k) for row in rows]
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) and x is not None for x in vals):
            out[k] = float(np.mean(vals))
            out[f"{k}_std"] = float(np.std(vals))
    return out


def _markdown(res: dict) -> str:
    o = res["oracle"]
    lines = [
        "# gfp-design: designed avGFP variants judged by an independent oracle",
        "",
        f"Command: `{res['command']}`  ",
        f"Model: `{res['model']['path']}`; seeds {', '.join(map(str, res['seeds']))}; budget {res['budget']['rounds']} "
        f"rounds x {res['budget']['q']} lab measurements, designs within {res['budget']['max_mutations']} "
        f"substitutions of the wild type; {res['minutes']} min.",
        "",
        f"Oracle: {o['architecture']}, {o['folds']} members, {o['epochs']} epochs each, trained on all {o['n']:,} "
        f"labelled variants; cross-validated Spearman {fmt(o['cv_spearman'], 3)} (RMSE {fmt(o['cv_rmse'], 3)}). "
        f"A design is flagged where the members' spread exceeds {fmt(o['spread_p95'], 3)}, the 95th percentile "
        "of their spread on the labelled variants.",
        "",
        f"Wild type: oracle {fmt(res['wild_type_oracle'], 3)}. Best training variant (<= 3 mutations, label "
        f"{fmt(res['best_training_label'], 3)}, {res['best_training_mutations']} mutations): oracle "
        f"{fmt(res['best_training_oracle'], 3)}.",
        "",
        "| method | designs measured | best (oracle) | top-16 mean | top-16 substitutions | top-16 diversity | "
        "> wild type | > best training | flagged | best trusted |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = ([("designer", res["designer"])] if "designer" in res else []) + list(res["baselines"].items())
    for name, a in rows:
        def pm(k, d=3):
            return f"{fmt(a[k], d)} ± {fmt(a[k + '_std'], d)}" if k in a else "–"
        lines.append(f"| {name} | {fmt(a['designs'], 1)} of {res['budget']['lab_measurements']} | {pm('best_oracle')} | {pm('top16_mean_oracle')} | {pm('top16_mean_mutations', 1)} | "
                     f"{pm('top16_diversity', 1)} | {pm('fraction_brighter_than_wild_type', 2)} | "
                     f"{pm('fraction_brighter_than_best_training', 2)} | {pm('fraction_flagged', 2)} | "
                     f"{pm('best_trusted_oracle')} |")
    lines += ["", "Means ± standard deviations over the seeds; per-seed values in the JSON (`per_seed`). `designs "
              "measured`: the ask/tell methods stop a round short when its decodes are duplicates or break the "
              "mutation cap; `best trusted`: the best design the oracle's members agree on (not flagged).", "",
              "Protocol: " + res["protocol"], ""]
    return "\n".join(lines)
