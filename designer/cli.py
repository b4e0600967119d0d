"""The ``designer`` command line: one verb per user task.

Every user-facing error (bad file, bad config, unknown element ...) is printed as one line on
stderr and exits with code 2, without a traceback.

Exit codes (of the ``designer`` console script, ``main``):

* 0 — success (also ``--help`` and ``--version``);
* 1 — an unexpected internal error: a bug, shown with its traceback;
* 2 — a data or config error (``DesignerError``: a bad input file or row, a pipeline typo, an
  option value or combination a command refuses): one line on stderr naming what to fix;
* 64 — a usage error caught by the command-line parser before anything runs (an unknown command
  or option, a missing argument, a value of the wrong type or out of range, no command at all):
  EX_USAGE of sysexits.h, so that it is never confused with a data error;
* 130 — interrupted (Ctrl-C).

Imports: every module of the package imports what it needs at module level, except this entry
point. Each verb imports its machinery (torch, Lightning, BoTorch: ~10 s) when it runs, so that
``designer --help`` and ``designer --version`` answer in half a second.
"""

from __future__ import annotations

import math
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

SEED_MAX = 2**32 - 1  # numpy and torch take seeds in [0, 2**32)


def _finite(value: float | None) -> float | None:
    """An option callback: ``inf`` / ``nan`` pass click's range checks, so refuse them here (a usage error)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Inverse design of crystals and proteins: train a beta-VAE, sample, reconstruct, benchmark.")
console = Console(stderr=True)
out_console = Console()


def _print_version(value: bool) -> None:
    if value:
        from designer import __version__

        out_console.print(f"designer {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="print `designer <version>` and exit")):
    pass


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
    seed: Optional[int] = typer.Option(None, min=0, max=SEED_MAX, help="random seed (overrides the pipeline's seed)"),
    init_from: Optional[str] = typer.Option(None, "--init-from", help="fine-tune from a run folder, model file or shipped model name"),
    out: Optional[Path] = typer.Option(None, help="run folder (default: runs/<name>)"),
    resume: bool = typer.Option(False, help="resume from the run folder's last Lightning checkpoint"),
    jobs: Optional[int] = typer.Option(None, "--jobs", min=1, help="worker processes preparing the data (parsing, neighbour graphs; sets data.jobs)"),
):
    """Train the pipeline's beta-VAE (holdout-selected), writing a run folder with model.pt."""
    from designer.config import load_pipeline
    from designer.training.train import train as run_train

    overrides = list(set_) + ([f"seed={seed}"] if seed is not None else []) + ([f"data.jobs={jobs}"] if jobs else [])
    cfg, _ = load_pipeline(pipeline, overrides)
    run_dir = out or Path("runs") / cfg.name
    from designer.training.distributed import launch_rank

    if launch_rank() == 0:  # under DDP every process runs this command
        console.print(f"training [bold]{cfg.name}[/] -> {run_dir}")
    model_path = run_train(cfg, run_dir, init_from=init_from, resume=resume, progress=sys.stderr.isatty(),
                           notify=lambda msg: console.print(f"[yellow]warning:[/] {msg}"))
    if model_path is None:
        return  # another rank of a DDP run: rank zero wrote the run folder and reports
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
    seed: int = typer.Option(0, min=0, max=SEED_MAX, help="random seed of the prior draws"),
    temperature: float = typer.Option(1.0, min=0.0, callback=_finite, help="scale of the prior N(0, t^2 I)"),
    raw_decode: bool = typer.Option(False, "--raw-decode", help="crystals: each slot's most likely element (no charge-neutral "
                                    "re-ranking); proteins: allow gaps where the training alignment has none"),
    one_shot: bool = typer.Option(False, "--one-shot", help="crystals: decode with the one-shot stage only (no "
                                  "refinement steps), to compare; proteins decode in one pass anyway"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a complete earlier output in --out (never a folder designer did not finish)"),
):
    """Draw latents from the prior and decode them: one CIF each (crystals) or samples.fasta (proteins), plus samples.csv."""
    from designer.domains import get_domain
    from designer.runs import load_run

    from designer.io.output_folder import check_output, output_folder

    check_output(out, overwrite)
    r = load_run(run, one_shot=one_shot)
    domain = get_domain(r)
    with progress_bar() as bar:
        task = bar.add_task("decoding", total=n)
        dec = domain.sample(r, n, seed=seed, temperature=temperature, raw=raw_decode,
                            on_batch=lambda k: bar.advance(task, k))
        task = bar.add_task("writing", total=n)
        with output_folder(out, overwrite) as folder:
            message = domain.write_samples(r, dec, folder, on_item=lambda: bar.advance(task))
    out_console.print(message)


@app.command()
def reconstruct(
    run: str = typer.Argument(..., help="run folder, model file, or shipped model name"),
    data: Path = typer.Option(..., "--data", help="inputs: crystals as CSV (cif column), CIF / extxyz / POSCAR / .vasp / ASE .db file or a folder of them; "
                              "proteins as FASTA, A3M, CSV (sequence column) or mutation table"),
    out: Path = typer.Option(..., "--out", help="output folder: one CIF per input named by its id (proteins: reconstruct.fasta), plus reconstruct.csv"),
    raw_decode: bool = typer.Option(False, "--raw-decode", help="crystals: no charge-neutral re-ranking; proteins: allow gaps anywhere"),
    one_shot: bool = typer.Option(False, "--one-shot", help="crystals: decode with the one-shot stage only (no "
                                  "refinement steps), to compare; proteins decode in one pass anyway"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a complete earlier output in --out (never a folder designer did not finish)"),
):
    """Encode each input (posterior mean), decode once, and compare with the input."""
    from designer.domains import get_domain
    from designer.io.output_folder import check_output, output_folder
    from designer.runs import load_run

    check_output(out, overwrite)
    r = load_run(run, one_shot=one_shot)
    with output_folder(out, overwrite) as folder:
        message = get_domain(r).reconstruct_files(r, data, folder, raw=raw_decode, log=lambda m: console.print(m))
    out_console.print(message)


@app.command("predict-structure")
def predict_structure(
    formulas: list[str] = typer.Argument(..., help="formulas (SrTiO3: Z unknown, every multiple up to max_atoms "
                                         "is tried; C8 or Sr2Ti2O6: that exact cell), or CSV files with a formula column"),
    run: str = typer.Option(..., "--run", help="run folder, model file, or shipped crystal model name (e.g. perov5)"),
    k: int = typer.Option(20, "-k", min=1, max=1000, help="structures per formula"),
    out: Path = typer.Option(..., "--out", help="output folder: <formula>/<rank>.cif and predictions.csv"),
    z: Optional[int] = typer.Option(None, "--z", min=1, help="formula units per cell for every formula (default: "
                                    "the exact cell when the counts share a factor, else every multiple that fits)"),
    prior_draws: int = typer.Option(2048, "--prior-draws", min=0, help="prior latents in the pool beside the "
                                    "training latents"),
    templates: int = typer.Option(8, "--templates", min=0, help="training prototypes of the same anonymous formula, "
                                  "elements substituted, encoded as extra candidates per cell (0: none)"),
    seed: int = typer.Option(0, min=0, max=SEED_MAX, help="random seed of the prior draws"),
    energies: bool = typer.Option(True, "--energies/--no-energies", help="rank each formula's structures by CHGNet "
                                  "energy per atom (else by the model's likelihood of the cell)"),
    one_shot: bool = typer.Option(False, "--one-shot", help="decode without refinement steps, to compare"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a complete earlier output in --out (never a folder designer did not finish)"),
):
    """Crystal-structure prediction: k structures of exactly each composition, ranked by CHGNet energy."""
    from designer.domains import get_domain
    from designer.runs import load_run

    from designer.io.output_folder import check_output, output_folder

    check_output(out, overwrite)
    r = load_run(run, one_shot=one_shot)
    with output_folder(out, overwrite) as folder:
        message = get_domain(r).predict_structure_files(r, formulas, folder, k=k, z=z, prior_draws=prior_draws,
                                                        seed=seed, energies=energies, templates=templates,
                                                        log=lambda m: console.print(m))
    out_console.print(message)


@app.command()
def design(
    pipeline: Path = typer.Argument(..., help="pipeline YAML file (its design: section sets the objective, rounds, constraints)"),
    set_: list[str] = typer.Option([], "--set", help="override a value: --set design.rounds=2 (repeatable)"),
    run: Optional[str] = typer.Option(None, "--run", help="model to use (default: runs/<name>, else the shipped model, else train one)"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: <design.output>/<name>_design)"),
    seed: Optional[int] = typer.Option(None, min=0, max=SEED_MAX, help="random seed of the optimiser (default: the pipeline's seed)"),
    one_shot: bool = typer.Option(False, "--one-shot", help="crystals: decode with the one-shot stage only (no "
                                  "refinement steps), to compare; proteins decode in one pass anyway"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a complete earlier output in --out (never a folder designer did not finish)"),
):
    """Optimise in latent space toward a better property, decode, check, and export ranked candidates."""
    from designer.api import design as run_design

    res = run_design(pipeline, run=run, out=out, seed=seed, log=lambda m: console.print(m, highlight=False),
                     progress=sys.stderr.isatty(), one_shot=one_shot, overwrite=overwrite, set_=list(set_))
    best = res.summary.get("best_candidate_objective")
    out_console.print(f"{len(res.candidates)} candidates -> {res.out} (ranked table: {res.out / 'candidates.csv'}; best objective "
                      f"{best if best is None else round(best, 4)} vs best known {res.summary['best_known_objective']:.4g}; "
                      f"{res.summary['minutes']} min)")


@app.command()
def propose(
    run: str = typer.Argument(..., help="run folder (state kept in RUN/design/), or a shipped model name (state in runs/<name>/design/)"),
    q: int = typer.Option(16, "-q", min=1, help="batch size: candidates to make for the lab"),
    out: Path = typer.Option(..., "--out", help="folder for the batch: CIFs or candidates.fasta, candidates.csv"),
    pipeline: Optional[Path] = typer.Option(None, "--pipeline", help="take the design: section (objective, constraints) from this pipeline file"),
    set_: list[str] = typer.Option([], "--set", help="override a pipeline value, e.g. --set design.objective.direction=minimize"),
    seed: Optional[int] = typer.Option(None, min=0, max=SEED_MAX, help="random seed of the optimiser"),
    refit_head: bool = typer.Option(False, "--refit-head", help="fine-tune the property head on the measurements first (kept in RUN/design/head.pt)"),
    one_shot: bool = typer.Option(False, "--one-shot", help="crystals: decode with the one-shot stage only (no "
                                  "refinement steps), to compare; proteins decode in one pass anyway"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a complete earlier output in --out (never a folder designer did not finish)"),
):
    """Ask: propose the next batch (fitted on the lab's measurements once there are two or more)."""
    from designer.workflow.asktell import propose as run_propose

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
    table, n = run_propose(run, q, out, cfg=cfg, seed=seed, log=lambda m: console.print(m, highlight=False),
                           one_shot=one_shot, overwrite=overwrite)
    out_console.print(f"{n} candidates -> {out} (table: {table})")


@app.command()
def observe(
    run: str = typer.Argument(..., help="the run folder (or shipped model name) the batch was proposed from"),
    measurements: Path = typer.Argument(..., help="CSV: id, one column per measured property (named as in the pipeline), optionally cif or sequence"),
):
    """Tell: record the lab's measurements; the next propose refits on them."""
    from designer.workflow.asktell import observe as run_observe

    run_observe(run, measurements, log=lambda m: out_console.print(m, highlight=False))


@app.command()
def score(
    files: list[Path] = typer.Argument(..., help="CIF, extxyz (MatterGen's generated_crystals.extxyz), POSCAR/CONTCAR/.vasp, ASE .db or FASTA files, or folders of them (anyone's)"),
    run: Optional[str] = typer.Option(None, "--run", help="run folder / model file / shipped name: adds plausibility, predictions, likelihood, novelty"),
    out: Path = typer.Option(Path("scores"), "--out", help="output folder (scores.csv; symmetrised and P1 CIFs)"),
    relax_top: int = typer.Option(0, "--relax-top", min=0, help="crystals: relax the first N readable structures with CHGNet"),
    relax_steps: int = typer.Option(200, "--relax-steps", min=1, help="crystals: at most this many relaxation steps each"),
    no_energy: bool = typer.Option(False, "--no-energy", help="crystals: skip CHGNet (geometry, charge balance, symmetry only)"),
    second_opinion: bool = typer.Option(False, "--second-opinion", help="crystals: SevenNet-0 energy above hull beside CHGNet's (pip install 'designer[sevenn]')"),
    jobs: int = typer.Option(1, "--jobs", min=1, help="crystals: worker processes for the checks, CHGNet single points and novelty"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a complete earlier output in --out (never a folder designer did not finish)"),
):
    """Score any CIF/FASTA files for synthesis: every file gets a row, broken ones with their reason."""
    from rich.table import Table

    from designer.api import score as run_score
    from designer.domains import get_domain
    from designer.io.output_folder import check_output, output_folder

    check_output(out, overwrite)
    with output_folder(out, overwrite) as folder:
        df = run_score([Path(f) for f in files], folder, run=run, relax_top=relax_top, relax_steps=relax_steps,
                       energies=not no_energy, second_opinion=second_opinion, jobs=jobs,
                       log=lambda m: console.print(m, highlight=False))
    rows = df.to_dict("records")
    cols = list(get_domain(df.attrs["domain"]).score_table_columns)
    t = Table(*cols, title=f"{len(rows)} scored")
    for row in rows[:40]:
        t.add_row(*[_cell(row.get(c)) for c in cols])
    out_console.print(t)
    if len(rows) > 40:
        out_console.print(f"... {len(rows) - 40} more in the table")
    for note in df.attrs["notes"]:
        out_console.print(f"note: {note}", highlight=False)
    out_console.print(f"scores: {out / 'scores.csv'}", highlight=False)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)[:80]


@app.command()
def benchmark(
    name: str = typer.Argument(..., help="benchmark: perov5, carbon24, mp20-subset, perov5-opt, carbon24-opt, perov5-csp, carbon24-csp, gfp, ehrlich, scorecard, beta-sweep, score-files, "
                               "holdout, diagnose-misses, diagnose-step, stability, evaluators, scale"),
    run: Optional[str] = typer.Option(None, "--run", help="run folder / model file / shipped name (default: the shipped model)"),
    out: Optional[Path] = typer.Option(None, "--out", help="results JSON (default results/<name>.json; a .md goes beside it)"),
    samples: Optional[Path] = typer.Option(None, "--samples", help="perov5, carbon24, mp20-subset: judge these CIFs (a folder) instead of sampling a model; "
                                           "score-files: a folder or .zip of CIFs (default $DESIGNER_SHARED/datasets/mattergen_cifs/cifs.zip, "
                                           "without DESIGNER_SHARED ../shared/... from the current folder)"),
    n_samples: Optional[int] = typer.Option(None, "--n-samples", min=1, help="prior samples (perov5/gfp: 10000; scorecard: 1000)"),
    seed: Optional[int] = typer.Option(None, min=0, max=SEED_MAX, help="random seed (default 0)"),
    jobs: Optional[int] = typer.Option(None, "--jobs", min=0, help="perov5: worker processes for fingerprints/matching (default, or 0: all cores)"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="ehrlich: instance seeds, e.g. 1001-1008 (default) or 1,5,9; gfp-design: run seeds (default 0,1,2)"),
    settings: Optional[str] = typer.Option(None, "--settings", help="ehrlich: settings (default L32,L128)"),
    methods: Optional[str] = typer.Option(None, "--methods", help="ehrlich: methods (default designer,hill_climb,random,ga; also latent_bo); gfp-design: designer,latent_bo,mutation_search,hill_climb,random_mutants (default all)"),
    budget: Optional[int] = typer.Option(None, "--budget", min=1, help="ehrlich: oracle calls per designer/random run (default 20000)"),
    baseline_budget: Optional[int] = typer.Option(None, "--baseline-budget", min=1, help="ehrlich: calls per GA/hill-climbing run (default 200000)"),
    force: bool = typer.Option(False, "--force", help="ehrlich, beta-sweep: rerun runs whose results already exist"),
    pipeline: Optional[Path] = typer.Option(None, "--pipeline", help="beta-sweep: the pipeline to sweep; diagnose-step: the pipeline to time"),
    betas: Optional[str] = typer.Option(None, "--betas", help="beta-sweep: comma-separated betas (default 0.001,0.01,0.1,1,4)"),
    minutes: Optional[float] = typer.Option(None, "--minutes", min=0.1, callback=_finite, help="beta-sweep: wall-clock training budget per beta (default 20)"),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="beta-sweep: torch threads per training run"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="beta-sweep: train every beta for this many epochs (capped by --minutes)"),
    n_starts: Optional[int] = typer.Option(None, "--n-starts", min=1, help="perov5-opt, carbon24-opt: start from the first N test crystals (default 100)"),
    decodes: Optional[int] = typer.Option(None, "--decodes", min=1, help="perov5-opt, carbon24-opt: decodes scored per start (default 10)"),
    tr_length: Optional[float] = typer.Option(None, "--tr-length", min=0.0, callback=_finite, help="perov5-opt, carbon24-opt: trust region around each start, x the latent box (default 1)"),
    n_known: Optional[int] = typer.Option(None, "--n-known", min=0, help="perov5-opt, carbon24-opt: also give the GP the N training latents the head rates best (default 0)"),
    pool: Optional[int] = typer.Option(None, "--pool", min=1, help="perov5-opt, carbon24-opt: decodes screened by the head per start (default 40)"),
    decodes_dir: Optional[Path] = typer.Option(None, "--decodes-dir", help="perov5-opt, carbon24-opt: where each start's decodes are kept, so a rerun resumes (default runs/perov5_opt, runs/carbon24_opt)"),
    relax_top: Optional[int] = typer.Option(None, "--relax-top", min=0, help="scorecard: relax the N best with CHGNet (default 20)"),
    relax_steps: Optional[int] = typer.Option(None, "--relax-steps", min=1, help="scorecard, stability: at most this many relaxation steps each (default 200); carbon24-opt: also relax every selected decode with CHGNet and judge it (default 0: off)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="stability, perov5-csp, carbon24-csp: only the first N rows of each set (a quick check, never for results/)"),
    k: Optional[int] = typer.Option(None, "-k", "--k", min=1, help="perov5-csp, carbon24-csp: structures per composition (default 20)"),
    split: Optional[str] = typer.Option(None, "--split", help="perov5-csp, carbon24-csp: test (default) or holdout (the run's holdout, kept out of the pool: to choose decode settings)"),
    refine_steps: Optional[int] = typer.Option(None, "--refine-steps", min=0, max=49, help="perov5-csp, carbon24-csp: refinement steps (default: the model's)"),
    start_sigma: Optional[float] = typer.Option(None, "--start-sigma", min=0.006, max=0.5, callback=_finite, help="perov5-csp, carbon24-csp: refinement start noise level (default: the model's)"),
    prior_draws: Optional[int] = typer.Option(None, "--prior-draws", min=0, help="perov5-csp, carbon24-csp: prior latents in the pool beside the training latents (default 2048)"),
    templates: Optional[int] = typer.Option(None, "--templates", min=0, help="perov5-csp, carbon24-csp: substituted training prototypes encoded per composition as extra candidates (default 8)"),
    training_latents: Optional[bool] = typer.Option(None, "--training-latents/--no-training-latents", help="perov5-csp, carbon24-csp: put the training crystals' latents in the pool (default: on)"),
    second_opinion: Optional[bool] = typer.Option(None, "--second-opinion/--no-second-opinion", help="stability: judge again with SevenNet-0 (default: on; skipped with a note without sevenn)"),
    n_rows: Optional[int] = typer.Option(None, "--n-rows", min=1, help="diagnose-misses: the first N rows of the test split (default 1000)"),
    data: Optional[Path] = typer.Option(None, "--data", help="diagnose-misses: test crystals (default: the shipped perov_5 test.csv.gz)"),
    batch: Optional[int] = typer.Option(None, "--batch", min=1, help="diagnose-step: batch size (default 64)"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="diagnose-step: training steps timed (default 3)"),
    compare_one_shot: Optional[bool] = typer.Option(None, "--compare-one-shot/--no-compare-one-shot", help="perov5, "
                                                    "carbon24, mp20-subset: also report the one-shot decode (default: on)"),
    refine_grid: Optional[str] = typer.Option(None, "--refine-grid", help="holdout: also decode with these settings, "
                                              "STEPS:START_SIGMA,... (e.g. 0:0.1,10:0.05,10:0.1; 0 steps = one-shot)"),
    sizes: Optional[str] = typer.Option(None, "--sizes", help="scale: synthetic dataset sizes (default 1000,10000,100000)"),
    epoch_steps: Optional[int] = typer.Option(None, "--epoch-steps", min=1, help="scale: time at most this many steps of the epoch (default: all)"),
    scoring: Optional[bool] = typer.Option(None, "--scoring/--no-scoring", help="scale: also time scoring with 1 and 2 workers (default: on)"),
    preprocess_jobs: Optional[str] = typer.Option(None, "--preprocess-jobs", help="scale: worker counts to time the preprocessing with, 2 or 1,2 (default 1,2)"),
    scoring_repeats: Optional[int] = typer.Option(None, "--scoring-repeats", min=1, help="scale: time scoring this many times with 1 and with 2 workers, alternating; medians reported (default 3)"),
    rounds: Optional[int] = typer.Option(None, "--rounds", min=1, help="gfp-design: ask/tell rounds per method (default 4)"),
    q: Optional[int] = typer.Option(None, "--q", min=1, help="gfp-design: lab measurements per round (default 96)"),
    max_mutations: Optional[int] = typer.Option(None, "--max-mutations", min=1, help="gfp-design: designs stay within this many substitutions of the wild type (default 6)"),
    oracle: Optional[Path] = typer.Option(None, "--oracle", help="gfp-design: the oracle file (default: the shipped CNN ensemble)"),
    train_oracle_epochs: Optional[int] = typer.Option(None, "--train-oracle-epochs", min=1, help="gfp-design: first (re)train the oracle on every labelled variant, this many epochs a member, into --oracle"),
):
    """Run a benchmark protocol (DESIGN section 5) and write results/<name>.json + .md.

    Only the options given are passed on; one the benchmark does not take is an error naming it.
    """
    from designer.benchmarks import benchmark_options, run_benchmark

    given = {k: v for k, v in dict(
        run=run, out=out, samples=samples, n_samples=n_samples, seed=seed, jobs=jobs, seeds=seeds, settings=settings,
        methods=methods, budget=budget, baseline_budget=baseline_budget, force=force or None,
        pipeline=str(pipeline) if pipeline else None, betas=betas, minutes=minutes, threads=threads, epochs=epochs,
        n_starts=n_starts, decodes=decodes, tr_length=tr_length, n_known=n_known, pool=pool, decodes_dir=decodes_dir,
        relax_top=relax_top,
        relax_steps=relax_steps, n_rows=n_rows, data=data, batch=batch, steps=steps,
        refine_grid=refine_grid, limit=limit, k=k, prior_draws=prior_draws, split=split, refine_steps=refine_steps, start_sigma=start_sigma, training_latents=training_latents, templates=templates, second_opinion=second_opinion,
        compare_one_shot=compare_one_shot, sizes=sizes, epoch_steps=epoch_steps, scoring=scoring,
        preprocess_jobs=preprocess_jobs, scoring_repeats=scoring_repeats, rounds=rounds, q=q,
        max_mutations=max_mutations, oracle=oracle, train_oracle_epochs=train_oracle_epochs).items() if v is not None}
    if not jobs and "jobs" in benchmark_options(name):  # the default, and 0: every core
        given["jobs"] = os.cpu_count() or 1
    path = run_benchmark(name, console=console, **given)
    out_console.print(f"results: {path} and {path.with_suffix('.md')}")


@app.command()
def analyze(
    run: str = typer.Argument(..., help="run folder, model file, or shipped model name (e.g. perov5)"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default RUN/analysis; a shipped model: outputs/<name>_analysis)"),
    n_max: int = typer.Option(2000, "--n-max", min=10, help="at most this many holdout items (seeded subsample)"),
    seed: int = typer.Option(0, min=0, max=SEED_MAX, help="random seed (subsample, sampling)"),
    between: list[str] = typer.Option([], "--between", help="interpolate between these two inputs (give it twice: CIF "
                                      "paths, or sequences / FASTA paths); default: the lowest- and highest-labelled holdout items"),
    one_shot: bool = typer.Option(False, "--one-shot", help="crystals: decode with the one-shot stage only (no "
                                  "refinement steps), to compare; proteins decode in one pass anyway"),
):
    """Latent diagnostics: KL per dim, active units, total correlation, MIG, intervention score, traversals, prototype."""
    from designer.analysis.analyze import analyze as run_analyze

    if between and len(between) != 2:
        raise DesignerError(f"--between: give exactly two inputs (got {len(between)}), e.g. --between a.cif --between b.cif")
    r = run_analyze(run, out=out, n_max=n_max, seed=seed, console=console, between=tuple(between) if between else None,
                    one_shot=one_shot)
    mig = (r.get("mig") or {}).get("mig")
    iv = (r.get("intervention") or {}).get("score")
    f = lambda v, d=3: "–" if v is None else f"{v:.{d}f}"  # noqa: E731
    out_console.print(f"rate {f(r['rate'], 2)} nats, distortion {f(r['distortion'])}, active units "
                      f"{r['active_units']}/{r['latent_dim']}, total correlation {f(r.get('total_correlation'))}, "
                      f"MIG {f(mig)}, intervention score {f(iv)}")
    for name, rho in (r.get("property_spearman") or {}).items():
        out_console.print(f"property head Spearman ({name}): {f(rho)}")
    out_console.print(f"written: {r['out']}/analysis.md (+ analysis.json, PNG plots, prototype, traversals.csv)")


EXIT_DATA_ERROR = 2  # a DesignerError: bad input file, config or option value (one line on stderr)
EXIT_USAGE = 64  # EX_USAGE (sysexits.h): the command line itself is wrong (click/typer's own check)


def _click_class(name: str) -> type:
    """click's exception class ``name`` (typer may vendor click; typer.BadParameter derives from both)."""
    return next(c for c in type.mro(typer.BadParameter) if c.__name__ == name)


def _show_click_error(exc) -> None:
    try:
        from typer.rich_utils import rich_format_error
    except ImportError:  # pragma: no cover - typer without rich
        exc.show()
    else:
        rich_format_error(exc)


def _error_line(message: str) -> None:
    """``error: <message>`` on stderr, the message taken literally (a ``[lo, hi]`` in it is not markup)."""
    from rich.markup import escape

    one_line = " ".join(message.split())  # a library's multi-line text inside a message stays on one line
    console.print(f"[red]error:[/] {escape(one_line)}", markup=True, highlight=False, soft_wrap=True)


def _unexpected(exc: BaseException, debug: bool) -> None:
    """One line for an unexpected exception, its traceback in a log file (printed too with ``--debug``); exit 1."""
    import datetime
    import traceback

    text = "".join(traceback.format_exception(exc))
    if debug:
        sys.stderr.write(text)
    from designer.data.cache import cache_dir

    log = cache_dir() / "logs" / f"error-{datetime.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"{' '.join(sys.argv)}\n\n{text}")
        where = f"traceback in {log}"
    except OSError:
        where = "the traceback could not be written to a log"
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    _error_line(f"unexpected {type(exc).__name__}{': ' + first if first else ''} ({where}; "
                "rerun with --debug to print it; please report it)")
    sys.exit(1)


def main() -> None:
    """The console script: exit 0 on success, 2 on a DesignerError, 64 on a usage error, 1 on a bug."""
    _quiet()
    debug = "--debug" in sys.argv[1:]  # anywhere on the line: print the traceback of an unexpected error
    if debug:
        sys.argv = [a for a in sys.argv if a != "--debug"]
    usage_error, click_error = _click_class("UsageError"), _click_class("ClickException")
    try:
        code = app(standalone_mode=False)  # click raises its errors instead of exiting, so they can be told apart
    except usage_error as exc:  # unknown command or option, bad option value, missing argument
        _show_click_error(exc)
        sys.exit(EXIT_USAGE)
    except click_error as exc:
        _show_click_error(exc)
        sys.exit(exc.exit_code)
    except DesignerError as exc:
        _error_line(str(exc))
        sys.exit(EXIT_DATA_ERROR)
    except typer.Abort:
        console.print("aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        code = 130
    except OSError as exc:  # a path that is a folder, exists, or cannot be written: name it
        if exc.filename is None or debug:
            _unexpected(exc, debug)
        where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
        _error_line(f"{where}: {exc.strerror or exc}; check the path and its permissions")
        sys.exit(EXIT_DATA_ERROR)
    except Exception as exc:  # a bug, or an input not checked yet: one line and a log holding the traceback
        _unexpected(exc, debug)
    if code == 130:  # typer turns Ctrl-C into Exit(130)
        console.print("interrupted")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
