"""The Python API: the functions the ``designer`` command line calls, for notebooks and scripts.

>>> import designer
>>> model = designer.load("perov5")          # a shipped name, a run folder or a model.pt
>>> model
Model('perov5': crystal, latent_dim 64, properties ['heat_ref'], cpu)
>>> out = model.sample(2, seed=0)             # pymatgen Structures carrying their predictions
>>> [s.composition.reduced_formula for s in out]
['KPdNOF', 'Pt2NO2']
>>> list(out.table.columns)
['id', 'formula', 'num_atoms', 'volume', 'density', 'pred_heat_ref', 'pred_heat_ref_std']
>>> tuple(model.encode(out.objects).shape)  # posterior means, n x d
(2, 64)
>>> [s.composition.reduced_formula for s in model.decode(out.z)]
['KPdNOF', 'Pt2NO2']
>>> list(model.predict(out.objects).columns)
['pred_heat_ref', 'pred_heat_ref_std', 'plausibility_percentile', 'log_density']
>>> designer.score(out.objects, energies=False)["charge_neutral"].tolist()
[True, True]
>>> result = designer.design("perov5", out="outputs/api_design", **{"design.rounds": 1})  # doctest: +SKIP
>>> result.candidates.head()                                                                  # doctest: +SKIP

Objects are the field's own: pymatgen ``Structure`` (``ase.Atoms`` is accepted too) for crystal
models, Biopython ``SeqRecord`` (or a ``Seq`` or a one-letter string) for sequence models. Every
bad input raises ``designer.DesignerError`` with the one-line message the command line prints.
Tensors come back on the CPU, whatever device the model runs on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from designer.domains import domain_names, get_domain
from designer.domains.base import Decoded, prediction_columns
from designer.errors import DataError, DesignerError
from designer.runs import Run, load_run

__all__ = ["Generated", "Model", "DesignOutput", "load", "design", "score"]


@dataclass
class Generated:
    """Decoded objects with their latents and predicted properties.

    Attributes:
        objects: ``n`` pymatgen ``Structure``s or Biopython ``SeqRecord``s (None where a crystal's cell
            could not be built); each carries its ``id`` and ``pred_<property>`` values
            (``structure.properties`` / ``record.annotations``).
        z: ``n x d`` latents (CPU).
        table: one row per object: ``id``, ``pred_<p>``, ``pred_<p>_std`` (MC-dropout spread).
    """

    objects: list
    z: Tensor
    table: pd.DataFrame

    def __len__(self) -> int:
        return len(self.objects)

    def __iter__(self):
        return iter(self.objects)

    def __getitem__(self, i):
        return self.objects[i]


class Model:
    """A trained designer model (``designer.load``): sample, encode, decode and predict.

    Attributes:
        run: the underlying ``designer.runs.Run`` (the ``BetaVAE``, its pipeline config, its path).
        domain: the registered domain's name (``crystal`` or ``sequence``).
        properties: names of the property head's outputs (empty without a head).
        latent_dim: ``d``.
    """

    def __init__(self, run: Run, source: str):
        self.run = run
        self._source = source
        self._domain = get_domain(run)
        self._plausibility = None

    def __repr__(self) -> str:
        return (f"Model({self.run.config.name!r}: {self.domain}, latent_dim {self.latent_dim}, "
                f"properties {self.properties}, {self.device})")

    @property
    def domain(self) -> str:
        return self._domain.name

    @property
    def properties(self) -> list[str]:
        return list(self.run.config.data.properties)

    @property
    def latent_dim(self) -> int:
        return int(self.run.config.model.latent_dim)

    @property
    def device(self) -> torch.device:
        return next(self.run.model.parameters()).device

    def to(self, device: str | torch.device) -> "Model":
        """Move the network to ``device`` (``"cuda"``, ``"cpu"``, ...); returns ``self``."""
        self.run.model.to(device)
        return self

    # ------------------------------------------------------------------ generation

    def sample(self, n: int, seed: int = 0, temperature: float = 1.0, raw: bool = False,
               on_batch: Callable[[int], None] | None = None) -> Generated:
        """Decode ``n`` seeded draws from the prior N(0, temperature² I).

        Args:
            n: how many objects.
            seed: seed of the prior draws (the same seed gives the same objects).
            temperature: scale of the prior.
            raw: crystals: each slot's most likely element, no charge-neutral re-ranking;
                sequences: gaps allowed where the training alignment has none.
            on_batch: called with the number of objects after each decoded batch (progress).

        Returns:
            ``Generated`` with ``n`` objects, ``n x d`` latents and the prediction table.
        """
        _check_count(n, "n")
        dec = self._domain.sample(self.run, int(n), seed=int(seed), temperature=float(temperature), raw=raw,
                                  on_batch=on_batch)
        return self._generated(dec, "sample")

    def decode(self, z: Tensor | np.ndarray | Sequence[Sequence[float]], raw: bool = False) -> Generated:
        """Decode latents ``z`` (``n x d``, or one ``d``-vector) into objects, one network evaluation each
        (plus the crystal decoder's refinement steps)."""
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32) if not isinstance(z, Tensor) else z, dtype=torch.float32)
        if zt.dim() == 1:
            zt = zt.unsqueeze(0)
        if zt.dim() != 2 or zt.shape[1] != self.latent_dim:
            raise DataError(f"decode: z has shape {tuple(zt.shape)}; give n x {self.latent_dim} latents")
        if not torch.isfinite(zt).all():
            raise DataError("decode: z holds NaN or infinite values; give finite latents")
        dec = self._domain.decode(self.run, zt.to(self.device))
        return self._generated(dec, "decoded")

    def _generated(self, dec: Decoded, prefix: str) -> Generated:
        from designer.domains.base import predict_with_head

        n = len(dec.objects)
        width = len(str(max(n - 1, 0)))
        ids = [f"{prefix}_{i:0{width}d}" for i in range(n)]
        # every domain's predictions with the same MC-dropout spread (decoders differ in what they compute)
        dec.properties, dec.property_std = predict_with_head(self.run, dec.z.to(self.device))
        rows = []
        for i, (sid, obj) in enumerate(zip(ids, dec.objects)):
            described = self._domain.candidate_columns(self.run, obj, sid) if obj is not None else {}
            rows.append({"id": sid, **{k: v for k, v in described.items() if k != "file"},
                         **prediction_columns(self.properties, dec.properties, dec.property_std, i)})
        objects = self._domain.as_user_objects(self.run, dec, ids)
        return Generated(objects, dec.z.detach().cpu(), pd.DataFrame(rows))

    # ------------------------------------------------------------------ latents and predictions

    def encode(self, objects: Iterable) -> Tensor:
        """Posterior means of ``objects``: an ``n x d`` CPU tensor.

        Args:
            objects: pymatgen ``Structure``s / ``ase.Atoms`` (crystal models), ``SeqRecord``s, ``Seq``s or
                one-letter strings (sequence models); a single object is taken as a list of one.
        """
        own, names = self._own(objects)
        return self._domain.encode_objects(self.run, own, names).detach().cpu()

    def predict(self, objects: Iterable) -> pd.DataFrame:
        """The property head and the plausibility density on ``objects``.

        Returns:
            one row per object: ``pred_<p>`` and ``pred_<p>_std`` (MC-dropout) for each property, and
            ``plausibility_percentile`` (0-100: the share of training items the density rates lower)
            with ``log_density``.
        """
        from designer.domains.base import predict_with_head

        z = self.encode(objects)
        mean, std = predict_with_head(self.run, z.to(self.device))
        plaus = self.plausibility()
        rows = []
        for i in range(len(z)):
            rows.append(prediction_columns(self.properties, mean, std, i))
        df = pd.DataFrame(rows, index=range(len(z)))
        df["plausibility_percentile"] = np.round(np.asarray(plaus.percentile(z.numpy()), dtype=float), 2)
        df["log_density"] = np.round(np.asarray(plaus.log_density(z.numpy()), dtype=float), 4)
        return df

    def plausibility(self):
        """The density of the training latents (``designer.optimize.plausibility.Plausibility``): shipped with
        the model, cached beside the run, or fitted once on first use."""
        if self._plausibility is None:
            from designer.workflow.state import run_plausibility

            self._plausibility = run_plausibility(self.run, self._source,
                                                  lambda: self._domain.known_data(self.run).mu,
                                                  seed=self.run.config.seed)
        return self._plausibility

    def _own(self, objects) -> tuple[list, list[str]]:
        if isinstance(objects, (str, bytes)) or not isinstance(objects, Iterable) or _is_single(objects):
            objects = [objects]
        own, names = [], []
        for i, obj in enumerate(objects):
            converted = self._domain.user_object(obj)
            if converted is None:
                raise DataError(f"object {i}: a {type(obj).__name__} is not a {self._domain.noun} this "
                                f"{self.domain} model reads; give {self._domain.user_object_kinds}")
            own.append(converted)
            names.append(f"object {i}" + (f" ({_label(obj)})" if _label(obj) else ""))
        if not own:
            raise DataError("no objects given; pass a list of them")
        return own, names


def _is_single(obj) -> bool:
    """A pymatgen ``Structure`` / ``ase.Atoms`` / Biopython record iterates over its sites or letters: one object."""
    mod = type(obj).__module__ or ""
    return mod.startswith(("pymatgen", "ase", "Bio"))


def _label(obj) -> str:
    """A record's id, else a structure's formula, else nothing (to name the object in errors)."""
    rid = getattr(obj, "id", None)
    if isinstance(rid, str) and rid:
        return rid
    return getattr(getattr(obj, "composition", None), "reduced_formula", None) or ""


def _check_count(n, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DataError(f"{what}={n!r}: give a positive whole number")


def load(run: str | Path, device: str | torch.device | None = None) -> Model:
    """Load a model: a run folder (with ``model.pt``), a model file, or a shipped name (``perov5``,
    ``carbon24``, ``mp20_subset``, ``gfp``, ...).

    Args:
        run: where the model is.
        device: move the network there (default: the CPU).
    """
    r = load_run(run)
    m = Model(r, str(run))
    if device is not None:
        m.to(device)
    return m


# ---------------------------------------------------------------------- design


@dataclass
class DesignOutput:
    """What ``designer.design`` made.

    Attributes:
        candidates: the ranked table (``candidates.csv``) as a DataFrame.
        files: the candidates' files (CIF / FASTA / extxyz), the table, ``summary.json`` and ``report.html``.
        out: the output folder.
        summary: ``summary.json`` as a dict.
    """

    candidates: pd.DataFrame
    files: list[Path]
    out: Path
    summary: dict = field(default_factory=dict)


def _overrides(overrides: dict[str, Any]) -> list[str]:
    """``{"design.rounds": 2, "design__q": 8}`` -> ``["design.rounds=2", "design.q=8"]`` (values as YAML)."""
    return [f"{k.replace('__', '.')}={json.dumps(v)}" for k, v in overrides.items()]


def _pipeline_path(pipeline: str | Path) -> Path:
    from designer.resources import pipeline_file, shipped_pipelines

    p = Path(pipeline)
    if p.exists() or p.suffix in (".yaml", ".yml"):
        return p
    shipped = pipeline_file(str(pipeline))
    if shipped is None:
        raise DesignerError(f"{pipeline}: no such pipeline file or shipped pipeline; shipped: "
                            f"{', '.join(shipped_pipelines())}")
    return shipped


def design(pipeline: str | Path, run: str | None = None, out: str | Path | None = None, seed: int | None = None,
           overwrite: bool = False, one_shot: bool = False, log: Callable[[str], None] | None = print,
           progress: bool = False, set_: Sequence[str] = (), **overrides: Any) -> DesignOutput:
    """The whole design run of a pipeline: optimise in latent space, decode, score, export.

    Args:
        pipeline: a pipeline YAML file, or a shipped pipeline's name (``perov5``, ``gfp``, ...).
        run: the model (default: ``runs/<name>``, else the shipped model, else one is trained).
        out: output folder (default ``<design.output>/<name>_design``).
        seed: the optimiser's seed (default: the pipeline's).
        overwrite: replace a complete earlier output in ``out``.
        one_shot: crystals: decode without the refinement stage.
        log: where progress lines go (None: nowhere).
        set_: overrides as the command line's ``--set`` takes them (``["design.rounds=1"]``).
        **overrides: pipeline values, dotted (``**{"design.rounds": 1}``) or with ``__``
            (``design__rounds=1``).

    Returns:
        ``DesignOutput`` (``.candidates`` DataFrame, ``.files``, ``.out``, ``.summary``).
    """
    from designer.config import load_pipeline
    from designer.workflow.run import design as run_design

    cfg, _ = load_pipeline(_pipeline_path(pipeline), list(set_) + _overrides(overrides))
    res = run_design(cfg, run=run, out=Path(out) if out is not None else None, seed=seed,
                     log=log or (lambda m: None), progress=progress, one_shot=one_shot, overwrite=overwrite)
    table = pd.read_csv(res.table) if res.table.exists() else pd.DataFrame()
    files = sorted(p for p in res.out.iterdir() if p.is_file() and not p.name.startswith("."))
    return DesignOutput(table, files, res.out, res.summary)


# ---------------------------------------------------------------------- score


def score(inputs: str | Path | Iterable, out: str | Path | None = None, run: str | None = None,
          energies: bool = True, relax_top: int = 0, relax_steps: int = 200, second_opinion: bool = False,
          jobs: int = 1, log: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The synthesis scorecard of files or objects: one row each (an unreadable file gets its reason).

    Args:
        inputs: paths (CIF, extxyz, POSCAR, .vasp, ASE .db, FASTA, or folders of them), or objects
            (pymatgen ``Structure`` / ``ase.Atoms``, Biopython ``SeqRecord`` / ``Seq``); strings are paths.
        run: a model for the model columns (plausibility, predicted properties, likelihood, novelty).
        out: also write ``scores.csv`` (and symmetrised CIFs) there; None writes nothing.
        energies: crystals: CHGNet energies and the hull (False: geometry, charge balance, symmetry only).
        relax_top: crystals: relax the first N readable structures with CHGNet.
        second_opinion: crystals: SevenNet-0's energy above hull beside CHGNet's.
        jobs: worker processes.

    Returns:
        the table as a DataFrame (``.attrs["notes"]``: what the scoring wants the user to know;
        ``.attrs["domain"]``: the domain that read the inputs).
    """
    from designer.workflow.score_files import read_inputs, score_items, write_scores

    items_in = [inputs] if isinstance(inputs, (str, Path)) or _is_single(inputs) else list(inputs)
    if not items_in:
        raise DataError("score: no inputs given; pass paths or objects")
    paths = [x for x in items_in if isinstance(x, (str, Path))]
    if paths and len(paths) != len(items_in):
        raise DataError("score: give either paths or objects in one call, not both")
    if paths:
        name, items = read_inputs([Path(p) for p in paths])
    else:
        name, items = _objects_as_items(items_in)
    rows, notes, objects, ids = score_items(name, items, run=run, relax_top=relax_top, relax_steps=relax_steps,
                                            energies=energies, second_opinion=second_opinion,
                                            log=log or (lambda m: None), jobs=jobs)
    if out is not None:
        write_scores(name, rows, notes, objects, ids, Path(out))
    df = pd.DataFrame(rows)
    df.attrs["notes"] = notes
    df.attrs["domain"] = name
    return df


def _objects_as_items(objects: list) -> tuple[str, list[tuple[str, object, str]]]:
    """``(domain name, [(id, object, "")])`` of in-memory objects, all of one domain."""
    name, items = None, []
    for i, obj in enumerate(objects):
        found = None
        for candidate in dict.fromkeys(get_domain(n) for n in domain_names()):  # each domain once
            converted = candidate.user_object(obj)
            if converted is not None:
                found = (candidate.name, converted)
                break
        if found is None:
            raise DataError(f"score: object {i} is a {type(obj).__name__}; give pymatgen Structures, ase.Atoms, "
                            "Biopython SeqRecords / Seqs, or paths")
        if name is not None and found[0] != name:
            raise DataError(f"score: object {i} is a {found[0]} object but object 0 is a {name} object; score one kind per call")
        name = found[0]
        rid = getattr(obj, "id", None)
        items.append((rid if isinstance(rid, str) and rid else f"item_{i}", found[1], ""))
    return name, items
