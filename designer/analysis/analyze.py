"""``designer analyze RUN``: KL per dimension, active units, disentanglement, traversals, prototype, interpolation.

Everything is measured on the run's seeded holdout (at most ``n_max`` items, seeded subsample)
and written to ``RUN/analysis/`` (a shipped model: ``outputs/<name>_analysis/``): ``analysis.json``,
``analysis.md``, PNG plots, the prototype (decode of z = 0) as CIF or FASTA and the traversal
and interpolation tables as CSV.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from designer.analysis import disentanglement as dis
from designer.analysis import plots
from designer.analysis.rate_distortion import latent_stats, run_items
from designer.domains import get_domain
from designer.io.atomic import atomic_write_text
from designer.io.crystal_files import write_table
from designer.report.results import clean, fmt
from designer.runs import Run, load_run

TRAVERSAL_DIMS = 6
TRAVERSAL_STEPS = 9
INTERPOLATION_STEPS = 11


# --------------------------------------------------------------------------- data


def _holdout(run: Run, n_max: int, seed: int):
    """``(domain name, items, raw)`` of the run's holdout (at most ``n_max``, seeded): dataset items and the
    domain's plain objects of them (structures, token tensors)."""
    domain, items = run_items(run, "holdout")
    idx = np.arange(len(items))
    if len(idx) > n_max:
        idx = np.sort(np.random.default_rng(seed).choice(len(idx), n_max, replace=False))
        items = [items[i] for i in idx]
    return domain, items, get_domain(domain).analysis_raw(run, items)


# --------------------------------------------------------------------------- decoding helpers


def _decode_rows(run: Run, z: torch.Tensor) -> list[dict]:
    """One row per latent: what a user reads off a decode (formula, lattice constant / sequence, property)."""
    return get_domain(run).decode_rows(run, z)


def _traversals(run: Run, mu: torch.Tensor, dims: list[int]) -> list[dict]:
    """Decode along each of ``dims`` from the holdout's mean latent, over its 2nd..98th percentile
    (one batched decode)."""
    zs, meta = [], []
    for j in dims:
        lo, hi = np.quantile(mu[:, j].numpy(), [0.02, 0.98])
        ts = np.linspace(lo, hi, TRAVERSAL_STEPS)
        z = mu.mean(0).repeat(len(ts), 1)
        z[:, j] = torch.as_tensor(ts, dtype=z.dtype)
        zs.append(z)
        meta += [(j, float(t)) for t in ts]
    rows = _decode_rows(run, torch.cat(zs)) if zs else []
    return [{"dim": j, "value": t, **row} for (j, t), row in zip(meta, rows)]


def _between_latents(run: Run, between: tuple[str, str] | None):
    """``(z_a, z_b)`` of the two user inputs (CIF paths, or sequences / FASTA paths), or None."""
    if between is None:
        return None
    domain = get_domain(run)
    space = domain.latent_space(run)
    return tuple(domain.item_latent(run, space, item, "--between")[0] for item in between)


def _interpolation(run: Run, mu: torch.Tensor, y: np.ndarray, between: tuple[str, str] | None = None,
                   given=None) -> tuple[list[dict], tuple]:
    """Decode along the straight line between two inputs: ``between`` (their latents ``given``), else
    the holdout items with the lowest and highest first label."""
    if given is not None:
        za, zb = given
        ends: tuple = tuple(between)
    else:
        lab = np.flatnonzero(np.isfinite(y[:, 0])) if y.size else np.zeros(0, int)
        if len(lab) >= 2 and np.ptp(y[lab, 0]) > 0:
            a, b = int(lab[np.argmin(y[lab, 0])]), int(lab[np.argmax(y[lab, 0])])
            ends = (f"holdout item {a} (lowest label)", f"holdout item {b} (highest label)")
        else:  # no labels to order by
            a, b = 0, min(1, len(mu) - 1)
            ends = (f"holdout item {a}", f"holdout item {b}")
        za, zb = mu[a], mu[b]
    alphas = np.linspace(0, 1, INTERPOLATION_STEPS)
    z = torch.stack([(1 - t) * za.float() + t * zb.float() for t in alphas])
    return [{"alpha": float(t), **row} for t, row in zip(alphas, _decode_rows(run, z))], ends


# --------------------------------------------------------------------------- main


def analyze(run_ref: str | Path, out: Path | None = None, n_max: int = 2000, seed: int = 0,
            console: Console | None = None, between: tuple[str, str] | None = None, one_shot: bool = False) -> dict:
    """Measure and plot the run's latent space; returns the headline numbers (also in ``analysis.json``).

    ``one_shot``: decode traversals and prototypes without the refinement stage."""
    console = console or Console(stderr=True)
    run = load_run(run_ref, one_shot=one_shot)
    given = _between_latents(run, between)  # bad inputs fail before any work
    out = Path(out) if out else (run.path.parent / "analysis" if run.path.name == "model.pt"
                                 else Path(run.config.design.output) / f"{run.config.name}_analysis")
    out.mkdir(parents=True, exist_ok=True)
    domain, items, raw = _holdout(run, n_max, seed)
    console.print(f"analysing {run.path} on {len(items)} holdout items -> {out}")
    st = latent_stats(run.model, items, domain, seed=seed)
    kl = st.kl_per_dim
    active = st.active
    act_idx = [int(j) for j in np.flatnonzero(active)]
    names = list(run.config.data.properties)
    mu = st.mu

    fnames, F = get_domain(domain).factors(run, raw, st.y, names)

    varying = [k for k in range(F.shape[1]) if len(np.unique(F[np.isfinite(F[:, k]), k])) > 1]
    fnames, F = [fnames[k] for k in varying], F[:, varying]  # a constant factor (e.g. 5 atoms in every cell) says nothing
    codes = mu.numpy()
    gen = torch.Generator().manual_seed(seed)
    results: dict = {
        "run": str(run.path), "name": run.config.name, "domain": domain, "holdout_items": len(items),
        "beta": run.config.loss.beta, "latent_dim": int(mu.shape[1]),
        "rate": st.rate, "distortion": st.distortion, "distortion_terms": st.distortion_terms,
        "active_units": len(act_idx), "active_unit_dims": act_idx,
        "kl_per_dim": [round(float(v), 5) for v in kl],
        "property_spearman": dict(zip(names, st.property_spearman())),
        "total_correlation": (dis.total_correlation_mws(mu, st.logvar, len(items), dims=act_idx, generator=gen)
                              if len(act_idx) >= 2 else None),
        "factors": fnames,
    }
    if len(act_idx) >= 2:  # with one active unit MIG is undefined and every change is "concentrated"
        results["mig"] = dis.mutual_information_gap(codes[:, act_idx], F)
        results["mig"]["top_dim"] = [act_idx[j] if j is not None else None for j in results["mig"]["top_dim"]]
        results["mig"]["factors"] = fnames
        delta, intervention_factor = get_domain(domain).intervention(run, raw, mu, seed)
        results["intervention"] = {"factor": intervention_factor, **dis.intervention_score(delta, dims=act_idx)}
        corr = dis.factor_correlations(codes, F, fnames, dims=act_idx)
        results["correlations"] = corr
        results["best_dim_per_factor"] = dis.best_dim_per_factor(corr)
    else:
        results.update(mig=None, intervention=None, correlations=[], best_dim_per_factor={})

    # traversals, prototype, interpolation
    order = sorted(act_idx or range(mu.shape[1]), key=lambda j: -kl[j])[:TRAVERSAL_DIMS]
    trav = _traversals(run, mu, order)
    proto = _decode_rows(run, torch.zeros(1, mu.shape[1]))[0]
    interp, ends = _interpolation(run, mu, st.y, between, given)
    results["traversal_dims"] = order
    results["prototype"] = get_domain(domain).prototype(run, proto, out)
    results["interpolation_ends"] = list(ends)
    _write_table(out / "traversals.csv", trav)
    _write_table(out / "interpolation.csv", interp)

    plots.kl_bars(kl, active, out / "kl_per_dim.png", run.config.name)
    get_domain(domain).plot_traversals(trav, order, names, out / "traversals.png")
    get_domain(domain).plot_interpolation(interp, names, out / "interpolation.png")
    if results["correlations"]:
        plots.correlations(results["correlations"], sorted(act_idx, key=lambda j: -kl[j])[:16], fnames,
                           out / "correlations.png")
    written = ["analysis.json", "analysis.md", "kl_per_dim.png", "traversals.png", "traversals.csv", "interpolation.png",
               "interpolation.csv", *(["correlations.png"] if results["correlations"] else []),
               *([results["prototype"]["file"]] if results["prototype"].get("file") else [])]
    results["files"] = written
    results = clean(results)
    atomic_write_text(out / "analysis.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(out / "analysis.md", markdown(results, trav, interp, get_domain(domain)))
    results["out"] = str(out)
    return results


def _write_table(path: Path, rows: list[dict]) -> None:
    """CSV of decode rows (the structures and per-position probabilities left out)."""
    write_table([{k: (f"{v:.5g}" if isinstance(v, float) else v) for k, v in r.items()
                  if k not in ("structure", "mutation_prob")} for r in rows], path)


def markdown(r: dict, trav: list[dict], interp: list[dict], domain) -> str:
    """``analysis.md``; ``domain`` (a ``Domain``) words the traversal and interpolation lines."""
    mig, iv = r.get("mig") or {}, r.get("intervention") or {}
    lines = [f"# Latent analysis: {r['name']}", "", f"Run: `{r['run']}`; {r['holdout_items']} holdout items; β = {r['beta']}.", "",
             "| measure | value |", "|---|---|",
             f"| rate (KL, nats/item) | {fmt(r['rate'], 2)} |", f"| distortion | {fmt(r['distortion'], 3)} |",
             f"| active units (Cov E[z_j|x] > 0.01) | {r['active_units']}/{r['latent_dim']} |",
             f"| total correlation (MWS, active dims, nats) | {fmt(r.get('total_correlation'), 3)} |",
             f"| MIG (known factors, active dims) | {fmt(mig.get('mig'), 3)} |",
             f"| intervention score ({iv.get('factor', '–')}) | {fmt(iv.get('score'), 3)} |"]
    for n, v in (r.get("property_spearman") or {}).items():
        lines.append(f"| head Spearman ρ, {n} | {fmt(v, 3)} |")
    lines += ["", "KL per dimension: `kl_per_dim.png`. Correlations of the (at most 16 highest-KL) active dimensions "
              "with the known factors: `correlations.png`.", "", "## Dimension that carries each known factor", "",
              "| factor | dim (|ρ|) | MIG gap |", "|---|---|---|"]
    gaps = dict(zip(mig.get("factors", []), mig.get("per_factor", [])))
    for f, b in (r.get("best_dim_per_factor") or {}).items():
        lines.append(f"| {f} | z{b['dim']} ({abs(b['spearman']):.2f}) | {fmt(gaps.get(f), 3)} |")
    lines += ["", "## Prototype (decode of z = 0)", "", "```", json.dumps(r.get("prototype"), indent=1), "```", "",
              "## Traversals (`traversals.png`, `traversals.csv`)", ""]
    for j in r.get("traversal_dims", []):
        lines.append(domain.traversal_summary(j, [t for t in trav if t["dim"] == j]))
    a, b = r["interpolation_ends"]
    lines += ["", f"## Interpolation from {a} to {b} (`interpolation.png`, `interpolation.csv`)", ""]
    for t in interp:
        pred = next((v for k, v in t.items() if k.startswith("pred_")), None)
        what = domain.interpolation_summary(t, interp)
        lines.append(f"- α = {t['alpha']:.1f}: {what}, predicted {fmt(pred, 3)}")
    return "\n".join(lines) + "\n"
