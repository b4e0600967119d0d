"""Sampling, encoding and reconstruction with a trained run (crystal domain)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch_geometric.loader import DataLoader

from designer.data import ElementVocab
from designer.data.crystal_dataset import build_graphs, check_records, load_records, to_data
from designer.data.crystal_io import CrystalRecord
from designer.domains.base import predict_in_batches
from designer.domains.crystal.decoding import charge_neutral_types


@dataclass
class Decoded:
    """Decoded crystals with their latents and predicted properties.

    ``structures``: n pymatgen Structures (None where construction failed); ``z``: ``n x d``;
    ``properties``: ``n x P`` (P = 0 without a property head); ``property_std``: ``n x P``.
    """

    structures: list
    z: torch.Tensor
    properties: np.ndarray
    property_std: np.ndarray


def vocab_of(run) -> ElementVocab:
    return ElementVocab(tuple(run.model.plugin.atomic_numbers.tolist()))


@torch.no_grad()
def decode_latents(run, z: torch.Tensor, batch_size: int = 2048, mc_samples: int = 0,
                   on_batch: Callable[[int], None] | None = None, charge_neutral: bool = True,
                   refine_steps: int | None = None) -> Decoded:
    """Decode ``n x d`` latents in batches: the one-shot pass, then the refinement steps.

    With ``charge_neutral`` each structure takes the most likely per-slot elements whose composition
    passes the SMACT charge-balance test (``designer.domains.crystal.decoding``); otherwise the argmax of each slot.
    The atoms are then fixed and the refinement stage (``refine_steps``, default the model's setting;
    0 = one-shot) moves only coordinates and lattice.
    """
    model = run.model.eval()
    plugin = model.plugin
    device = next(model.parameters()).device
    structures = []
    for s in range(0, len(z), batch_size):
        zb = z[s: s + batch_size].to(device)
        out = model.decode(zb)
        types = None
        if charge_neutral:
            n = out["num_atoms_logits"].argmax(-1) + 1
            types = charge_neutral_types(plugin.slot_log_probs(out), n, plugin.atomic_numbers)
        out = plugin.refine_decoded(out, types, refine_steps)
        structures += plugin.to_structures(out)
        if on_batch:
            on_batch(len(zb))
    mean, std = predict_in_batches(model, z, batch_size, mc_samples, len(run.config.data.properties))
    return Decoded(structures, z, mean, std)


def sample(run, n: int, seed: int = 0, batch_size: int = 2048, temperature: float = 1.0,
           on_batch: Callable[[int], None] | None = None, charge_neutral: bool = True,
           refine_steps: int | None = None) -> Decoded:
    """Decode ``n`` latents drawn from N(0, temperature^2 I) with a seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    z = run.model.sample_prior(n, generator=gen, temperature=temperature).cpu()
    return decode_latents(run, z, batch_size, on_batch=on_batch, charge_neutral=charge_neutral,
                          refine_steps=refine_steps)


def records_to_data(run, records: list[CrystalRecord]) -> list:
    """Graphs of ``records`` for this run's model (DataError for an unknown element or too many atoms)."""
    d = run.config.data
    check_records(records, d.max_atoms)
    vocab = vocab_of(run)
    graphs = build_graphs(records, d.cutoff, d.max_neighbors)
    return [to_data(r, g, vocab, []) for r, g in zip(records, graphs)]


def read_for_run(run, path: Path, use_cache: bool = True) -> tuple[list[CrystalRecord], list]:
    records = load_records(Path(path), [], use_cache)
    return records, records_to_data(run, records)


@torch.no_grad()
def encode(run, data: list, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances (``n x d`` each)."""
    model = run.model.eval()
    mus, logvars = [], []
    for b in DataLoader(data, batch_size=batch_size):
        mu, lv = model.encode(b)
        mus.append(mu)
        logvars.append(lv)
    return torch.cat(mus), torch.cat(logvars)


def reconstruct(run, data: list, batch_size: int = 1024, charge_neutral: bool = True,
                refine_steps: int | None = None) -> Decoded:
    """Encode (posterior mean) and decode once (deterministic: the refinement is an ODE, no noise)."""
    mu, _ = encode(run, data, batch_size)
    return decode_latents(run, mu, batch_size, charge_neutral=charge_neutral, refine_steps=refine_steps)
