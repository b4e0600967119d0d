"""Data: parse, validate, canonicalise and cache crystals (and, later, sequences).

The names below are imported on first use, so a worker process that needs only the CIF reader or
the neighbour graph (``designer.data.crystal_io``, ``designer.data.crystal_graph``) does not import
torch and torch-geometric: a preprocessing or scoring worker starts in about a second, not five.
"""

from importlib import import_module

_WHERE = {
    "CrystalRecord": "crystal_io", "read_crystals": "crystal_io",
    "ElementVocab": "crystal_dataset", "graph_for_structure": "crystal_dataset",
    "load_graph_dataset": "crystal_dataset", "load_records": "crystal_dataset",
    "periodic_neighbors": "crystal_graph", "holdout_split": "splits",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"designer.data.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'designer.data' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
