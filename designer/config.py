"""Pipeline files: YAML validated once, at the edge (pydantic).

Unknown keys are errors naming the key and the closest valid one; ``--set a.b=c`` overrides a
value before validation; relative data paths resolve against the pipeline file's folder.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from designer.io.text import read_text
from designer.domains import domain_names
from designer.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)  # beta: .inf is refused here


class SequenceDataConfig(_Strict):
    """How protein inputs are read (``domain: protein``); see ``designer.data.protein_io``."""

    format: Literal["auto", "fasta", "a3m", "csv", "mutations"] = "auto"
    sequence_column: str = "sequence"
    id_column: Optional[str] = None
    mutation_column: str = Field("mutant", description="mutation column of a mutation table (avGFP: aaMutations)")
    reference: Optional[str] = Field(None, description="reference protein: FASTA path (protein or coding DNA) or the sequence")
    index_base: Optional[Literal[0, 1]] = Field(None, description="position numbering of mutation tables: 0 (avGFP) or 1 (DMS); required for them")
    align: Optional[bool] = Field(None, description="align to the reference (default: when lengths differ)")
    unknown: Literal["mask", "skip"] = Field("mask", description="X/B/Z residues: masked out of the likelihood, or the row skipped")
    stop: Literal["truncate", "skip"] = Field("truncate", description="internal stop codon: gaps from the stop on, or the row skipped")
    reweight: Optional[float] = Field(None, gt=0, le=1, description="DeepSequence reweighting identity threshold (e.g. 0.8) for family alignments")
    max_mutations: Optional[int] = Field(None, ge=0, description="train only on variants with at most this many mutations (mutation tables)")


class DataConfig(_Strict):
    train: list[str] = Field(description="training inputs (crystals: CSV / CIF folder / CIF; proteins: FASTA / A3M / CSV / mutation table); a seeded holdout of them selects the model")
    test: Optional[str] = Field(None, description="test split, used only by benchmarks (never for early stopping)")
    properties: list[str] = Field(default_factory=list, description="property columns the property head learns")
    max_atoms: int = Field(20, ge=1, le=200)
    cutoff: float = Field(7.0, gt=0, description="neighbour cutoff (Å) of the periodic graph")
    max_neighbors: int = Field(12, ge=1, description="keep the nearest max_neighbors within the cutoff")
    holdout_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    holdout: list[str] = Field(default_factory=list, description="crystals: a fixed holdout (files) for early stopping "
                               "and model selection, instead of a seeded holdout_fraction of train")
    cache: bool = True
    jobs: int = Field(1, ge=1, description="crystals: worker processes parsing CIFs and building neighbour graphs (designer train --jobs)")
    sequences: SequenceDataConfig = Field(default_factory=SequenceDataConfig)

    @field_validator("train", "holdout", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, str) else v


class BetaScheduleConfig(_Strict):
    kind: Literal["constant", "linear", "cyclical"] = "linear"
    warmup_epochs: float = Field(10.0, ge=0)
    cycle_epochs: float = Field(20.0, gt=0)
    ratio: float = Field(0.5, ge=0, le=1)


class CapacityConfig(_Strict):
    max_nats: float = Field(gt=0, description="final target rate C (nats per example)")
    anneal_epochs: float = Field(50.0, ge=0, description="C rises linearly from 0 to max_nats over these epochs")
    weight: float = Field(10.0, gt=0, description="gamma in gamma x |KL - C|")


class CollapseConfig(_Strict):
    min_rate: float = Field(2.0, ge=0, description="warn when the training rate (KL, nats per example) falls below this")
    min_active_fraction: float = Field(0.0, ge=0, le=1, description="also warn when fewer than this fraction of latent dims are active (0: off)")


class LossConfig(_Strict):
    beta: float = Field(0.01, ge=0)
    schedule: BetaScheduleConfig = Field(default_factory=BetaScheduleConfig)
    capacity: Optional[CapacityConfig] = Field(None, description="capacity annealing: gamma |KL - C| with C rising (replaces beta x KL)")
    collapse: CollapseConfig = Field(default_factory=CollapseConfig)
    free_bits: float = Field(0.0, ge=0, description="nats per latent dimension below which KL is not penalised")
    likelihood: Literal["gaussian", "laplace"] = "laplace"
    weights: dict[str, float] = Field(default_factory=dict, description="weight of each reconstruction term")
    property_weight: float = Field(1.0, ge=0)


class ModelConfig(_Strict):
    latent_dim: int = Field(64, ge=1)
    hidden: int = Field(128, ge=8)
    encoder_layers: int = Field(4, ge=1)
    feature_dim: int = Field(256, ge=8)
    decoder_hidden: int = Field(512, ge=8)
    decoder_layers: int = Field(3, ge=1)
    decoder_dropout: float = Field(0.0, ge=0, lt=1, description="dropout in the decoder trunk (regularises composition decoding)")
    property_hidden: int = Field(128, ge=8)
    property_dropout: float = Field(0.1, ge=0, lt=1)
    refine: bool = Field(True, description="crystals: a z-conditioned periodic denoiser refines the one-shot decode")
    refine_steps: int = Field(10, ge=0, le=49, description="crystals: refinement steps at decode time (network evaluations "
                              "besides the one-shot pass; 0 = one-shot)")
    refine_start_sigma: float = Field(0.1, gt=0.005, le=0.5, description="crystals: noise level (fractional units) the one-shot "
                                      "structure is taken to have when refinement starts")
    refine_distance: Literal["min_image", "axis_wrapped"] = Field(
        "min_image", description="crystals: pair distance the refiner sees (axis_wrapped: models trained before the "
        "minimum-image fix)")
    refine_hidden: int = Field(128, ge=8)
    refine_layers: int = Field(4, ge=1)
    refine_lattice_noise: float = Field(1.0, gt=0, description="crystals: lattice noise (unconstrained units) per unit of "
                                        "coordinate noise in training")
    refine_detach_z: bool = Field(True, description="crystals: the denoising loss trains the refiner only and sends no "
                                  "gradient through z into the encoder (which then serves the one-shot terms alone)")


class TrainConfig(_Strict):
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    patience: int = Field(40, ge=1, description="early stopping on the holdout loss")
    max_minutes: Optional[float] = Field(None, gt=0, description="wall-clock budget; training stops cleanly when spent")
    stage: Literal["all", "refiner"] = Field("all", description="refiner: train only the crystal decoder's refinement "
                                             "stage on a model given with --init-from, everything else frozen")
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = Field(
        "auto", description="auto: a GPU when there is one; a named one must exist here")
    devices: int = Field(1, ge=1, description="devices per node (several: one process each, under train.strategy)")
    strategy: str = Field("auto", description="Lightning's strategy name: auto, ddp, ddp_spawn, fsdp, ... "
                          "(auto: ddp when devices x num_nodes > 1)")
    num_nodes: int = Field(1, ge=1, description="machines (e.g. SLURM nodes); each runs train.devices processes")
    precision: Literal["32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true"] = Field(
        "32-true", description="Lightning's precision; mixed precision needs a GPU (bf16-mixed also runs on CPU)")
    threads: Optional[int] = Field(None, ge=1, description="torch threads per process (default: the cores / processes here)")

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        if v == "auto":
            return v
        from lightning.pytorch.strategies import StrategyRegistry  # only when one is named

        names = StrategyRegistry.available_strategies()
        if v not in names:
            close = difflib.get_close_matches(v, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown strategy {v!r}{hint}; use auto, ddp, ddp_spawn, fsdp or another of Lightning's names")
        return v


class ObjectiveConfig(_Strict):
    property: Optional[str] = Field(None, description="which data.properties column to optimise (default: the first)")
    direction: Literal["maximize", "minimize", "target"] = "maximize"
    target: Optional[tuple[float, float]] = Field(None, description="[lo, hi] for direction: target")


class PlausibilityConfig(_Strict):
    mode: Literal["penalty", "prior", "constraint", "none"] = Field("penalty", description="how the latent density guides the search")
    weight: float = Field(1.0, ge=0, description="penalty weight / prior exponent")
    floor_percentile: float = Field(5.0, ge=0, le=100, description="below this plausibility percentile a point is penalised / infeasible")


class OptimizerConfig(_Strict):
    """The acquisition optimiser's effort (BoTorch ``optimize_acqf``): more finds better points of the
    acquisition, slower; a small latent or a quick look needs less."""

    num_restarts: int = Field(8, ge=1, description="L-BFGS-B starts per acquisition optimisation")
    raw_samples: int = Field(256, ge=1, description="Sobol points the starts are chosen from")
    maxiter: int = Field(60, ge=1, description="L-BFGS-B iterations per start")


class ConstraintsConfig(_Strict):
    allowed_elements: Optional[list[str]] = Field(None, description="crystals: only these elements")
    forbidden_elements: list[str] = Field(default_factory=list, description="crystals: never these elements")
    max_atoms: Optional[int] = Field(None, ge=1, description="crystals: at most this many atoms in the cell")
    fixed_positions: list[int] = Field(default_factory=list, description="proteins: positions (numbered as data.sequences.index_base, default 1) kept as in the reference")
    max_mutations: Optional[int] = Field(None, ge=0, description="proteins: at most this many differences from the reference")


class DesignConfig(_Strict):
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig)
    objectives: list[ObjectiveConfig] = Field(default_factory=list, description="several objectives (qLogNEHVI, Pareto front); replaces objective when given")
    q: int = Field(16, ge=1, description="candidates per round")
    rounds: int = Field(4, ge=1)
    start: Literal["best", "seed", "prior"] = Field("best", description="start from the best known data, a seed item, or the prior")
    seed_item: Optional[str] = Field(None, description="start.seed: a CIF path or a sequence (or FASTA path) to explore around")
    start_points: int = Field(256, ge=2, description="latents the first GP is fitted on")
    trust_region: bool = True
    tr_length: float = Field(0.4, gt=0, le=1, description="initial trust-region side as a fraction of the latent box")
    plausibility: PlausibilityConfig = Field(default_factory=PlausibilityConfig)
    constraints: ConstraintsConfig = Field(default_factory=ConstraintsConfig)
    max_fit_points: int = Field(1000, ge=10)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    refit_head: bool = Field(False, description="propose: fine-tune the property head on the lab's measurements (with the training labels) before proposing")
    search: Literal["latent", "mutations"] = Field("latent", description="latent: BO in the latent space; mutations (proteins): single/multi-site mutants of the best sequence, scored by the property head")
    mutation_pool: int = Field(256, ge=1, description="search: mutations: mutants scored per round")
    mutations_per_candidate: int = Field(1, ge=1, description="search: mutations: at most this many new mutations per candidate and round")
    decode_temperature: float = Field(0.0, ge=0, description="proteins: 0 decodes each position's most likely residue; >0 samples residues from the decoder (more diverse candidates)")
    output: str = Field("outputs", description="folder under which designer design writes <name>_design/")


class ScoringWeights(_Strict):
    objective: float = 1.0
    plausibility: float = 0.5
    hull: float = Field(1.0, description="per 0.1 eV/atom above the hull")
    force: float = Field(0.2, description="per eV/A of residual force")
    novelty: float = 0.5
    liability: float = Field(0.5, description="per protein liability")
    distance: float = Field(0.1, description="per 10 mutations from the wild type")


class ScoringConfig(_Strict):
    enabled: bool = Field(True, description="score the design's candidates (scorecard columns, synthesis rank)")
    energies: bool = Field(True, description="crystals: CHGNet single points (energy, forces, hull)")
    relax_top: int = Field(24, ge=0, description="crystals: relax this many of the best-ranked candidates with CHGNet")
    relax_steps: int = Field(200, ge=1, description="crystals: at most this many relaxation steps each")
    second_opinion: bool = Field(False, description="crystals: SevenNet-0 energy above hull beside CHGNet's (pip install 'designer[sevenn]')")
    weights: ScoringWeights = Field(default_factory=ScoringWeights)
    diversity: float = Field(0.3, ge=0, description="batch selection: readiness minus this x similarity to the closest picked")
    select: Optional[int] = Field(None, ge=1, description="mark this many candidates as the selected batch (default: all valid)")
    symprec: float = Field(0.1, gt=0, description="symmetry tolerance (A) of the symmetrised CIFs and space groups")
    jobs: int = Field(1, ge=1, description="crystals: worker processes for the checks, CHGNet single points and novelty")


class PipelineConfig(_Strict):
    name: str
    domain: str = Field("crystal", description="what is designed: a registered domain (crystal, sequence; protein = sequence)")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="random seed (numpy and torch take [0, 2**32))")
    benchmark: Optional[str] = Field(None, description="coverage cutoff preset: perov, carbon, mp20")
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    design: DesignConfig = Field(default_factory=DesignConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)

    @field_validator("domain")
    @classmethod
    def _registered(cls, v: str) -> str:
        names = domain_names()
        if v not in names:
            close = difflib.get_close_matches(v, names, n=1, cutoff=0.0)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown domain {v!r}{hint} (registered: {', '.join(names)})")
        return v


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class that owns the key at ``loc[-1]``."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        options = [ann, *typing.get_args(ann)]  # Optional[X] / X | None: the model inside
        current = next((a for a in options if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if current is None:
            return None
    return current


def _describe(err: dict, source: str) -> str:
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        owner = _model_at(PipelineConfig, loc)
        valid = list(owner.model_fields) if owner else []
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.0)
        hint = f"; did you mean {'.'.join([*map(str, loc[:-1]), close[0]])!r}?" if close else ""
        return f"{source}: unknown key {key!r}{hint} (valid here: {', '.join(valid)})"
    if err["type"] == "missing":
        return f"{source}: missing required key {key!r}"
    return f"{source}: {key}: {err['msg']} (got {err.get('input')!r})"


def apply_overrides(raw: dict, overrides: list[str] | None) -> dict:
    """Apply ``a.b=c`` overrides (values parsed as YAML) to a raw config dict."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.epochs=50")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = raw
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {p!r} is not a section")
        try:
            node[parts[-1]] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({getattr(exc, 'problem', exc)}); "
                              "quote it or close its brackets, e.g. --set 'data.properties=[a, b]'") from None
    return raw


def load_pipeline(path: str | Path, overrides: list[str] | None = None) -> tuple[PipelineConfig, Path]:
    """Read, override, validate and resolve a pipeline file.

    Returns:
        the validated config (data paths absolute) and the pipeline file's folder.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such pipeline file; see pipelines/ for examples")
    try:
        raw = yaml.safe_load(read_text(path)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}:{where} invalid YAML ({problem})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a pipeline file is a YAML mapping (name:, data:, ...)")
    raw = apply_overrides(raw, overrides)
    cfg = validate(raw, str(path))
    return resolve_paths(cfg, path.parent), path.parent


def validate(raw: dict, source: str = "pipeline") -> PipelineConfig:
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # a typo (``dataa:``) also makes the real key missing: name the typo, which is the cause
        typo = [e for e in errors if e["type"] == "extra_forbidden"]
        raise ConfigError(_describe((typo or errors)[0], source)) from None


def resolve_paths(cfg: PipelineConfig, base: Path) -> PipelineConfig:
    def res(p: str) -> str:
        q = Path(p).expanduser()
        return str(q if q.is_absolute() else (base / q).resolve())

    seqs = cfg.data.sequences
    ref = seqs.reference
    if ref is not None and ("/" in ref or "." in ref or (base / ref).exists()):
        seqs = seqs.model_copy(update={"reference": res(ref)})  # a path, not a literal sequence
    data = cfg.data.model_copy(update={"train": [res(p) for p in cfg.data.train], "sequences": seqs,
                                       "holdout": [res(p) for p in cfg.data.holdout],
                                       "test": res(cfg.data.test) if cfg.data.test else None})
    return cfg.model_copy(update={"data": data})


def dump(cfg: PipelineConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)

