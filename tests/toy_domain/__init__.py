"""A toy third domain registered only in the test suite: fixed-length bit strings with a closed-form property.

It proves that a new domain is one folder: nothing outside this folder knows it exists, yet
``designer train / sample / design / score`` run on it through the CLI (``tests/test_toy_domain.py``).
"""

from .bits import DOMAIN, BitsDomain, ones_fraction

__all__ = ["DOMAIN", "BitsDomain", "ones_fraction"]
