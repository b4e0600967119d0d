"""Sampling, encoding, reconstruction and ELBO with a trained protein run."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from designer.config import PipelineConfig
from designer.data.protein_dataset import ProteinSet, decode_tokens, load_protein_set
from designer.data.protein_io import SequenceOptions
from designer.domains.base import predict_in_batches
from designer.errors import DataError
from designer.models.sequence.plugin import masked_log_likelihood
from designer.models.vae import kl_per_dim


@dataclass
class DecodedSequences:
    """Decoded proteins: ``tokens`` ``n x L``, ``z`` ``n x d``, ``properties`` / ``property_std`` ``n x P``."""

    tokens: torch.Tensor
    z: torch.Tensor
    properties: np.ndarray
    property_std: np.ndarray

    def sequences(self, keep_gaps: bool = False) -> list[str]:
        return decode_tokens(self.tokens, keep_gaps=keep_gaps)


def reference_sequence(run) -> str:
    """The run's reference protein (wild type or consensus), gaps removed."""
    return decode_tokens(run.model.plugin.reference.unsqueeze(0), keep_gaps=False)[0]


@torch.no_grad()
def decode_latents(run, z: torch.Tensor, batch_size: int = 4096, constrained: bool = True,
                   temperature: float = 0.0, mc_samples: int = 0, seed: int = 0,
                   on_batch: Callable[[int], None] | None = None) -> DecodedSequences:
    """Decode ``n x d`` latents (one network evaluation each); ``constrained`` forbids gaps where training has none."""
    model = run.model.eval()
    gen = torch.Generator().manual_seed(seed)
    toks = []
    for s in range(0, len(z), batch_size):
        zb = z[s: s + batch_size]
        toks.append(model.plugin.to_tokens(model.decode(zb), constrained, temperature, gen))
        if on_batch:
            on_batch(len(zb))
    mean, std = predict_in_batches(model, z, batch_size, mc_samples, len(run.config.data.properties))
    tokens = torch.cat(toks) if toks else torch.zeros(0, model.plugin.length, dtype=torch.long)
    return DecodedSequences(tokens, z, mean, std)


def sample(run, n: int, seed: int = 0, temperature: float = 1.0, constrained: bool = True,
           on_batch: Callable[[int], None] | None = None, mc_samples: int = 0) -> DecodedSequences:
    """Decode ``n`` latents drawn from N(0, temperature^2 I) with a seeded generator (argmax residues)."""
    z = run.model.sample_prior(n, generator=torch.Generator().manual_seed(seed), temperature=temperature)
    return decode_latents(run, z, constrained=constrained, on_batch=on_batch, mc_samples=mc_samples, seed=seed)


@torch.no_grad()
def encode(run, tokens: torch.Tensor, batch_size: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances (``n x d`` each) of ``n x L`` tokens."""
    model = run.model.eval()
    out = [model.encode({"tokens": tokens[s: s + batch_size]}) for s in range(0, len(tokens), batch_size)]
    return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])


def reconstruct(run, tokens: torch.Tensor, constrained: bool = True, mc_samples: int = 0) -> DecodedSequences:
    """Encode (posterior mean) and decode once."""
    mu, _ = encode(run, tokens)
    return decode_latents(run, mu, constrained=constrained, mc_samples=mc_samples)


@torch.no_grad()
def elbo(run, tokens: torch.Tensor, n_samples: int = 8, seed: int = 0, batch_size: int = 2048) -> torch.Tensor:
    """``n`` ELBO estimates (beta = 1, nats): mean over ``n_samples`` draws of log p(x|z) minus KL(q(z|x) || p(z))."""
    model = run.model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    out = []
    for s in range(0, len(tokens), batch_size):
        tb = tokens[s: s + batch_size].to(device)
        mu, logvar = model.encode({"tokens": tb})
        ll = torch.zeros(len(tb), device=device)
        for _ in range(n_samples):
            z = model.reparameterize(mu, logvar, gen)
            ll += masked_log_likelihood(model.decode(z)["logits"], tb)
        out.append(ll / n_samples - kl_per_dim(mu, logvar).sum(1))
    return torch.cat(out) if out else torch.zeros(0)


def sequence_options(cfg: PipelineConfig) -> SequenceOptions:
    """The reader options of a pipeline's ``data.sequences``."""
    s = cfg.data.sequences
    return SequenceOptions(format=s.format, sequence_column=s.sequence_column, id_column=s.id_column,
                           mutation_column=s.mutation_column, reference=s.reference, index_base=s.index_base,
                           align=s.align, unknown=s.unknown, stop=s.stop)


def read_for_run(run, path: Path, properties: list[str] | None = None, use_cache: bool = True) -> ProteinSet:
    """Read sequences for this run: its reader options, aligned to its reference (same width)."""
    props = list(run.config.data.properties if properties is None else properties)
    opts = sequence_options(run.config)
    ref = reference_sequence(run)
    opts.format = "auto"  # new inputs may come as FASTA, CSV or a mutation table, whatever the model was trained on
    pset = load_protein_set([Path(path)], props, opts, ref, use_cache)
    if pset.length != run.model.plugin.length:
        raise DataError(f"{path}: aligned width {pset.length}, the model reads {run.model.plugin.length}; "
                        "give sequences of the model's protein family")
    return pset


def read_sequence_strings(run, seqs: list[str], ids: list[str] | None = None, unknown: str | None = None,
                          strip_gaps: bool = False) -> ProteinSet:
    """Sequences given as strings, read exactly as the run reads FASTA (aligned to its reference).

    ``ids`` name the records (default ``s0``, ``s1``, ...); ``unknown`` overrides the run's
    ``data.sequences.unknown`` (e.g. ``mask`` so that scoring never drops a record); ``strip_gaps``
    reads ``-`` as nothing (the sequences are re-aligned). Records the
    reader skips are absent from the result (match them by ``record.id``).
    """
    ids = ids or [f"s{i}" for i in range(len(seqs))]
    opts = sequence_options(run.config)
    opts.format = "fasta"
    if unknown is not None:
        opts.unknown = unknown
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "sequences.fasta"
        f.write_text("".join(f">{i}\n{s.replace('-', '') if strip_gaps else s}\n" for i, s in zip(ids, seqs)))
        return load_protein_set([f], [], opts, reference_sequence(run), use_cache=False)
