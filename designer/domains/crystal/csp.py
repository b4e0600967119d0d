"""Crystal-structure prediction (CSP): a composition in, structures of exactly that composition out.

How a latent is chosen for a composition. A pool of latents is scored by how likely the decoder
makes the target cell: the encoder means of the run's training crystals (each a known structure
type) and ``prior_draws`` seeded draws from the prior (new ones). For a latent ``z`` and a cell of
``N`` atoms with element counts ``c``,

    score(z) = log p(N | z) + max over slot assignments  sum_{s < N} log p(element_s | slot s, z),

the maximum running over the ways of putting the ``N`` atoms of ``c`` on the decoder's first ``N``
slots (a linear assignment). The ``k`` best (latent, cell) pairs are decoded with the atom count
and the elements fixed to the assignment, and the refinement stage then moves only coordinates and
lattice. A reduced formula whose Z is unknown becomes one cell per multiple that fits in
``max_atoms``; the atom-count term chooses among them. Candidates come out in score order, so the
first one is a single sample (``k = 1``), not the best of several by any judge.

Shapes follow BoTorch's docstrings: ``P`` latents in the pool, ``S`` decoder slots, ``V`` elements.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

import numpy as np
import torch
from pymatgen.core import Composition, Element
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from designer.data.crystal_dataset import load_graph_dataset
from designer.domains.crystal import generate
from designer.data import graph_for_structure
from designer.domains.crystal.templates import TemplateBaseline, counts_of
from designer.errors import DataError, DesignerError
from designer.io.text import open_text

#: Substituted training prototypes encoded per cell; chosen on the perov_5 holdout (k=1 match 0.41 -> 0.54
#: with 8; ``designer benchmark perov5-csp --split holdout --templates N``).
DEFAULT_TEMPLATES = 8


@dataclass(frozen=True)
class Cell:
    """One cell to predict: ``label`` as the user wrote it, ``counts`` ``((Z, n), ...)`` sorted by Z."""

    label: str
    counts: tuple[tuple[int, int], ...]

    @property
    def num_atoms(self) -> int:
        return sum(n for _, n in self.counts)

    @property
    def formula(self) -> str:
        return Composition({Element.from_Z(z): n for z, n in self.counts}).formula.replace(" ", "")

    def atomic_numbers(self) -> list[int]:
        """``N`` atomic numbers of the cell, sorted."""
        return [z for z, n in self.counts for _ in range(n)]


def parse_formula(text: str, known: set[int], max_atoms: int, z: int | None = None) -> list[Cell]:
    """The cells a formula stands for.

    A formula whose counts share a factor (``C8``, ``Sr2Ti2O6``) is the exact cell. One whose counts
    are coprime (``SrTiO3``, ``C``) is a reduced formula whose Z is unknown: one cell per multiple
    ``Z * n <= max_atoms``. ``z`` fixes the multiple of the reduced formula instead.

    Raises:
        DataError: naming the formula, when it does not parse, has fractional counts, holds an
            element the model does not know, or cannot fit in ``max_atoms``.
    """
    raw = text.strip()
    try:
        comp = Composition(raw) if raw else None
    except Exception:  # pymatgen raises ValueError or its own errors for an unknown symbol or bad syntax
        comp = None
    if comp is None or not len(comp) or comp.num_atoms <= 0:
        raise DataError(f"formula {text!r}: cannot be parsed; write it like SrTiO3, C8 or Ca(OH)2")
    odd = [str(el) for el in comp if not isinstance(el, Element)]
    if odd:
        raise DataError(f"formula {text!r}: {', '.join(odd)} is not an element")
    counts = {el.Z: float(n) for el, n in comp.items()}
    if any(abs(n - round(n)) > 1e-9 or n < 1 for n in counts.values()):
        raise DataError(f"formula {text!r}: counts must be whole numbers of atoms (e.g. Li2O, not Li0.5O)")
    ints = {k: int(round(v)) for k, v in counts.items()}
    unknown = sorted(Element.from_Z(k).symbol for k in ints if k not in known)
    if unknown:
        raise DataError(f"formula {text!r}: the model does not know {', '.join(unknown)}; use a model trained on "
                        "those elements")
    g = reduce(math.gcd, ints.values())
    reduced = {k: v // g for k, v in ints.items()}
    n_reduced = sum(reduced.values())
    if z is not None:
        multiples = [z]
    elif g > 1:
        multiples = [g]
    else:
        multiples = list(range(1, max_atoms // n_reduced + 1))
    cells = [Cell(raw, tuple(sorted((k, v * m) for k, v in reduced.items()))) for m in multiples]
    cells = [c for c in cells if c.num_atoms <= max_atoms]
    if not cells:
        need = n_reduced * (multiples[0] if multiples else 1)
        raise DataError(f"formula {text!r}: {need} atoms do not fit the model's {max_atoms} atoms per cell")
    return cells


def read_formulas(path: Path) -> list[str]:
    """The ``formula`` column of a CSV file (DataError naming the file when there is none or it is empty)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give formulas or a CSV with a formula column")
    with open_text(path) as fh:  # gzip, UTF-8 (BOM) or UTF-16
        reader = csv.DictReader(fh)
        if "formula" not in (reader.fieldnames or []):
            raise DataError(f"{path}: no 'formula' column (columns: {', '.join(reader.fieldnames or []) or 'none'})")
        rows = [row["formula"].strip() for row in reader if (row.get("formula") or "").strip()]
    if not rows:
        raise DataError(f"{path}: the formula column is empty")
    return rows


def assign_elements(slot_logp: np.ndarray, cell_types: np.ndarray) -> tuple[np.ndarray, float]:
    """The best way to put a cell's atoms on the decoder's slots.

    Args:
        slot_logp: ``N x V`` element log-scores of the first ``N`` slots.
        cell_types: ``N`` vocabulary indices of the cell's atoms (with repeats).

    Returns:
        ``(types, score)``: ``N`` vocabulary index per slot, and the summed log-score.
    """
    cost = -slot_logp[:, cell_types]  # N slots x N atoms
    rows, cols = linear_sum_assignment(cost)
    types = np.empty(len(cell_types), dtype=np.int64)
    types[rows] = cell_types[cols]
    return types, float(-cost[rows, cols].sum())


def score_cell(num_atoms_logp: Tensor, slot_logp: Tensor, cell_types: np.ndarray, k: int,
               start: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` best latents of a pool for one cell, exactly, with a cheap bound to skip most assignments.

    The bound replaces the assignment by each slot's best element of the cell; the assignment is
    solved for latents in decreasing bound until the ``k``-th exact score beats every bound left.

    Args:
        num_atoms_logp: ``P x S`` log p(N | z).
        slot_logp: ``P x S x V`` element log-scores per slot.
        cell_types: ``N`` vocabulary indices of the cell's atoms.

    Returns:
        ``(index, score, types)``: ``k' = min(k, P)`` pool indices in decreasing score, their scores
        and their ``k' x N`` slot types.
    """
    n = len(cell_types)
    if k <= 0 or len(slot_logp) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros((0, n), dtype=np.int64)
    uniq = np.unique(cell_types)
    part = slot_logp[:, :n, torch.as_tensor(uniq, device=slot_logp.device)]  # P x N x U
    bound = (num_atoms_logp[:, n - 1] + part.max(-1).values.sum(-1)).double().cpu().numpy()
    order = np.argsort(-bound, kind="stable")
    k = min(k, len(order))
    exact: dict[int, tuple[float, np.ndarray]] = {}
    m = min(len(order), max(start, 2 * k))
    while True:
        todo = [int(i) for i in order[:m] if int(i) not in exact]
        if todo:
            sl = slot_logp[todo, :n].double().cpu().numpy()
            na = num_atoms_logp[todo, n - 1].double().cpu().numpy()
            for j, i in enumerate(todo):
                types, s = assign_elements(sl[j], cell_types)
                exact[i] = (float(na[j]) + s, types)
        best = sorted(exact, key=lambda i: -exact[i][0])[:k]
        if m >= len(order) or exact[best[-1]][0] >= bound[order[m]]:
            break
        m = min(len(order), 2 * m)
    idx = np.array(best, dtype=np.int64)
    return idx, np.array([exact[i][0] for i in best]), np.stack([exact[i][1] for i in best])


@dataclass
class Prediction:
    """``k`` predicted structures of one formula, in score order (the first is the single sample).

    ``structures``: pymatgen Structures (None where construction failed); ``cells``: the cell each
    was decoded for; ``scores``: the latent's log-likelihood of its cell; ``sources``: ``"training
    <id>"`` or ``"prior"``; ``z``: ``k x d``.
    """

    formula: str
    structures: list
    cells: list[Cell]
    scores: np.ndarray
    sources: list[str]
    z: Tensor


@torch.no_grad()
def pool_scores(run, z: Tensor, batch_size: int = 2048) -> tuple[Tensor, Tensor]:
    """``(P x S log p(N | z), P x S x V slot log-scores)`` of a pool of latents, on the model's device."""
    model = run.model.eval()
    device = next(model.parameters()).device
    if len(z) == 0:
        plugin = model.plugin
        v = len(plugin.atomic_numbers)
        s_max = int(run.config.data.max_atoms)
        return torch.empty(0, s_max, device=device), torch.empty(0, s_max, v, device=device)
    na, sl = [], []
    for s in range(0, len(z), batch_size):
        out = model.decode(z[s: s + batch_size].to(device))
        na.append(torch.log_softmax(out["num_atoms_logits"], -1))
        sl.append(model.plugin.slot_log_probs(out))
    return torch.cat(na), torch.cat(sl)


@torch.no_grad()
def decode_cells(run, z: Tensor, cells: list[Cell], types: list[np.ndarray], refine_steps: int | None = None,
                 batch_size: int = 1024) -> list:
    """Decode ``B x d`` latents with each one's atom count and slot elements fixed, then refine.

    Args:
        types: ``B`` arrays of ``N_b`` vocabulary indices (the first ``N_b`` slots of latent ``b``).
    """
    model = run.model.eval()
    plugin = model.plugin
    device = next(model.parameters()).device
    out_structures = []
    for s in range(0, len(z), batch_size):
        zb = z[s: s + batch_size].to(device)
        out = model.decode(zb)
        full = plugin.slot_log_probs(out).argmax(-1)
        n = torch.tensor([cells[s + b].num_atoms for b in range(len(zb))], device=device)
        for b in range(len(zb)):
            full[b, : int(n[b])] = torch.as_tensor(types[s + b], device=device)
        out = plugin.refine_decoded({**out, "num_atoms": n}, full, refine_steps)
        out_structures += plugin.to_structures(out)
    return out_structures


class StructurePredictor:
    """CSP with one run: the latent pool is built once, then any number of formulas are predicted.

    Args:
        run: a loaded crystal run (``designer.runs.load_run``).
        prior_draws: seeded prior latents added to the training latents.
        use_training: whether the training crystals' latents are in the pool.
        training: ``(records, P_t x d latents)`` of the training crystals, when the caller has them.
        templates: per cell, this many substituted training prototypes (``templates.TemplateBaseline``)
            are encoded and scored beside the pool, so a known structure type with the target's
            elements can be chosen and then adapted by the decoder (0: none).
    """

    def __init__(self, run, prior_draws: int = 2048, seed: int = 0, use_training: bool = True, training=None,
                 templates: int = DEFAULT_TEMPLATES):
        self.run = run
        plugin = run.model.plugin
        self.vocab = [int(a) for a in plugin.atomic_numbers.tolist()]
        self.index = {a: i for i, a in enumerate(self.vocab)}
        self.max_atoms = int(run.config.data.max_atoms)
        self.training_records = []
        zs, self.sources = [], []
        self.n_templates = templates
        self.templates = None
        if use_training or templates:
            records, mu = training if training is not None else _training_latents(run)
            self.training_records = records
            if templates:
                self.templates = TemplateBaseline([r.to_structure() for r in records])
        if use_training:
            zs.append(mu.cpu())
            self.sources += [f"training {r.id}" for r in records]
        if prior_draws:
            gen = torch.Generator().manual_seed(seed)
            zs.append(run.model.sample_prior(prior_draws, generator=gen).cpu())
            self.sources += ["prior"] * prior_draws
        if not zs and not templates:
            raise ValueError("the latent pool is empty: give prior_draws > 0, use_training or templates")
        self.z = torch.cat(zs) if zs else torch.empty(0, run.model.latent_dim)
        self.num_atoms_logp, self.slot_logp = pool_scores(run, self.z)

    def cells(self, formula: str, z: int | None = None) -> list[Cell]:
        return parse_formula(formula, set(self.vocab), self.max_atoms, z)

    def predict(self, formula: str | list[Cell], k: int = 20, refine_steps: int | None = None) -> Prediction:
        """The ``k`` best (latent, cell) pairs of a formula (or of given cells), decoded and refined."""
        return self.predict_many([formula], k, refine_steps)[0]

    def predict_many(self, formulas: list[str | list[Cell]], k: int = 20, refine_steps: int | None = None,
                     batch_size: int = 1024) -> list[Prediction]:
        """``predict`` for many formulas, ranked one by one and decoded together in batches.

        A candidate is ``(score, latent, source)``: pool latents by index into ``self.z``, template
        latents (``templates > 0``) encoded here for each cell.
        """
        groups = [self.cells(f) if isinstance(f, str) else list(f) for f in formulas]
        extra = self._template_latents([c for cells in groups for c in cells])
        plans = []
        for formula, cells in zip(formulas, groups):
            ranked = []
            for c in cells:
                cell_types = np.array([self.index[a] for a in c.atomic_numbers()], dtype=np.int64)
                idx, score, types = score_cell(self.num_atoms_logp, self.slot_logp, cell_types, k)
                ranked += [(float(sc), self.z[int(i)], self.sources[int(i)], c, t) for i, sc, t in zip(idx, score, types)]
                z_t, src_t, na_t, sl_t = extra.get(c, (None, [], None, None))
                if z_t is not None:
                    idx, score, types = score_cell(na_t, sl_t, cell_types, k)
                    ranked += [(float(sc), z_t[int(i)], src_t[int(i)], c, t) for i, sc, t in zip(idx, score, types)]
            ranked.sort(key=lambda x: -x[0])
            plans.append((formula if isinstance(formula, str) else cells[0].label, ranked[:k]))
        flat = [x for _, ranked in plans for x in ranked]
        z = torch.stack([x[1] for x in flat]) if flat else self.z[:0]
        structures = decode_cells(self.run, z, [x[3] for x in flat], [x[4] for x in flat], refine_steps, batch_size)
        out, at = [], 0
        for label, ranked in plans:
            m = len(ranked)
            out.append(Prediction(label, structures[at: at + m], [x[3] for x in ranked], np.array([x[0] for x in ranked]),
                                  [x[2] for x in ranked], z[at: at + m]))
            at += m
        return out

    def _template_latents(self, cells: list[Cell]) -> dict:
        """Cell -> ``(m x d latents, m sources, m x S, m x S x V scores)`` of its encoded templates."""
        if self.templates is None or not self.n_templates:
            return {}
        d = self.run.config.data
        vocab = generate.vocab_of(self.run)
        graphs, owners, sources = [], [], []
        for c in dict.fromkeys(cells):  # each distinct cell once
            for i, s in self.templates.ranked(dict(c.counts), self.n_templates):
                try:
                    graphs.append(graph_for_structure(s, vocab, d.cutoff, d.max_neighbors,
                                                      where=f"template of {c.formula}", max_atoms=d.max_atoms))
                except DesignerError:  # a rescaled template outside the cell limits: not a candidate
                    continue
                owners.append(c)
                sources.append(f"template {self.training_records[i].id}")
        if not graphs:
            return {}
        mu = generate.encode(self.run, graphs)[0].cpu()
        na, sl = pool_scores(self.run, mu)
        rows: dict[Cell, list[int]] = {}
        for j, o in enumerate(owners):
            rows.setdefault(o, []).append(j)
        return {c: (mu[r], [sources[j] for j in r], na[r], sl[r]) for c, r in rows.items()}


def cell_of(structure, label: str = "") -> Cell:
    """The exact cell of a pymatgen Structure (ordered sites)."""
    return Cell(label or structure.composition.reduced_formula, tuple(sorted(counts_of(structure).items())))


def _training_latents(run):
    """``(records, P_t x d posterior means)`` of the run's training crystals."""
    d = run.config.data
    paths = run.training_paths()
    if not paths:
        raise DataError(f"{d.train}: the run's training data is not found; structure prediction puts its training "
                        "latents in the pool: restore the files, or use prior draws only")
    records, graphs, _ = load_graph_dataset(paths, [], generate.vocab_of(run), d.cutoff, d.max_neighbors,
                                            d.max_atoms, d.cache)
    return records, generate.encode(run, graphs)[0]
