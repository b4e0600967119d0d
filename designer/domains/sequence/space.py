"""The sequence ``LatentSpace``: fixed positions kept as in the reference, a mutation cap enforced."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from designer.config import ConstraintsConfig
from designer.data.protein_dataset import decode_tokens
from designer.domains.base import predict_with_head
from designer.domains.sequence.generate import encode
from designer.errors import ConfigError
from designer.metrics.protein import sequence_validity
from designer.optimize.space import Candidate


class SequenceSpace:
    """A sequence run's latent space; ``temperature`` > 0 samples residues instead of taking the most likely."""

    def __init__(self, run, constraints: ConstraintsConfig | None = None, temperature: float = 0.0, seed: int = 0):
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
            raise ConfigError(f"design.constraints.fixed_positions: {bad} outside the {L}-residue reference "
                              f"(positions are {self.index_base}-based)")

    def encode(self, tokens: Tensor) -> Tensor:
        return encode(self.run, tokens)[0]

    def decode(self, z: Tensor) -> list[Candidate]:
        plugin = self.run.model.plugin
        with torch.no_grad():
            tokens = plugin.to_tokens(self.run.model.decode(z.float()), temperature=self.temperature,
                                      generator=self.generator)
        ref = plugin.reference
        if len(self.fixed):
            tokens[:, self.fixed] = ref[self.fixed]  # fixed positions are never changed
        valid = sequence_validity(tokens.cpu().numpy(), plugin.gap_allowed.cpu().numpy())
        n_mut = (tokens != ref).sum(1).cpu().numpy()
        seqs = decode_tokens(tokens)
        zr = self.encode(tokens).cpu().numpy()
        cands = []
        for i, seq in enumerate(seqs):
            v = None
            if not valid[i]:
                v = "invalid: a gap where full-length training sequences have none"
            elif self.constraints.max_mutations is not None and n_mut[i] > self.constraints.max_mutations:
                v = f"constraint: {n_mut[i]} mutations > max_mutations {self.constraints.max_mutations}"
            cands.append(Candidate(seq, seq, z[i].detach().cpu().numpy().copy(), zr[i], v, {"mutations": int(n_mut[i])}))
        return cands

    def predict(self, z: Tensor) -> tuple[np.ndarray, np.ndarray]:
        return predict_with_head(self.run, z)


ProteinSpace = SequenceSpace  # the name before sequences of any alphabet were the domain
