"""The crystal domain plug-in: encoder features, decoder, reconstruction loss, tensors <-> structures."""

from __future__ import annotations

import numpy as np
import torch
from pymatgen.core import Lattice, Structure
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from designer.models.crystal.decoder import CrystalDecoder
from designer.models.crystal.encoder import CrystalEncoder
from designer.models.crystal.lattice import lattice_to_params, params_to_lattice, raw_to_params
from designer.models.crystal.losses import crystal_reconstruction_terms
from designer.models.crystal.refine import CrystalRefiner, denoising_terms, params_to_raw, refine
from designer.numerics import wrap_unit


class CrystalPlugin(nn.Module):
    """Crystal encoder + decoder for ``BetaVAE``.

    Args:
        atomic_numbers: the element vocabulary (sorted atomic numbers), stored with the weights.
        max_atoms: decoder slots S.
        latent_dim: d (the decoder's input).
        hidden, encoder_layers, feature_dim, cutoff: encoder sizes.
        decoder_hidden, decoder_layers: decoder sizes.
        likelihood: ``gaussian`` or ``laplace`` for lattice and coordinates.
        refine: add the second decoder stage (``refine.CrystalRefiner``); ``refine_steps`` and
            ``refine_start_sigma`` are decode-time settings (``refine_steps = 0``: one-shot decoding).
        refine_detach_z: the denoising loss trains the refiner only; no gradient reaches the encoder through z.
    """

    #: the keys of reconstruction_loss (loss.weights may weight them)
    loss_terms = ("num_atoms", "composition", "atom_types", "lattice", "coords", "refine_coords", "refine_lattice")

    def __init__(self, atomic_numbers: list[int], max_atoms: int, latent_dim: int, hidden: int = 128,
                 encoder_layers: int = 4, feature_dim: int = 256, cutoff: float = 7.0, decoder_hidden: int = 512,
                 decoder_layers: int = 3, likelihood: str = "laplace", type_weight: float = 1.0,
                 decoder_dropout: float = 0.0, refine: bool = False, refine_hidden: int = 128, refine_layers: int = 4,
                 refine_steps: int = 10, refine_start_sigma: float = 0.1, refine_lattice_noise: float = 1.0,
                 refine_distance: str = "min_image", refine_detach_z: bool = True):
        super().__init__()
        self.register_buffer("atomic_numbers", torch.tensor(list(atomic_numbers), dtype=torch.long))
        self.register_buffer("lattice_scale", torch.ones(6))
        num_types = len(atomic_numbers)
        self.encoder = CrystalEncoder(num_types, hidden, encoder_layers, cutoff, feature_dim)
        self.decoder = CrystalDecoder(latent_dim, num_types, max_atoms, decoder_hidden, decoder_layers, decoder_dropout)
        self.feature_dim = feature_dim
        self.max_atoms = max_atoms
        self.likelihood = likelihood
        self.type_weight = type_weight
        self.refiner = CrystalRefiner(num_types, latent_dim, refine_hidden, refine_layers, distance=refine_distance) \
            if refine else None
        self.refine_steps = refine_steps if refine else 0
        self.refine_start_sigma = refine_start_sigma
        self.refine_lattice_noise = refine_lattice_noise
        self.refine_detach_z = refine_detach_z

    def plugin_args(self) -> dict:
        """What ``build_model`` needs to rebuild this plug-in (the rest is in the state dict)."""
        return {"atomic_numbers": self.atomic_numbers.tolist()}

    def fit_scales(self, lattices: Tensor) -> None:
        """Set the lattice loss scales from the training lattices (``n x 3 x 3``)."""
        p = lattice_to_params(lattices)
        spread = p.std(0) if len(p) > 1 else torch.zeros_like(p[0])  # one lattice has no spread: the floor
        self.lattice_scale.copy_(spread.clamp(min=0.02))

    def encode_features(self, batch) -> Tensor:
        return self.encoder(batch)

    def decode(self, z: Tensor) -> dict[str, Tensor]:
        """The one-shot stage (one network evaluation); ``z`` rides along for the refinement loss."""
        return {**self.decoder(z), "z": z}

    @property
    def evaluations_per_structure(self) -> int:
        """Network evaluations of one decode: the one-shot pass plus the refinement steps."""
        return 1 + (self.refine_steps if self.refiner is not None else 0)

    @torch.no_grad()
    def refine_decoded(self, decoded: dict[str, Tensor], types: Tensor | None = None,
                       steps: int | None = None) -> dict[str, Tensor]:
        """Refine the one-shot output's coordinates and lattice; atoms (count and types) stay fixed.

        Args:
            decoded: the one-shot outputs (``decode``), with ``z``.
            types: ``B x S`` vocabulary indices of the slots (default: each slot's most likely element).
            steps: refinement steps (default ``self.refine_steps``; 0 returns ``decoded`` unchanged).

        Returns:
            ``decoded`` with ``frac`` (B x S x 3) and ``lattice_params`` (B x 6) refined, and ``types``.
        """
        steps = self.refine_steps if steps is None else steps
        if types is None:
            types = self.slot_log_probs(decoded).argmax(-1)
        out = {**decoded, "types": types}
        if self.refiner is None or steps <= 0:
            return out
        n = self.num_atoms(decoded)
        width = int(n.max())
        mask = torch.arange(width, device=n.device).unsqueeze(0) < n.unsqueeze(1)
        frac, raw = refine(self.refiner, decoded["z"], types[:, :width], mask, wrap_unit(decoded["frac"][:, :width]),
                           params_to_raw(decoded["lattice_params"]), steps, self.refine_start_sigma)
        full = decoded["frac"].clone()
        full[:, :width] = frac
        return {**out, "frac": full, "lattice_params": raw_to_params(raw)}

    def targets(self, batch) -> Tensor:
        return batch.y

    def reconstruction_loss(self, decoded: dict[str, Tensor], batch) -> dict[str, Tensor]:
        types, mask = to_dense_batch(batch.atom_types, batch.batch)
        frac, _ = to_dense_batch(batch.frac_coords, batch.batch)
        terms = crystal_reconstruction_terms(
            decoded, types, frac, mask, batch.lattice, batch.sym_ops, lattice_to_params(batch.lattice),
            self.lattice_scale, self.likelihood, self.type_weight, getattr(batch, "num_ops", None),
        )
        if self.refiner is not None:  # the second stage's denoising bound, on the known atoms (no assignment)
            terms.update(self.refinement_loss(decoded["z"].detach() if self.refine_detach_z else decoded["z"], batch))
        return terms

    def refinement_loss(self, z: Tensor, batch) -> dict[str, Tensor]:
        """The refinement stage's denoising terms (each ``B``) for latents ``z`` (``B x d``) of ``batch``.

        Evaluation (``not self.training``) draws its noise from a fixed seed, so holdout losses are reproducible.
        """
        types, mask = to_dense_batch(batch.atom_types, batch.batch)
        frac, _ = to_dense_batch(batch.frac_coords, batch.batch)
        gen = None if self.training else torch.Generator(device=frac.device).manual_seed(0)
        return denoising_terms(self.refiner, z, types, mask, frac, batch.lattice, self.refine_lattice_noise, generator=gen)

    @staticmethod
    def num_atoms(decoded: dict[str, Tensor]) -> Tensor:
        """``B`` atoms per structure: ``decoded["num_atoms"]`` where the caller fixed them (structure
        prediction), else the most likely count of the decoder."""
        if "num_atoms" in decoded:
            return decoded["num_atoms"]
        return decoded["num_atoms_logits"].argmax(-1) + 1

    @staticmethod
    def slot_log_probs(decoded: dict[str, Tensor]) -> Tensor:
        """``B x S x V`` element log-scores of each slot: its own distribution times the decoded composition."""
        return torch.log_softmax(decoded["type_logits"], -1) + \
            torch.log_softmax(decoded["composition_logits"], -1).unsqueeze(1)

    @torch.no_grad()
    def to_arrays(self, decoded: dict[str, Tensor], types: Tensor | None = None) -> list[dict[str, np.ndarray]]:
        """Crystal of each decoder output: ``lattice`` (3 x 3), ``atomic_numbers`` (n), ``frac`` (n x 3).

        Args:
            types: optional ``B x S`` vocabulary indices chosen by the caller (e.g. a charge-neutral
                choice); default: ``decoded["types"]`` if present, else the most likely element of each slot.
        """
        n = self.num_atoms(decoded)
        lattice = params_to_lattice(decoded["lattice_params"]).cpu().numpy()
        if types is None:
            types = decoded["types"] if "types" in decoded else self.slot_log_probs(decoded).argmax(-1)
        types = self.atomic_numbers[types].cpu().numpy()
        frac = wrap_unit(decoded["frac"]).cpu().numpy()
        return [
            {"lattice": lattice[b], "atomic_numbers": types[b, : n[b]], "frac": frac[b, : n[b]]}
            for b in range(len(n))
        ]

    def to_structures(self, decoded: dict[str, Tensor], types: Tensor | None = None) -> list:
        """pymatgen ``Structure`` per decoder output (None if pymatgen refuses to build it)."""
        out = []
        for a in self.to_arrays(decoded, types):
            try:
                out.append(Structure(Lattice(a["lattice"]), a["atomic_numbers"].tolist(), a["frac"]))
            except Exception:
                out.append(None)
        return out
