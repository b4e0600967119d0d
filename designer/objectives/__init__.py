"""Closed-form objectives (test functions) for sequence design benchmarks."""

from designer.objectives.ehrlich import Ehrlich

__all__ = ["Ehrlich"]
