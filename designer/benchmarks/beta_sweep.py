"""``designer benchmark beta-sweep --pipeline P``: the rate-distortion curve over beta.

Each beta trains a shortened run of the pipeline (``--epochs`` for every beta, capped by a
``--minutes`` wall-clock budget; same data,
seed and architecture; ``loss.beta`` overridden, the pipeline's schedule kept) into
``outputs/beta_sweep/<name>/beta_<b>/`` and is measured on the run's seeded holdout:
rate (KL nats/example), distortion (reconstruction loss at z ~ q(z|x)), active units and the
Spearman rho of the property head against the holdout labels, the diversity of 500 prior decodes,
plus ``designer analyze`` of each run
(total correlation, MIG, intervention score; ``<run>/analysis/``). A trained beta is not trained again
unless ``--force`` (it is measured again: cheap); the results file is rewritten after every beta,
so a sweep can run in pieces.

Collapse: the training-time rule (rate < ``loss.collapse.min_rate`` nats, default 2; optionally
fewer than ``loss.collapse.min_active_fraction`` x d active units). Recommendation: among betas that
did not collapse and whose prior decodes are still varied (at least a tenth of the sweep's best
diversity), the one with the best property Spearman (within 0.01 of the best, the largest beta:
a smoother, more organised latent for the optimiser at no cost to the head).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console

from designer.analysis.analyze import analyze
from designer.config import load_pipeline
from designer.domains import get_domain
from designer.errors import DesignerError
from designer.io.atomic import atomic_write_text
from designer.models.vae import is_collapsed
from designer.report.results import clean, command_line, device_info, fmt, write_results
from designer.runs import load_run
from designer.training.train import train

DEFAULT_BETAS = (0.001, 0.01, 0.1, 1.0, 4.0)


def parse_betas(text: str | None) -> list[float]:
    if not text:
        return list(DEFAULT_BETAS)
    try:
        betas = sorted({float(b) for b in text.split(",") if b.strip()})
    except ValueError:
        raise DesignerError(f"--betas {text!r}: expected comma-separated numbers, e.g. 0.01,0.1,1") from None
    if not betas or min(betas) < 0:
        raise DesignerError(f"--betas {text!r}: give at least one beta >= 0")
    return betas


PRIOR_SAMPLES = 500
MIN_DIVERSITY_SHARE = 0.1  # GFP at beta 0.1 kept the head's rho but decoded the wild type from every prior draw


def prior_diversity(run) -> float:
    """How different the decodes of ``PRIOR_SAMPLES`` seeded prior draws are (``Domain.prior_diversity``:
    crystals, distinct reduced formulas of the valid decodes per draw; sequences, distinct sequences per
    draw times their mean number of substitutions from the reference). A model whose prior decodes all
    look alike gives an optimiser nothing to choose from."""
    return get_domain(run).prior_diversity(run, PRIOR_SAMPLES)


def measure(run_dir: Path, beta: float) -> dict:
    """One sweep row from a trained run folder: ``designer analyze`` of its whole holdout (written to
    ``<run>/analysis/``) plus the diversity of its prior decodes."""
    run = load_run(run_dir)
    an = analyze(run_dir, out=run_dir / "analysis", n_max=10**9, console=Console(stderr=True, quiet=True))
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    c = run.config.loss.collapse
    rho = list(an["property_spearman"].values())
    return {
        "beta": beta, "rate": an["rate"], "distortion": an["distortion"], "active_units": an["active_units"],
        "total_correlation": an.get("total_correlation"), "mig": (an.get("mig") or {}).get("mig"),
        "intervention_score": (an.get("intervention") or {}).get("score"),
        "property_spearman": rho[0] if rho else None, "prior_diversity": prior_diversity(run),
        "latent_dim": an["latent_dim"],
        "collapsed": is_collapsed(an["rate"], an["active_units"], an["latent_dim"], c.min_rate, c.min_active_fraction),
        "distortion_terms": an["distortion_terms"], "kl_per_dim": [round(float(v), 4) for v in an["kl_per_dim"]],
        "holdout_rows": an["holdout_items"], "epochs": summary.get("epochs"), "train_minutes": summary.get("minutes"),
        "collapse_warning": summary.get("collapse_warning"), "run": str(run_dir),
    }


def recommend(rows: list[dict]) -> dict | None:
    """The beta to train with: not collapsed, prior decodes still varied (diversity at least
    ``MIN_DIVERSITY_SHARE`` of the sweep's most diverse run), and the best property head (within
    0.01 of the best: the larger beta, a smoother latent)."""
    alive = [r for r in rows if not r["collapsed"] and r.get("property_spearman") is not None]
    div = [r.get("prior_diversity") for r in alive if r.get("prior_diversity") is not None]
    if div:
        alive = [r for r in alive if (r.get("prior_diversity") or 0.0) >= MIN_DIVERSITY_SHARE * max(div)]
    if not alive:
        return None
    best = max(r["property_spearman"] for r in alive)
    return max((r for r in alive if r["property_spearman"] >= best - 0.01), key=lambda r: r["beta"])


def collapse_onset(rows: list[dict]) -> float | None:
    """The smallest beta from which every larger beta collapsed too."""
    onset = None
    for r in sorted(rows, key=lambda r: -r["beta"]):
        if not r["collapsed"]:
            break
        onset = r["beta"]
    return onset


def plot(rows: list[dict], name: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["beta"])
    rec = recommend(rows)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    a.plot([r["rate"] for r in rows], [r["distortion"] for r in rows], "-", color="0.6", zorder=1)
    for r in rows:
        style = dict(marker="x", color="tab:red", s=70) if r["collapsed"] else dict(marker="o", color="tab:blue", s=40)
        a.scatter(r["rate"], r["distortion"], zorder=2, **style)
        a.annotate(f"β={r['beta']:g}", (r["rate"], r["distortion"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    if rec:
        a.scatter(rec["rate"], rec["distortion"], marker="*", s=260, facecolors="none", edgecolors="tab:green",
                  linewidths=1.5, zorder=3, label=f"recommended β={rec['beta']:g}")
        a.legend(fontsize=8)
    a.set_xscale("symlog", linthresh=1.0)
    a.set_xlabel("rate R = E KL(q(z|x) || p(z))  [nats]")
    a.set_ylabel("distortion D (holdout reconstruction loss)")
    a.set_title(f"{name}: rate-distortion (red x = collapsed)")
    betas = [max(r["beta"], 1e-4) for r in rows]
    b.plot(betas, [r["active_units"] for r in rows], "o-", color="tab:purple", label="active units")
    b.set_xscale("log")
    b.set_xlabel("β")
    b.set_ylabel("active units", color="tab:purple")
    onset = collapse_onset(rows)
    if onset is not None:
        b.axvline(max(onset, 1e-4), color="tab:red", ls="--", lw=1, label=f"collapse from β={onset:g}")
    b2 = b.twinx()
    b2.plot(betas, [r["property_spearman"] if r["property_spearman"] is not None else float("nan") for r in rows],
            "s-", color="tab:orange", label="property Spearman")
    b2.set_ylabel("head Spearman ρ (holdout)", color="tab:orange")
    b.legend(loc="lower left", fontsize=8)
    b.set_title("active units and property head vs β")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def markdown(name: str, rows: list[dict], meta: dict) -> str:
    rec, onset = recommend(rows), collapse_onset(rows)
    lines = [f"# β rate-distortion sweep: {name}", "", f"Command: `{meta['command']}`", "",
             f"Each β: a shortened run of `{meta['pipeline']}` ("
             + (f"{meta['epochs']} epochs, " if meta.get("epochs") else "")
             + f"{meta['minutes']} min wall-clock cap on "
             f"{meta['device']['cpu_cores']} CPU cores, {meta['device']['cpu']}), measured on the seeded holdout "
             "(rate: KL nats per example; distortion: the model's reconstruction loss at z ~ q(z|x); active: "
             "Cov_x E[z_j|x] > 0.01; ρ: Spearman of the property head against the holdout labels; TC, MIG and "
             "the intervention score from `designer analyze` on each run, over its active units — "
             "`<run>/analysis/`).", "",
             "| β | rate (nats) | distortion | active units | property ρ | prior diversity | TC (nats) | MIG | "
             "intervention | epochs | collapsed |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["beta"]):
        lines.append(f"| {r['beta']:g} | {fmt(r['rate'], 2)} | {fmt(r['distortion'], 3)} | {r['active_units']}/"
                     f"{r['latent_dim']} | {fmt(r['property_spearman'], 3)} | {fmt(r.get('prior_diversity'), 3)} | "
                     f"{fmt(r.get('total_correlation'), 2)} | "
                     f"{fmt(r.get('mig'), 3)} | {fmt(r.get('intervention_score'), 3)} | {r.get('epochs')} | "
                     f"{'yes' if r['collapsed'] else 'no'} |")
    lines += ["", f"Collapse begins at β = {onset:g}." if onset is not None else "No β in the sweep collapsed.",
              (f"Recommended: **β = {rec['beta']:g}** (ρ = {rec['property_spearman']:.3f}, "
               f"{rec['active_units']} active units, prior diversity {fmt(rec.get('prior_diversity'), 3)}): the best "
               "property head among the betas that did not collapse and whose prior decodes stay varied (at least "
               "a tenth of the sweep's best diversity; within 0.01 of the best ρ, the larger β)." if rec else
               "No β is recommended (every run collapsed, lost its diversity or had no property head)."),
              "Prior diversity (crystals: distinct formulas of the valid decodes per prior draw, 500 draws; "
              "proteins: distinct decodes per draw x their mean substitutions from the reference) tells whether the latent still feeds an optimiser "
              "varied candidates: a β can keep the head's ρ while its decodes all look alike.",
              "", f"Plot: `{meta['plot']}`.", ""]
    return "\n".join(lines)


def run(pipeline: str | None = None, betas: str | None = None, minutes: float = 20.0, force: bool = False,
        out: Path | None = None, console: Console | None = None, threads: int | None = None,
        epochs: int | None = None) -> Path:
    if not pipeline:
        raise DesignerError("beta-sweep needs --pipeline PIPELINE.yaml (e.g. pipelines/perov5.yaml)")
    console = console or Console(stderr=True)
    beta_list = parse_betas(betas)
    cfg0, _ = load_pipeline(pipeline)
    name = cfg0.name
    out = Path(out) if out else Path("results") / f"beta_sweep_{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    base = Path(cfg0.design.output) / "beta_sweep" / name
    rows: list[dict] = []
    if out.exists() and not force:
        try:
            rows = list(json.loads(out.read_text()))
        except (json.JSONDecodeError, TypeError):
            rows = []
    done = {r["beta"]: r for r in rows}
    meta = {"command": command_line(), "pipeline": str(pipeline), "minutes": minutes, "epochs": epochs,
            "device": device_info(),
            "plot": str(out.with_suffix(".png"))}
    for beta in beta_list:
        run_dir = base / f"beta_{beta:g}"
        trained = (run_dir / "model.pt").exists() and not force
        if beta in done and not force and not trained:
            console.print(f"β={beta:g}: reusing the results of {done[beta].get('run')} (its run folder is gone)")
            continue
        if trained:
            console.print(f"β={beta:g}: reusing the trained run {run_dir} (measured again)")
        else:
            overrides = [f"loss.beta={beta}", f"train.max_minutes={minutes}"]
            if epochs:  # the same number of epochs for every beta (fair when the machine is shared)
                overrides.append(f"train.epochs={epochs}")
            if threads:
                overrides.append(f"train.threads={threads}")
            cfg, _ = load_pipeline(pipeline, overrides)
            console.print(f"β={beta:g}: training -> {run_dir}")
            t = time.time()
            train(cfg, run_dir, progress=False,
                  notify=lambda msg, b=beta: console.print(f"[yellow]β={b:g} warning:[/] {msg}"))
            console.print(f"β={beta:g}: trained in {(time.time() - t) / 60:.1f} min")
        row = measure(run_dir, beta)
        done[beta] = row
        rows = sorted(done.values(), key=lambda r: r["beta"])
        console.print(f"β={beta:g}: rate {row['rate']:.2f} nats, distortion {row['distortion']:.3f}, "
                      f"active {row['active_units']}/{row['latent_dim']}, ρ {fmt(row['property_spearman'], 3)}")
        _write(out, rows, name, meta)
    rows = sorted(done.values(), key=lambda r: r["beta"])
    _write(out, rows, name, meta)
    return out


def _write(out: Path, rows: list[dict], name: str, meta: dict) -> None:
    plot(rows, name, out.with_suffix(".png"))
    write_results(out, rows, markdown(name, rows, meta))
    rec, onset = recommend(rows), collapse_onset(rows)
    atomic_write_text(out.with_name(out.stem + "_meta.json"), json.dumps(clean({
        **meta, "recommended_beta": rec["beta"] if rec else None, "collapse_onset_beta": onset}), indent=2) + "\n")
