"""Sequence plug-in: one-hot MLP encoder, per-position token logits decoder, masked likelihood.

Proteins use 21 tokens (20 amino acids + gap, index 20); any other fixed alphabet works too (e.g.
the 32 states of an Ehrlich function, without a gap). The token equal to the alphabet size marks
an unknown (masked) position.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from designer.data.protein_io import GAP_INDEX, TOKENS, UNKNOWN_INDEX  # noqa: F401  (UNKNOWN_INDEX re-exported)

ALPHABET_SIZE = len(TOKENS)  # 20 amino acids + gap; token 21 (unknown) is masked


def _mlp(dims: list[int], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.SiLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def one_hot(tokens: Tensor, alphabet_size: int = ALPHABET_SIZE) -> Tensor:
    """``B x L x A`` float one-hot of ``B x L`` tokens; masked (token A, unknown) positions are all zeros."""
    return nn.functional.one_hot(tokens, alphabet_size + 1)[..., :alphabet_size].float()


def masked_log_likelihood(logits: Tensor, tokens: Tensor) -> Tensor:
    """log p(x | z) summed over the positions that are not masked: ``B``.

    Args:
        logits: ``B x L x A``.
        tokens: ``B x L`` (A = unknown: contributes nothing, whatever the logits say).
    """
    alphabet = logits.shape[-1]
    mask = tokens != alphabet
    logp = torch.log_softmax(logits, -1)
    picked = logp.gather(-1, tokens.clamp(max=alphabet - 1).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(-1)


class SequencePlugin(nn.Module):
    """Encoder and decoder over aligned sequences of length ``L`` for ``BetaVAE``.

    Args:
        length: L (alignment width).
        latent_dim: d.
        hidden, encoder_layers, feature_dim: encoder MLP (one-hot ``L*21`` -> ... -> feature_dim).
        decoder_hidden, decoder_layers: decoder MLP (d -> ... -> ``L*21`` logits).
        dropout: dropout in both MLPs.

    Buffers set from the training data (``fit_data``): ``reference`` (``L`` tokens: the wild type
    or the alignment's consensus) and ``gap_allowed`` (``L`` bool: columns where full-length
    training rows have gaps).
    """

    loss_terms = ("residues", "substitutions")  # the keys of reconstruction_loss (loss.weights may weight them)

    def __init__(self, length: int, latent_dim: int, hidden: int = 512, encoder_layers: int = 2,
                 feature_dim: int = 256, decoder_hidden: int = 512, decoder_layers: int = 2, dropout: float = 0.0,
                 alphabet_size: int = ALPHABET_SIZE, gap_index: int | None = GAP_INDEX):
        super().__init__()
        self.length = length
        self.alphabet_size = alphabet_size
        self.gap_index = gap_index
        self.feature_dim = feature_dim
        self.encoder = nn.Sequential(_mlp([length * alphabet_size] + [hidden] * encoder_layers, dropout),
                                     nn.Linear(hidden, feature_dim), nn.SiLU())
        self.decoder = nn.Sequential(_mlp([latent_dim] + [decoder_hidden] * decoder_layers, dropout),
                                     nn.Linear(decoder_hidden, length * alphabet_size))
        self.register_buffer("reference", torch.zeros(length, dtype=torch.long))
        self.register_buffer("gap_allowed", torch.zeros(length, dtype=torch.bool))

    def plugin_args(self) -> dict:
        """What ``build_model`` needs to rebuild this plug-in (the rest is in the state dict)."""
        return {"length": self.length, "alphabet_size": self.alphabet_size, "gap_index": self.gap_index}

    def fit_data(self, reference: Tensor, gap_allowed: Tensor) -> None:
        self.reference.copy_(reference)
        self.gap_allowed.copy_(gap_allowed)

    def encode_features(self, batch: dict) -> Tensor:
        x = one_hot(batch["tokens"], self.alphabet_size)
        return self.encoder(x.flatten(1))

    def decode(self, z: Tensor) -> dict[str, Tensor]:
        """``{"logits": B x L x A}``."""
        return {"logits": self.decoder(z).view(len(z), self.length, self.alphabet_size)}

    def targets(self, batch: dict) -> Tensor:
        return batch["y"]

    def reconstruction_loss(self, decoded: dict[str, Tensor], batch: dict) -> dict[str, Tensor]:
        """Negative log-likelihood of the unmasked positions, split in two ``B`` terms.

        ``substitutions``: the positions whose residue differs from the reference (not gaps);
        ``residues``: all other unmasked positions. Their sum is the full reconstruction NLL; a weight
        on ``substitutions`` (``loss.weights``) keeps the few mutated positions of a deep-mutational
        scan from being drowned by the wild-type ones.
        """
        tokens = batch["tokens"]
        substituted = (tokens != self.reference) & (tokens < self.alphabet_size)
        if self.gap_index is not None:
            substituted &= tokens != self.gap_index
        kept = torch.where(substituted, self.alphabet_size, tokens)  # the alphabet size is the masked token
        changed = torch.where(substituted, tokens, self.alphabet_size)
        logits = decoded["logits"]
        return {"residues": -masked_log_likelihood(logits, kept), "substitutions": -masked_log_likelihood(logits, changed)}

    @torch.no_grad()
    def to_tokens(self, decoded: dict[str, Tensor], constrained: bool = True, temperature: float = 0.0,
                  generator: torch.Generator | None = None) -> Tensor:
        """``B x L`` tokens: the most likely residue per position (``temperature`` > 0 samples instead).

        ``constrained``: a gap where no full-length training sequence has one (a premature stop or
        an internal deletion) is repaired to the reference residue — a removed stop codon leaves
        the wild-type sequence behind it.
        """
        logits = decoded["logits"]
        if temperature <= 0:
            tokens = logits.argmax(-1)
        else:
            probs = torch.softmax(logits / temperature, -1)
            tokens = torch.multinomial(probs.reshape(-1, self.alphabet_size), 1, generator=generator).view(logits.shape[:-1])
        if constrained and self.gap_index is not None:
            bad = (tokens == self.gap_index) & ~self.gap_allowed
            tokens = torch.where(bad, self.reference.expand_as(tokens), tokens)
        return tokens


ProteinPlugin = SequencePlugin  # the name before sequences of any alphabet were the domain
