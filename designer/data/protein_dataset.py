"""Aligned sequences -> token tensors, sequence weights and the alignment's gap profile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from designer.data.cache import cached, content_hash
from designer.data.protein_io import GAP, GAP_INDEX, TOKENS, UNKNOWN, UNKNOWN_INDEX, ReadReport, SequenceOptions, SequenceRecord, read_sequences
from designer.data.label_checks import check_labels
from designer.errors import DataError

_LOOKUP = np.full(128, -1, dtype=np.int64)
for _i, _c in enumerate(TOKENS):
    _LOOKUP[ord(_c)] = _i
_LOOKUP[ord(UNKNOWN)] = UNKNOWN_INDEX


def encode_sequences(seqs: list[str]) -> np.ndarray:
    """``n x L`` int64 tokens (0-19 amino acids, 20 gap, 21 unknown/masked) of equal-length sequences."""
    if not seqs:
        return np.zeros((0, 0), dtype=np.int64)
    arr = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8).reshape(len(seqs), -1)
    tokens = _LOOKUP[arr]
    if (tokens < 0).any():
        raise ValueError("sequence holds a character outside the alphabet")
    return tokens


def decode_tokens(tokens: np.ndarray | torch.Tensor, keep_gaps: bool = True) -> list[str]:
    """Strings of ``n x L`` tokens (gaps removed unless ``keep_gaps``)."""
    alphabet = np.array(list(TOKENS + UNKNOWN))
    out = ["".join(row) for row in alphabet[np.asarray(tokens)]]
    return out if keep_gaps else [s.replace(GAP, "") for s in out]


def sequence_weights(tokens: torch.Tensor, threshold: float = 0.8, chunk: int = 2048) -> torch.Tensor:
    """DeepSequence weights: 1 / (number of sequences at >= ``threshold`` identity), ``n``.

    Identity of i to j = residues shared at non-gap, non-masked positions / non-gap positions of i.
    """
    n, L = tokens.shape
    residue = (tokens < GAP_INDEX)
    onehot = torch.zeros(n, L, GAP_INDEX)
    onehot[residue] = torch.nn.functional.one_hot(tokens[residue], GAP_INDEX).float()
    flat = onehot.reshape(n, -1)
    length = residue.sum(1).clamp(min=1).float()
    counts = torch.empty(n)
    for s in range(0, n, chunk):
        shared = flat[s: s + chunk] @ flat.T  # chunk x n
        counts[s: s + chunk] = (shared / length[s: s + chunk, None] >= threshold).sum(1).float()
    return 1.0 / counts.clamp(min=1)


def gap_profile(tokens: torch.Tensor, truncated: torch.Tensor) -> torch.Tensor:
    """``L`` bool: columns where the alignment has a gap in some full-length (not truncated) row."""
    full = tokens[~truncated] if (~truncated).any() else tokens
    return (full == GAP_INDEX).any(0)


@dataclass
class ProteinSet:
    """One or more inputs read into a common alignment.

    ``tokens``: ``n x L``; ``y``: ``n x P`` (NaN = unlabelled); ``truncated``: ``n`` bool;
    ``mutations``: ``n`` (−1 where unknown).
    """

    records: list[SequenceRecord]
    reference: str | None
    tokens: torch.Tensor
    y: torch.Tensor
    truncated: torch.Tensor
    mutations: torch.Tensor
    report: ReadReport

    @property
    def length(self) -> int:
        return int(self.tokens.shape[1])

    def reference_tokens(self) -> torch.Tensor:
        """``L`` tokens of the reference (else the most common residue of each column)."""
        if self.reference is not None and len(self.reference) == self.length:
            return torch.as_tensor(encode_sequences([self.reference])[0])
        counts = torch.nn.functional.one_hot(self.tokens, UNKNOWN_INDEX + 1)[..., :GAP_INDEX + 1].sum(0)
        return counts.argmax(-1)


class TokenDataset(Dataset):
    """Items ``{"tokens": L, "y": P, "index": ()}`` for a ``torch`` DataLoader (default collate)."""

    def __init__(self, tokens: torch.Tensor, y: torch.Tensor):
        self.tokens, self.y = tokens, y

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, i):
        return {"tokens": self.tokens[i], "y": self.y[i], "index": i}


def to_protein_set(records: list[SequenceRecord], reference: str | None, properties: list[str],
                   report: ReadReport) -> ProteinSet:
    tokens = torch.as_tensor(encode_sequences([r.sequence for r in records]))
    y = torch.tensor([[r.properties.get(p, float("nan")) for p in properties] for r in records],
                     dtype=torch.float32).reshape(len(records), len(properties))
    truncated = torch.tensor([r.truncated for r in records], dtype=torch.bool)
    mutations = torch.tensor([-1 if r.mutations is None else r.mutations for r in records], dtype=torch.long)
    return ProteinSet(records, reference, tokens, y, truncated, mutations, report)


def load_protein_set(paths: list[Path], properties: list[str], options: SequenceOptions,
                     reference: str | None = None, use_cache: bool = True) -> ProteinSet:
    """Read every input into one alignment (cached on disk per input and options)."""
    records: list[SequenceRecord] = []
    report = ReadReport()
    for path in paths:
        ref_file = Path(options.reference).expanduser() if options.reference else None
        key = {"kind": "protein_records", "properties": list(properties), "options": vars(options),
               "reference": reference,  # and the reference file's content: editing it invalidates the cache
               "reference_file": content_hash(ref_file) if ref_file is not None and ref_file.is_file() else None}
        recs, ref, rep = cached(Path(path), key, lambda p=path: read_sequences(p, properties, options, reference),
                                enabled=use_cache)
        if records and len(recs[0].sequence) != len(records[0].sequence):
            raise DataError(f"{path}: alignment width {len(recs[0].sequence)} differs from the earlier inputs' "
                            f"{len(records[0].sequence)}; give data.sequences.reference so all are aligned to it")
        reference = reference or ref
        records += recs
        report.add(rep)
    if properties and records:
        check_labels(np.array([[r.properties.get(p, np.nan) for p in properties] for r in records], dtype=float),
                     properties, ", ".join(map(str, paths)), [f"{', '.join(map(str, paths))}: {r.id}" for r in records])
    return to_protein_set(records, reference, properties, report)


def describe_mutations(tokens: np.ndarray, reference: np.ndarray, index_base: int = 1) -> str:
    """``A108G:K113-`` style list of the differences of one aligned row from the reference (``-``: deleted)."""
    alphabet = TOKENS + UNKNOWN
    tokens, reference = np.asarray(tokens), np.asarray(reference)
    diff = np.nonzero((tokens != reference) & (tokens != UNKNOWN_INDEX))[0]
    return ":".join(f"{alphabet[reference[j]]}{j + index_base}{alphabet[tokens[j]]}" for j in diff)
