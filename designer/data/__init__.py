"""Data: parse, validate, canonicalise and cache crystals (and, later, sequences)."""

from designer.data.crystal_dataset import ElementVocab, graph_for_structure, load_graph_dataset, load_records
from designer.data.crystal_graph import periodic_neighbors
from designer.data.crystal_io import CrystalRecord, read_crystals
from designer.data.splits import holdout_split

__all__ = [
    "CrystalRecord", "ElementVocab", "graph_for_structure", "holdout_split", "load_graph_dataset",
    "load_records", "periodic_neighbors", "read_crystals",
]
