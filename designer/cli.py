"""The ``designer`` command line: one verb per user task.

Every user-facing error (bad file, bad config, unknown element ...) is printed as one line on
stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from designer.errors import DesignerError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Inverse design of crystals and proteins: train a beta-VAE, sample, reconstruct, benchmark.")
console = Console(stderr=True)
out_console = Console()


def progress_bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    import logging

    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)


@app.command()
def train(
    pipeline: Path = typer.Argument(..., help="pipeline YAML file (see pipelines/)"),
    set_: list[str] = typer.Option([], "--set", help="override a value: --set train.epochs=50 (repeatable)"),
    seed: Optional[int] = typer.Option(None, help="random seed (overrides the pipeline's seed)"),
    init_from: Optional[str] = typer.Option(None, "--init-from", help="fine-tune from a run folder, model file or shipped model name"),
    out: Optional[Path] = typer.Option(None, help="run folder (default: runs/<name>)"),
    resume: bool = typer.Option(False, help="resume from the run folder's last Lightning checkpoint"),
):
    """Train the pipeline's beta-VAE (holdout-selected), writing a run folder with model.pt."""
    from designer.config import load_pipeline
    from designer.training.train import train as run_train

    overrides = list(set_) + ([f"seed={seed}"] if seed is not None else [])
    cfg, _ = load_pipeline(pipeline, overrides)
    run_dir = out or Path("runs") / cfg.name
    console.print(f"training [bold]{cfg.name}[/] -> {run_dir}")
    model_path = run_train(cfg, run_dir, init_from=init_from, resume=resume, progress=sys.stderr.isatty(),
                           notify=lambda msg: console.print(f"[yellow]warning:[/] {msg}"))
    import json

    summary = json.loads((run_dir / "summary.json").read_text())
    out_console.print(f"model: {model_path}  (epochs {summary['epochs']}, {summary['minutes']} min, "
                      f"active latent units {summary['active_units']}/{summary['latent_dim']})")
    kl = summary.get("holdout_kl_per_dim") or []
    if kl:
        top = sorted(range(len(kl)), key=lambda j: -kl[j])[:8]
        out_console.print(f"holdout rate {summary['holdout_rate_nats']:.2f} nats; KL per dim (largest): "
                          + ", ".join(f"z{j} {kl[j]:.2f}" for j in top) + f"  (all: {run_dir / 'summary.json'})")
    if summary.get("collapse_warning"):
        console.print(f"[yellow]warning:[/] {summary['collapse_warning']}")


@app.command()
def sample(
    run: str = typer.Argument(..., help="run folder, model file, or shipped model name (e.g. perov5)"),
    n: int = typer.Option(100, "-n", "--num", min=1, help="number of samples"),
    out: Path = typer.Option(..., "--out", help="output folder for CIFs and samples.csv"),
    seed: int = typer.Option(0, help="random seed of the prior draws"),
    temperature: float = typer.Option(1.0, min=0.0, help="scale of the prior N(0, t^2 I)"),
    raw_decode: bool = typer.Option(False, "--raw-decode", help="crystals: each slot's most likely element (no charge-neutral "
                                    "re-ranking); proteins: allow gaps where the training alignment has none"),
):
    """Draw latents from the prior and decode them: one CIF each (crystals) or samples.fasta (proteins), plus samples.csv."""
    from designer.runs import load_run

    r = load_run(run)
    if r.config.domain == "protein":
        return _sample_proteins(r, n, out, seed, temperature, raw_decode)
    from designer.generate import sample as run_sample
    from designer.io.crystal_files import write_cif, write_table
    from designer.metrics import composition_validity, structure_validity

    with progress_bar() as bar:
        task = bar.add_task("decoding", total=n)
        dec = run_sample(r, n, seed=seed, temperature=temperature, on_batch=lambda k: bar.advance(task, k),
                         charge_neutral=not raw_decode)
        rows = []
        task = bar.add_task("writing CIFs", total=n)
        width = len(str(n - 1))
        for i, s in enumerate(dec.structures):
            sid = f"sample_{i:0{width}d}"
            row = {"id": sid}
            if s is not None:
                write_cif(s, out / f"{sid}.cif")
                row.update(file=f"{sid}.cif", formula=s.composition.reduced_formula, num_atoms=len(s),
                           volume=round(s.volume, 4), density=round(s.density, 4),
                           struct_valid=structure_validity(s), comp_valid=composition_validity(s))
            else:
                row.update(file="", struct_valid=False, comp_valid=False)
            for j, p in enumerate(r.config.data.properties):
                row[f"pred_{p}"] = round(float(dec.properties[i, j]), 5)
            rows.append(row)
            bar.advance(task)
    write_table(rows, out / "samples.csv")
    valid = sum(bool(x.get("struct_valid")) and bool(x.get("comp_valid")) for x in rows)
    out_console.print(f"{n} samples -> {out} ({valid} valid); table: {out / 'samples.csv'}")


@app.command()
def reconstruct(
    run: str = typer.Argument(..., help="run folder, model file, or shipped model name"),
    data: Path = typer.Option(..., "--data", help="inputs: crystals as CSV (cif column), CIF folder or CIF file; "
                              "proteins as FASTA, A3M, CSV (sequence column) or mutation table"),
    out: Path = typer.Option(..., "--out", help="output folder: one CIF per input named by its id (proteins: reconstruct.fasta), plus reconstruct.csv"),
    raw_decode: bool = typer.Option(False, "--raw-decode", help="crystals: no charge-neutral re-ranking; proteins: allow gaps anywhere"),
):
    """Encode each input (posterior mean), decode once, and compare with the input."""
    from designer.runs import load_run

    r = load_run(run)
    if r.config.domain == "protein":
        return _reconstruct_proteins(r, data, out, raw_decode)
    from designer.generate import read_for_run, reconstruct as run_reconstruct
    from designer.io.crystal_files import safe_name, write_cif, write_table
    from designer.metrics import match_structures

    records, graphs = read_for_run(r, data)
    dec = run_reconstruct(r, graphs, charge_neutral=not raw_decode)
    rows = []
    with progress_bar() as bar:
        task = bar.add_task("matching + writing", total=len(records))
        for rec, s in zip(records, dec.structures):
            name = safe_name(rec.id)
            true = rec.to_structure()
            rms = match_structures(s, true)
            row = {"id": rec.id, "file": f"{name}.cif" if s is not None else "",
                   "formula_in": true.composition.reduced_formula,
                   "formula_out": s.composition.reduced_formula if s is not None else "",
                   "match": rms is not None, "rms_dist": None if rms is None else round(rms, 5)}
            if s is not None:
                write_cif(s, out / f"{name}.cif")
            rows.append(row)
            bar.advance(task)
    write_table(rows, out / "reconstruct.csv")
    matched = sum(r_["match"] for r_ in rows)
    out_console.print(f"{len(rows)} reconstructed -> {out} ({matched} match their input); table: {out / 'reconstruct.csv'}")


def _protein_scores(r, dec, i: int, mc: bool) -> dict:
    scores = {}
    for j, p in enumerate(r.config.data.properties):
        scores[f"pred_{p}"] = round(float(dec.properties[i, j]), 5)
        if mc:
            scores[f"pred_{p}_std"] = round(float(dec.property_std[i, j]), 5)
    return scores


def _sample_proteins(r, n: int, out: Path, seed: int, temperature: float, raw_decode: bool) -> None:
    from designer.data.protein_dataset import describe_mutations
    from designer.generate_protein import reference_sequence, sample as run_sample
    from designer.io.crystal_files import write_table
    from designer.io.sequence_files import write_fasta
    from designer.metrics.protein import edit_distances, sequence_validity

    with progress_bar() as bar:
        task = bar.add_task("decoding", total=n)
        dec = run_sample(r, n, seed=seed, temperature=temperature, constrained=not raw_decode, mc_samples=20,
                         on_batch=lambda k: bar.advance(task, k))
    seqs = dec.sequences()
    ref_tokens = r.model.plugin.reference.numpy()
    valid = sequence_validity(dec.tokens.numpy(), r.model.plugin.gap_allowed.numpy())
    dist = edit_distances(seqs, reference_sequence(r))
    base = r.config.data.sequences.index_base if r.config.data.sequences.index_base is not None else 1
    width = len(str(n - 1))
    rows, entries = [], []
    for i, seq in enumerate(seqs):
        sid = f"sample_{i:0{width}d}"
        scores = {"valid": bool(valid[i]), "edit_distance_to_reference": int(dist[i]), **_protein_scores(r, dec, i, True)}
        rows.append({"id": sid, "sequence": seq, "length": len(seq), **scores,
                     "mutations": describe_mutations(dec.tokens[i].numpy(), ref_tokens, base)})
        entries.append((sid, seq, scores))
    write_fasta(entries, out / "samples.fasta")
    write_table(rows, out / "samples.csv")
    out_console.print(f"{n} samples -> {out / 'samples.fasta'} ({int(valid.sum())} valid, mean edit distance to the "
                      f"reference {dist.mean():.1f}); table: {out / 'samples.csv'}")


def _reconstruct_proteins(r, data: Path, out: Path, raw_decode: bool) -> None:
    from designer.generate_protein import read_for_run, reconstruct as run_reconstruct
    from designer.io.crystal_files import write_table
    from designer.io.sequence_files import write_fasta
    from designer.metrics.protein import residue_accuracy

    pset = read_for_run(r, data, properties=[])
    console.print(pset.report.summary())
    dec = run_reconstruct(r, pset.tokens, constrained=not raw_decode)
    true, pred = pset.tokens.numpy(), dec.tokens.numpy()
    outs = dec.sequences()
    rows, entries = [], []
    for i, rec in enumerate(pset.records):
        acc = residue_accuracy(pred[i:i + 1], true[i:i + 1])
        scores = {"identity": round(acc, 4), "exact": bool((pred[i] == true[i]).all()), **_protein_scores(r, dec, i, False)}
        rows.append({"id": rec.id, "input": rec.sequence.replace("-", ""), "output": outs[i], **scores})
        entries.append((rec.id, outs[i], scores))
    write_fasta(entries, out / "reconstruct.fasta")
    write_table(rows, out / "reconstruct.csv")
    exact = sum(r_["exact"] for r_ in rows)
    out_console.print(f"{len(rows)} reconstructed -> {out / 'reconstruct.fasta'} ({exact} exactly, mean identity "
                      f"{np.mean([r_['identity'] for r_ in rows]):.3f}); table: {out / 'reconstruct.csv'}")


@app.command()
def design(
    pipeline: Path = typer.Argument(..., help="pipeline YAML file (its design: section sets the objective, rounds, constraints)"),
    set_: list[str] = typer.Option([], "--set", help="override a value: --set design.rounds=2 (repeatable)"),
    run: Optional[str] = typer.Option(None, "--run", help="model to use (default: runs/<name>, else the shipped model, else train one)"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: <design.output>/<name>_design)"),
    seed: Optional[int] = typer.Option(None, help="random seed of the optimiser (default: the pipeline's seed)"),
):
    """Optimise in latent space toward a better property, decode, check, and export ranked candidates."""
    from designer.config import load_pipeline
    from designer.design.run import design as run_design

    cfg, _ = load_pipeline(pipeline, list(set_))
    res = run_design(cfg, run=run, out=out, seed=seed, log=lambda m: console.print(m, highlight=False),
                     progress=sys.stderr.isatty())
    best = res.summary.get("best_candidate_objective")
    out_console.print(f"{len(res.proposals)} candidates -> {res.out} (ranked table: {res.table}; best objective "
                      f"{best if best is None else round(best, 4)} vs best known {res.summary['best_known_objective']:.4g}; "
                      f"{res.summary['minutes']} min)")


@app.command()
def propose(
    run: str = typer.Argument(..., help="run folder (state kept in RUN/design/), or a shipped model name (state in runs/<name>/design/)"),
    q: int = typer.Option(16, "-q", min=1, help="batch size: candidates to make for the lab"),
    out: Path = typer.Option(..., "--out", help="folder for the batch: CIFs or candidates.fasta, candidates.csv"),
    pipeline: Optional[Path] = typer.Option(None, "--pipeline", help="take the design: section (objective, constraints) from this pipeline file"),
    set_: list[str] = typer.Option([], "--set", help="override a pipeline value, e.g. --set design.objective.direction=minimize"),
    seed: Optional[int] = typer.Option(None, help="random seed of the optimiser"),
    refit_head: bool = typer.Option(False, "--refit-head", help="fine-tune the property head on the measurements first (kept in RUN/design/head.pt)"),
):
    """Ask: propose the next batch (fitted on the lab's measurements once there are two or more)."""
    from designer.design.asktell import propose as run_propose

    cfg = None
    if pipeline is not None:
        from designer.config import load_pipeline

        cfg, _ = load_pipeline(pipeline, list(set_))
    elif set_:
        from designer.config import apply_overrides, validate
        from designer.runs import load_run

        base = load_run(run).config.model_dump(mode="json")
        cfg = validate(apply_overrides(base, list(set_)), "--set")
    if refit_head:
        from designer.runs import load_run

        base = cfg or load_run(run).config
        cfg = base.model_copy(update={"design": base.design.model_copy(update={"refit_head": True})})
    table, n = run_propose(run, q, out, cfg=cfg, seed=seed, log=lambda m: console.print(m, highlight=False))
    out_console.print(f"{n} candidates -> {out} (table: {table})")


@app.command()
def observe(
    run: str = typer.Argument(..., help="the run folder (or shipped model name) the batch was proposed from"),
    measurements: Path = typer.Argument(..., help="CSV: id, one column per measured property (named as in the pipeline), optionally cif or sequence"),
):
    """Tell: record the lab's measurements; the next propose refits on them."""
    from designer.design.asktell import observe as run_observe

    run_observe(run, measurements, log=lambda m: out_console.print(m, highlight=False))


@app.command()
def score(
    files: list[Path] = typer.Argument(..., help="CIF files, FASTA files, or folders of them (anyone's)"),
    run: Optional[str] = typer.Option(None, "--run", help="run folder / model file / shipped name: adds plausibility, predictions, likelihood, novelty"),
    out: Path = typer.Option(Path("scores"), "--out", help="output folder (scores.csv; symmetrised and P1 CIFs)"),
    relax_top: int = typer.Option(0, "--relax-top", min=0, help="crystals: relax the first N readable structures with CHGNet"),
    relax_steps: int = typer.Option(200, "--relax-steps", min=1, help="crystals: at most this many relaxation steps each"),
    no_energy: bool = typer.Option(False, "--no-energy", help="crystals: skip CHGNet (geometry, charge balance, symmetry only)"),
):
    """Score any CIF/FASTA files for synthesis: every file gets a row, broken ones with their reason."""
    from rich.table import Table

    from designer.scoring.score_files import score_files

    res = score_files(files, out, run=run, relax_top=relax_top, relax_steps=relax_steps, energies=not no_energy,
                      log=lambda m: console.print(m, highlight=False))
    cols = (["id", "formula", "geometry_ok", "charge_neutral", "e_above_hull", "novel", "reasons"]
            if res.domain == "crystal" else ["id", "length", "num_liabilities", "elbo_percentile", "reasons"])
    t = Table(*cols, title=f"{len(res.rows)} scored")
    for row in res.rows[:40]:
        t.add_row(*[_cell(row.get(c)) for c in cols])
    out_console.print(t)
    if len(res.rows) > 40:
        out_console.print(f"... {len(res.rows) - 40} more in the table")
    for note in res.notes:
        out_console.print(f"note: {note}", highlight=False)
    out_console.print(f"scores: {res.table}", highlight=False)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)[:80]


@app.command()
def benchmark(
    name: str = typer.Argument(..., help="benchmark: perov5, perov5-opt, gfp, ehrlich, scorecard, beta-sweep, score-files"),
    run: str = typer.Option(None, "--run", help="run folder / model file / shipped name (default: the shipped model)"),
    out: Optional[Path] = typer.Option(None, "--out", help="results JSON (default results/<name>.json; a .md goes beside it)"),
    samples: Optional[Path] = typer.Option(None, "--samples", help="perov5: judge these CIFs (a folder) instead of sampling a model; score-files: a folder or .zip of CIFs"),
    n_samples: Optional[int] = typer.Option(None, "--n-samples", min=1, help="prior samples (perov5/gfp: 10000; scorecard: 1000)"),
    seed: int = typer.Option(0, help="random seed"),
    jobs: int = typer.Option(0, "--jobs", help="worker processes for fingerprints/matching (0: all cores)"),
    seeds: str = typer.Option("1001-1008", "--seeds", help="ehrlich: instance seeds, e.g. 1001-1008 or 1,5,9"),
    settings: str = typer.Option("L32,L128", "--settings", help="ehrlich: settings (L32, L128)"),
    methods: Optional[str] = typer.Option(None, "--methods", help="ehrlich: methods (default designer,hill_climb,random,ga; also latent_bo)"),
    budget: Optional[int] = typer.Option(None, "--budget", min=1, help="ehrlich: oracle calls per designer/random run (default 20000)"),
    baseline_budget: Optional[int] = typer.Option(None, "--baseline-budget", min=1, help="ehrlich: calls per GA/hill-climbing run (default 200000)"),
    force: bool = typer.Option(False, "--force", help="ehrlich, beta-sweep: rerun runs whose results already exist"),
    pipeline: Optional[Path] = typer.Option(None, "--pipeline", help="beta-sweep: the pipeline to sweep"),
    betas: Optional[str] = typer.Option(None, "--betas", help="beta-sweep: comma-separated betas (default 0.001,0.01,0.1,1,4)"),
    minutes: float = typer.Option(20.0, "--minutes", min=0.1, help="beta-sweep: wall-clock training budget per beta"),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="beta-sweep: torch threads per training run"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="beta-sweep: train every beta for this many epochs (capped by --minutes)"),
):
    """Run a benchmark protocol (DESIGN section 5) and write results/<name>.json + .md."""
    from designer.benchmarks import run_benchmark

    extra = {"n_samples": n_samples} if n_samples is not None else {}
    path = run_benchmark(name, run=run, out=out, samples=samples, **extra, seed=seed,
                         jobs=jobs or (os.cpu_count() or 1), console=console, seeds=seeds, settings=settings,
                         methods=methods, budget=budget, baseline_budget=baseline_budget, force=force,
                         pipeline=str(pipeline) if pipeline else None, betas=betas, minutes=minutes, threads=threads,
                         epochs=epochs)
    out_console.print(f"results: {path} and {path.with_suffix('.md')}")


@app.command()
def analyze(
    run: str = typer.Argument(..., help="run folder, model file, or shipped model name (e.g. perov5)"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default RUN/analysis; a shipped model: outputs/<name>_analysis)"),
    n_max: int = typer.Option(2000, "--n-max", min=10, help="at most this many holdout items (seeded subsample)"),
    seed: int = typer.Option(0, help="random seed (subsample, sampling)"),
    between: list[str] = typer.Option([], "--between", help="interpolate between these two inputs (give it twice: CIF "
                                      "paths, or sequences / FASTA paths); default: the lowest- and highest-labelled holdout items"),
):
    """Latent diagnostics: KL per dim, active units, total correlation, MIG, intervention score, traversals, prototype."""
    from designer.analysis.analyze import analyze as run_analyze

    if between and len(between) != 2:
        raise DesignerError(f"--between: give exactly two inputs (got {len(between)}), e.g. --between a.cif --between b.cif")
    r = run_analyze(run, out=out, n_max=n_max, seed=seed, console=console, between=tuple(between) if between else None)
    mig = (r.get("mig") or {}).get("mig")
    iv = (r.get("intervention") or {}).get("score")
    f = lambda v, d=3: "–" if v is None else f"{v:.{d}f}"  # noqa: E731
    out_console.print(f"rate {f(r['rate'], 2)} nats, distortion {f(r['distortion'])}, active units "
                      f"{r['active_units']}/{r['latent_dim']}, total correlation {f(r.get('total_correlation'))}, "
                      f"MIG {f(mig)}, intervention score {f(iv)}")
    for name, rho in (r.get("property_spearman") or {}).items():
        out_console.print(f"property head Spearman ({name}): {f(rho)}")
    out_console.print(f"written: {r['out']}/analysis.md (+ analysis.json, PNG plots, prototype, traversals.csv)")


def main() -> None:
    _quiet()
    try:
        app()
    except DesignerError as exc:
        console.print(f"[red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
