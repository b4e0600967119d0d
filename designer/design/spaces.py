"""``LatentSpace`` implementations for the two domains: decode, check validity and design constraints, re-encode."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from designer.config import ConstraintsConfig
from designer.optimize.space import Candidate
from designer.runs import Run


def crystal_key(structure) -> tuple:
    """Identity for deduplication: reduced formula, atom count and volume per atom to 0.1 Å^3."""
    return (structure.composition.reduced_formula, len(structure), round(structure.volume / len(structure), 1))


class CrystalSpace:
    """A crystal run's latent space with element and size constraints."""

    def __init__(self, run: Run, constraints: ConstraintsConfig | None = None):
        self.run = run
        self.constraints = constraints or ConstraintsConfig()
        self.latent_dim = run.model.latent_dim
        self.property_names = list(run.config.data.properties)
        self._index = None  # designer.metrics.StructureIndex of known and decoded structures -> their keys

    def _structures(self):
        if self._index is None:
            from designer.metrics import StructureIndex

            self._index = StructureIndex()
        return self._index

    def remember(self, structures: list, keys: list) -> None:
        """Structures (training data, earlier proposals) whose repeats take their key."""
        for s, k in zip(structures, keys):
            if s is not None:
                self._structures().add(s, k)

    def key(self, s) -> tuple:
        """The deduplication key: that of a remembered or earlier-decoded structure it matches
        (same reduced formula, StructureMatcher as the novelty check: a slightly larger copy of a
        cell is the same candidate), else ``crystal_key``."""
        k = self._structures().find(s)
        if k is None:
            k = crystal_key(s)
            self._structures().add(s, k)
        return k

    def encode(self, structures: list) -> Tensor:
        from designer.data import graph_for_structure
        from designer.generate import encode, vocab_of

        d = self.run.config.data
        graphs = [graph_for_structure(s, vocab_of(self.run), d.cutoff, d.max_neighbors, where=f"candidate {i}")
                  for i, s in enumerate(structures)]
        return encode(self.run, graphs)[0]

    def violation(self, s) -> str | None:
        from designer.metrics import composition_validity, structure_validity

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
        from designer.generate import decode_latents

        structures = decode_latents(self.run, z.float()).structures
        cands = []
        for i, s in enumerate(structures):
            violation = self.violation(s)
            key = ("invalid", i) if s is None else crystal_key(s) if violation else self.key(s)
            cands.append(Candidate(key, s, z[i].detach().numpy().copy(), violation=violation))
        ok = [c for c in cands if c.violation is None]
        if ok:
            zr = self.encode([c.obj for c in ok]).numpy()
            for c, row in zip(ok, zr):
                c.z_roundtrip = row
        return cands

    def predict(self, z: Tensor) -> tuple[np.ndarray, np.ndarray]:
        head = self.run.model.property_head
        if head is None:
            return np.zeros((len(z), 0)), np.zeros((len(z), 0))
        m, s = head.predict(z.float(), mc_samples=20)
        return m.numpy(), s.numpy()


class ProteinSpace:
    """A protein run's latent space; fixed positions are kept as in the reference, a mutation cap is enforced."""

    def __init__(self, run: Run, constraints: ConstraintsConfig | None = None, temperature: float = 0.0, seed: int = 0):
        self.run = run
        self.constraints = constraints or ConstraintsConfig()
        self.latent_dim = run.model.latent_dim
        self.property_names = list(run.config.data.properties)
        self.temperature = temperature
        self.generator = torch.Generator().manual_seed(seed)
        base = run.config.data.sequences.index_base
        self.index_base = 1 if base is None else base
        L = run.model.plugin.length
        self.fixed = np.array([p - self.index_base for p in self.constraints.fixed_positions], dtype=int)
        bad = [p for p in self.constraints.fixed_positions if not 0 <= p - self.index_base < L]
        if bad:
            from designer.errors import ConfigError

            raise ConfigError(f"design.constraints.fixed_positions: {bad} outside the {L}-residue reference "
                              f"(positions are {self.index_base}-based)")

    def encode(self, tokens: Tensor) -> Tensor:
        from designer.generate_protein import encode

        return encode(self.run, tokens)[0]

    def decode(self, z: Tensor) -> list[Candidate]:
        from designer.data.protein_dataset import decode_tokens
        from designer.metrics.protein import sequence_validity

        plugin = self.run.model.plugin
        with torch.no_grad():
            tokens = plugin.to_tokens(self.run.model.decode(z.float()), temperature=self.temperature,
                                      generator=self.generator)
        ref = plugin.reference
        if len(self.fixed):
            tokens[:, self.fixed] = ref[self.fixed]  # fixed positions are never changed
        valid = sequence_validity(tokens.numpy(), plugin.gap_allowed.numpy())
        n_mut = (tokens != ref).sum(1).numpy()
        seqs = decode_tokens(tokens)
        zr = self.encode(tokens).numpy()
        cands = []
        for i, seq in enumerate(seqs):
            v = None
            if not valid[i]:
                v = "invalid: a gap where full-length training sequences have none"
            elif self.constraints.max_mutations is not None and n_mut[i] > self.constraints.max_mutations:
                v = f"constraint: {n_mut[i]} mutations > max_mutations {self.constraints.max_mutations}"
            cands.append(Candidate(seq, seq, z[i].detach().numpy().copy(), zr[i], v, {"mutations": int(n_mut[i])}))
        return cands

    def predict(self, z: Tensor) -> tuple[np.ndarray, np.ndarray]:
        head = self.run.model.property_head
        if head is None:
            return np.zeros((len(z), 0)), np.zeros((len(z), 0))
        m, s = head.predict(z.float(), mc_samples=20)
        return m.numpy(), s.numpy()


def space_for(run: Run, constraints: ConstraintsConfig | None = None, seed: int = 0):
    """The domain's latent space with the run's ``design`` settings (constraints, decoding temperature)."""
    constraints = constraints or run.config.design.constraints
    if run.config.domain == "crystal":
        return CrystalSpace(run, constraints)
    return ProteinSpace(run, constraints, run.config.design.decode_temperature, seed)
