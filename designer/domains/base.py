"""The ``Domain`` interface: everything that differs between kinds of designed objects.

A domain (crystals, sequences, or one of your own) is one folder under ``designer/domains/`` that
subclasses ``Domain`` and registers an instance (``designer.domains.register_domain``). Code above
the model (training data, the CLI verbs, design, ask/tell, scoring, the report, analysis) calls
these methods and never asks which domain it is in. ``run`` arguments are ``designer.runs.Run``
objects (a trained model with its pipeline config); ``cfg`` is a ``PipelineConfig``.

Groups of methods, in the order data flows:

* data and model: ``load_training_data``, ``make_loader``, ``fit_data_scales``, ``build_plugin``;
* generation: ``sample``, ``decode``, ``write_samples``, ``reconstruct_files``;
* optimiser: ``latent_space``, ``known_data``, ``item_latent``, ``encode_observed``,
  ``mutation_search``;
* candidates: ``candidate_columns``, ``write_candidates``, ``similarity``, ``duplicates``;
* scoring: ``file_suffixes``, ``read_files``, ``score_items``, ``score_candidates``,
  ``readiness``, ``model_columns``;
* report: ``report_columns``, ``report_extras``, ``report_phrases``;
* Python API (``designer.api``): ``user_object``, ``encode_objects``, ``as_user_objects``;
* analysis: ``analysis_raw``, ``factors``, ``intervention``, ``decode_rows``, ``prototype``,
  ``plot_traversals``, ``plot_interpolation``, ``traversal_summary``, ``interpolation_summary``,
  ``prior_diversity``.

Every method a domain does not implement raises a ``DesignerError`` naming the domain and the
feature, so a partial domain fails with one line instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from designer.data.samplers import training_sampler
from designer.errors import ConfigError, DesignerError


@dataclass
class TrainingData:
    """Items of one domain split into train and holdout, plus what the model's shape depends on.

    ``domain``: the registry name; ``plugin_args``: passed to ``Domain.build_plugin``;
    ``sample_weights``: per train item (None = uniform); ``notes``: what reading did (skipped or
    masked rows), for the run summary; ``extra``: whatever the domain needs again later.
    """

    domain: str
    train: Sequence
    holdout: Sequence
    plugin_args: dict
    sample_weights: np.ndarray | None = None
    notes: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@dataclass
class KnownData:
    """The training data of a run as the optimiser sees it.

    ``mu``: ``n x d`` posterior means; ``keys``: deduplication keys; ``y``: ``n x P`` labels (NaN =
    none); ``items``: the objects themselves (structures, aligned sequences).
    """

    mu: torch.Tensor
    keys: list
    y: np.ndarray
    items: list


@dataclass
class Decoded:
    """Decoded objects with their latents and predicted properties.

    ``objects``: ``n`` domain objects (None where construction failed); ``z``: ``n x d``;
    ``properties`` / ``property_std``: ``n x P`` (P = 0 without a property head); ``extra``: domain
    specifics (e.g. the token tensor of decoded sequences).
    """

    objects: list
    z: torch.Tensor
    properties: np.ndarray
    property_std: np.ndarray
    extra: dict = field(default_factory=dict)


def cached_training_latents(run, paths: Sequence[Path], encode: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``n x d`` posterior means of a run's training inputs ``paths``, on the model's device, memoised on
    disk (``designer.data.cache``) under the content of the model file and of every input, so that
    designing, proposing, scoring and the Python API encode a model's training set once.

    ``encode()`` computes them on a miss; ``data.cache: false`` turns the memo off."""
    device = next(run.model.parameters()).device
    return cached_for_model(run, paths, {"kind": "training_latents", "format": 1},
                            lambda: encode().detach().cpu()).to(device)


def cached_for_model(run, paths: Sequence[Path], options: dict, build: Callable[[], Any]) -> Any:
    """``build()``, memoised on disk (``designer.data.cache``) under the content of the model file, of every
    input in ``paths`` and ``options``; ``data.cache: false`` (or a model not saved to a file) turns it off.
    ``build`` should return CPU values."""
    from designer.data.cache import cached, content_hash

    key = {**options, "inputs": [content_hash(Path(p)) for p in paths]}
    enabled = bool(getattr(run.config.data, "cache", True)) and Path(run.path).is_file()
    return cached(Path(run.path), key, build, enabled=enabled)


def prediction_columns(property_names: list[str], mean: np.ndarray, std: np.ndarray | None, i: int,
                       digits: int = 5) -> dict:
    """``pred_<p>`` (and ``pred_<p>_std`` when ``std`` is given) of row ``i`` of ``n x P`` arrays."""
    out = {}
    for j, name in enumerate(property_names):
        out[f"pred_{name}"] = round(float(mean[i, j]), digits)
        if std is not None:
            out[f"pred_{name}_std"] = round(float(std[i, j]), digits)
    return out


def predict_with_head(run, z: torch.Tensor, mc_samples: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Property head mean and MC-dropout std (``n x P`` each) at ``n x d`` latents (``n x 0`` without a head)."""
    return predict_in_batches(run.model, z.float(), max(len(z), 1), mc_samples, len(run.config.data.properties))


@torch.no_grad()
def predict_in_batches(model, z: torch.Tensor, batch_size: int, mc_samples: int = 0,
                       n_properties: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n x P`` property-head means and stds of ``n x d`` latents, batch by batch as the decoder runs
    (``n x 0`` without a head; ``mc_samples``: MC-dropout passes, 0 = the deterministic head)."""
    head = model.property_head
    if head is None or not len(z):
        empty = np.zeros((len(z), 0 if head is None else n_properties))
        return empty, empty.copy()
    means, stds = [], []
    for s in range(0, len(z), batch_size):
        m, sd = head.predict(z[s: s + batch_size].to(next(head.parameters()).device), mc_samples)
        means.append(m.cpu().numpy())
        stds.append(sd.cpu().numpy())
    return np.concatenate(means), np.concatenate(stds)


class Domain:
    """Base class of a domain; see the module docstring for the groups of methods.

    Class attributes a domain sets: ``name`` (registry name), ``noun`` (what one item is called in
    messages), ``observation_column`` (the measurements-CSV column holding an item to encode),
    ``file_suffixes`` and ``file_names`` (what ``designer score`` reads), ``score_table_columns`` (printed by the CLI),
    ``report_columns`` (the report's compact table; a row's details hold every column).
    """

    name: str = "domain"
    noun: str = "item"
    user_object_kinds: str = "the objects this domain reads"  # named in errors of the Python API
    observation_column: str = "item"
    file_suffixes: tuple[str, ...] = ()
    file_names: tuple[str, ...] = ()  # file names read whatever their suffix (e.g. POSCAR, CONTCAR_relaxed)
    score_table_columns: tuple[str, ...] = ("id", "reasons")
    report_columns: tuple[str, ...] = ("synthesis_rank", "id", "rank", "objective", "plausibility_percentile",
                                       "synthesis_score", "selected")

    def _missing(self, what: str):
        raise DesignerError(f"the {self.name} domain does not support {what}")

    # ------------------------------------------------------------------ data and model

    def load_training_data(self, cfg, init=None) -> TrainingData:
        """Read ``cfg.data.train``, split off the seeded holdout (``init``: a run being fine-tuned)."""
        self._missing("training")

    def make_loader(self, items: Sequence, batch_size: int, shuffle: bool = False, seed: int = 0,
                    drop_last: bool = False, weights: np.ndarray | None = None):
        """A loader of the domain's items (default: torch's, with a weighted sampler when ``weights``)."""
        sampler = training_sampler(len(items), shuffle, seed, weights)
        # its own generator: starting an epoch's iterator never draws from the global stream (resume)
        return DataLoader(items, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                          generator=torch.Generator().manual_seed(seed))

    def fit_data_scales(self, model, data: TrainingData) -> torch.Tensor:
        """Set what a fresh plug-in learns from its training data; returns the train labels (``n x P``)."""
        self._missing("training")

    def build_plugin(self, cfg, plugin_args: dict):
        """The plug-in (encoder, decoder, reconstruction loss; ``designer.models.vae.DomainPlugin``)."""
        self._missing("models")

    # ------------------------------------------------------------------ generation

    def decode(self, run, z: torch.Tensor, raw: bool = False, on_batch: Callable[[int], None] | None = None,
               mc_samples: int = 0, seed: int = 0) -> Decoded:
        """Decode ``n x d`` latents (one network evaluation each); ``mc_samples``: MC-dropout passes of
        the property head for its std; ``seed``: of any sampling the decoder does."""
        self._missing("decoding")

    def sample(self, run, n: int, seed: int = 0, temperature: float = 1.0, raw: bool = False,
               on_batch: Callable[[int], None] | None = None) -> Decoded:
        """``n`` decodes of seeded prior draws N(0, temperature² I); ``raw`` lifts decode-time repairs."""
        z = run.model.sample_prior(n, generator=torch.Generator().manual_seed(seed), temperature=temperature)
        return self.decode(run, z, raw=raw, on_batch=on_batch, seed=seed)

    def write_samples(self, run, decoded: Decoded, out: Path, on_item: Callable[[], None] | None = None) -> str:
        """Write prior samples (files + ``samples.csv``); returns a one-line summary."""
        self._missing("sample")

    def reconstruct_files(self, run, data: Path, out: Path, raw: bool = False, log: Callable[[str], None] = print,
                          on_item: Callable[[], None] | None = None) -> str:
        """Encode each input of ``data`` (posterior mean), decode once, write and compare; returns a summary."""
        self._missing("reconstruct")

    # ------------------------------------------------------------------ optimiser

    def predict_structure_files(self, run, formulas: list[str], out: Path, k: int = 20, z: int | None = None,
                                prior_draws: int = 2048, seed: int = 0, energies: bool = True, templates: int = 8,
                                log: Callable[[str], None] = print) -> str:
        """Crystal-structure prediction: ``k`` structures per formula written to ``out``."""
        self._missing("structure prediction (predict-structure needs a crystal model)")

    def latent_space(self, run, constraints=None, seed: int = 0):
        """The ``designer.optimize.space.LatentSpace`` of a run with the design constraints."""
        self._missing("design")

    def known_data(self, run) -> KnownData:
        """The run's training inputs, encoded (``Run.training_paths``)."""
        self._missing("design")

    def item_latent(self, run, space, item: str, where: str) -> torch.Tensor:
        """``1 x d`` latent of a user's item given on the command line or in a pipeline (``where``)."""
        self._missing(f"{where}")

    def encode_observed(self, run, items: list[str], wheres: list[str], base: Path) -> np.ndarray:
        """``n x d`` latents of items named in a measurements file (``wheres``: their rows)."""
        self._missing("observing items that were not proposed")

    def mutation_search(self, run, space, known: KnownData, values, objective, settings, plausibility, keys,
                        log: Callable[[str], None]) -> list:
        raise ConfigError(f"design.search: mutations is for sequence pipelines, not {self.name}; use search: latent")

    # ------------------------------------------------------------------ candidates

    def candidate_columns(self, run, obj, row_id: str, info: dict | None = None) -> dict:
        """The columns that describe one decoded object in ``candidates.csv``."""
        return {}

    def write_candidates(self, run, rows: list[dict], objects: list, out: Path, symprec: float = 0.1) -> None:
        """Write the candidates' files (CIF, FASTA, ...) beside ``candidates.csv``."""
        self._missing("export")

    def similarity(self, a, b) -> float:
        """Similarity in [0, 1] of two objects (batch selection trades readiness against it)."""
        return 1.0 if a == b else 0.0

    def duplicates(self, items: list, order) -> list[int | None]:
        """For each item, the index of the better-ranked item it repeats (``order``: best first)."""
        out: list[int | None] = [None] * len(items)
        firsts: dict = {}
        for i in order:
            if items[i] is not None:
                key = self.identity(items[i])
                out[i] = firsts.get(key)
                firsts.setdefault(key, i)
        return out

    def identity(self, obj):
        """A hashable identity of an object for ``duplicates`` (default: the object)."""
        return obj

    # ------------------------------------------------------------------ scoring

    def reads_file(self, path: Path) -> bool:
        """Whether ``designer score`` hands ``path`` to this domain: by ``file_suffixes``, or a name that
        starts with one of ``file_names`` (any case)."""
        path = Path(path)
        return path.suffix.lower() in self.file_suffixes or path.name.upper().startswith(self.file_names)

    def read_files(self, files: list[Path]) -> list[tuple[str, Any, str]]:
        """``[(id, object or None, reason)]``: one entry per object or unreadable file."""
        self._missing("score")

    def score_items(self, run, objects: list, ids: list[str], *, model_columns=None, relax_top: int = 0,
                    relax_steps: int = 200, energies: bool = True, hull_files=None, second_opinion: bool = False,
                    log: Callable[[str], None] = print, jobs: int = 1) -> tuple[list[dict], list[str]]:
        """Scorecard rows of readable objects (``run`` may be None) and notes for the user.

        ``relax_top``, ``relax_steps``, ``energies``, ``hull_files`` and ``second_opinion`` (SevenNet-0
        beside CHGNet) concern domains with energies; others ignore them. ``jobs``: worker processes
        for the per-item work where the domain has any worth fanning out."""
        self._missing("score")

    def write_scored(self, out: Path, objects: list, ids: list[str]) -> None:
        """Files written beside ``scores.csv`` (e.g. symmetrised CIFs); default none."""

    def score_candidates(self, run, objects: list, ids: list[str], cfg, known: KnownData | None = None,
                         log: Callable[[str], None] = print, plausibility=None) -> tuple[list[dict], dict]:
        """Scorecard rows of a design's candidates and a summary for ``summary.json``.

        ``cfg``: the ``scoring:`` section; ``plausibility``: the design's fitted density (for
        model-based columns).
        """
        self._missing("scoring")

    def readiness(self, row: dict, weights: dict) -> float | None:
        """The domain's terms of the synthesis-readiness score of one scored row (None: a gate failed).

        The objective term is added by ``designer.scoring.rank.readiness``.
        """
        return 0.0

    def model_columns(self, run, known: Callable[[], KnownData], plausibility) -> Callable[[list], list[dict]]:
        """A function from objects to one dict of model-based scorecard columns each (``known()``: the
        training data, loaded and encoded on first call only, for domains whose columns need it)."""
        self._missing("model-based scoring")

    # ------------------------------------------------------------------ report

    def report_extras(self, run, rows: list[dict], objects: list) -> dict:
        """Keyword arguments of ``designer.report.page.write_page`` for the rows' detail views
        (``structures``: id -> CIF text; ``alignment``: an ``Alignment``); default none."""
        return {}

    def report_phrases(self, row: dict) -> list[str]:
        """Short phrases saying why a candidate row is worth making, in the domain's terms (the report's
        summary card adds the prediction and plausibility)."""
        return []

    # ------------------------------------------------------------------ Python API

    def user_object(self, obj) -> Any | None:
        """The domain's own form of an object passed from Python (e.g. a pymatgen ``Structure``, a
        Biopython ``SeqRecord``), or None when ``obj`` is not of this domain's kinds."""
        return None

    def encode_objects(self, run, objects: list, names: list[str]) -> torch.Tensor:
        """``n x d`` posterior means of objects in the domain's own form (``user_object``); ``names``
        name them in errors."""
        self._missing("encoding objects from Python")

    def as_user_objects(self, run, decoded: Decoded, ids: list[str]) -> list:
        """Decoded objects as the objects users work with, predictions attached (default: as they are)."""
        return list(decoded.objects)

    # ------------------------------------------------------------------ analysis

    def analysis_raw(self, run, items) -> Any:
        """The plain objects of dataset items (structures, token tensors) for factors and interventions."""
        self._missing("analysis")

    def factors(self, run, raw, y: np.ndarray, names: list[str]) -> tuple[list[str], np.ndarray]:
        """Known factors of variation (``n x F``) and their names, for MIG and correlations."""
        self._missing("analysis")

    def intervention(self, run, raw, mu: torch.Tensor, seed: int) -> tuple[np.ndarray, str]:
        """``n x d`` latent change under a one-factor intervention, and what the intervention is."""
        self._missing("analysis")

    def decode_rows(self, run, z: torch.Tensor) -> list[dict]:
        """One row per latent of what a user reads off a decode (and ``pred_<p>``)."""
        self._missing("analysis")

    def prototype(self, run, row: dict, out: Path) -> dict:
        """Write the decode of z = 0 into ``out``; returns its description."""
        self._missing("analysis")

    def plot_traversals(self, rows: list[dict], dims: list[int], names: list[str], path: Path) -> None:
        self._missing("analysis")

    def plot_interpolation(self, rows: list[dict], names: list[str], path: Path) -> None:
        self._missing("analysis")

    def traversal_summary(self, dim: int, steps: list[dict]) -> str:
        """One markdown line describing a traversal."""
        return f"- z{dim}: {len(steps)} steps"

    def interpolation_summary(self, step: dict, rows: list[dict]) -> str:
        """What one interpolation step decodes to, in words."""
        return ""

    def prior_diversity(self, run, n: int) -> float:
        """How varied ``n`` seeded prior decodes are (beta sweep); higher is more varied."""
        self._missing("the beta sweep's prior diversity")
