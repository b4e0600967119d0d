"""The crystal ``LatentSpace``: decode, check validity and design constraints, re-encode, deduplicate by structure."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from pymatgen.core import Element

from designer.config import ConstraintsConfig
from designer.data import graph_for_structure
from designer.domains.base import predict_with_head
from designer.errors import ConfigError
from designer.domains.crystal.generate import decode_latents, encode, vocab_of
from designer.metrics import StructureIndex, composition_validity, structure_validity
from designer.optimize.space import Candidate


def crystal_key(structure) -> tuple:
    """Identity for deduplication: reduced formula, atom count and volume per atom to 0.1 Å^3."""
    return (structure.composition.reduced_formula, len(structure), round(structure.volume / len(structure), 1))


def check_element_constraints(c: ConstraintsConfig, known: list[str]) -> None:
    """``allowed_elements`` / ``forbidden_elements`` must be elements the model can decode (ConfigError naming them).

    An allowed element outside the model's vocabulary would make every candidate fail the
    constraint after the whole search; a forbidden one would forbid nothing, which hides a typo.
    """
    for key, values in (("allowed_elements", c.allowed_elements or []), ("forbidden_elements", c.forbidden_elements)):
        odd = [v for v in values if v not in known]
        if odd:
            not_elements = [v for v in odd if not Element.is_valid_symbol(v)]
            what = (f"{', '.join(map(repr, not_elements))} {'is' if len(not_elements) == 1 else 'are'} not an element"
                    if not_elements else f"the model never decodes {', '.join(odd)}")
            raise ConfigError(f"design.constraints.{key}: {what}; the model knows {len(known)} elements "
                              f"({', '.join(known[:30])}{', ...' if len(known) > 30 else ''})")
    if c.allowed_elements is not None and not set(c.allowed_elements) - set(c.forbidden_elements):
        raise ConfigError("design.constraints: every allowed element is also forbidden; nothing could be proposed")


class CrystalSpace:
    """A crystal run's latent space with element and size constraints."""

    def __init__(self, run, constraints: ConstraintsConfig | None = None):
        self.run = run
        self.constraints = constraints or ConstraintsConfig()
        check_element_constraints(self.constraints, vocab_of(run).symbols())
        self.latent_dim = run.model.latent_dim
        self.property_names = list(run.config.data.properties)
        self._index = StructureIndex()  # known and decoded structures -> their keys

    def remember(self, structures: list, keys: list) -> None:
        """Structures (training data, earlier proposals) whose repeats take their key."""
        for s, k in zip(structures, keys):
            if s is not None:
                self._index.add(s, k)

    def remember_latents(self, z: Tensor, keys: list) -> None:
        """Decode ``n x d`` latents of earlier proposals and remember them under their keys."""
        if len(z):
            self.remember(decode_latents(self.run, z.float()).structures, keys)

    def key(self, s) -> tuple:
        """The deduplication key: that of a remembered or earlier-decoded structure it matches
        (same reduced formula, StructureMatcher as the novelty check: a slightly larger copy of a
        cell is the same candidate), else ``crystal_key``."""
        k = self._index.find(s)
        if k is None:
            k = crystal_key(s)
            self._index.add(s, k)
        return k

    def encode(self, structures: list, wheres: list[str] | None = None) -> Tensor:
        """``n x d`` posterior means; ``wheres`` name the structures in errors (an unknown element, too many atoms)."""
        d = self.run.config.data
        vocab = vocab_of(self.run)
        wheres = wheres or [f"candidate {i}" for i in range(len(structures))]
        graphs = [graph_for_structure(s, vocab, d.cutoff, d.max_neighbors, where=w, max_atoms=d.max_atoms)
                  for s, w in zip(structures, wheres)]
        return encode(self.run, graphs)[0]

    def violation(self, s) -> str | None:
        c = self.constraints
        if s is None:
            return "invalid: the decoded cell could not be built"
        if not structure_validity(s):
            return "invalid: atoms closer than 0.5 Å or a degenerate cell"
        if not composition_validity(s):
            return "invalid: not charge-balanced (SMACT)"
        symbols = {el.symbol for el in s.composition.elements}
        if c.allowed_elements is not None and not symbols <= set(c.allowed_elements):
            return f"constraint: elements {sorted(symbols - set(c.allowed_elements))} not allowed"
        if symbols & set(c.forbidden_elements):
            return f"constraint: forbidden elements {sorted(symbols & set(c.forbidden_elements))}"
        if c.max_atoms is not None and len(s) > c.max_atoms:
            return f"constraint: {len(s)} atoms > max_atoms {c.max_atoms}"
        return None

    def decode(self, z: Tensor) -> list[Candidate]:
        structures = decode_latents(self.run, z.float()).structures
        cands = []
        for i, s in enumerate(structures):
            violation = self.violation(s)
            key = ("invalid", i) if s is None else crystal_key(s) if violation else self.key(s)
            cands.append(Candidate(key, s, z[i].detach().cpu().numpy().copy(), violation=violation))
        ok = [c for c in cands if c.violation is None]
        if ok:
            zr = self.encode([c.obj for c in ok]).cpu().numpy()
            for c, row in zip(ok, zr):
                c.z_roundtrip = row
        return cands

    def predict(self, z: Tensor) -> tuple[np.ndarray, np.ndarray]:
        return predict_with_head(self.run, z)
