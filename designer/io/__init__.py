"""Readers and writers at the edges: atomic writes, CIF, CSV."""

from designer.io.atomic import atomic_write, atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]
