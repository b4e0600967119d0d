"""The domain registry: ``get_domain(name)`` finds the ``Domain`` a pipeline's ``domain:`` names.

Everything that differs between crystals and sequences lives in ``designer/domains/<name>/`` behind
the ``designer.domains.base.Domain`` interface; code above the model asks the domain object and
never tests the domain's name. Domains are loaded lazily (the first ``get_domain`` of a name imports
its package), so this module imports none of them and any module may import it.

A new domain is one folder plus one line here (or a ``register_domain`` call, as the test suite's
toy domain does).
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from designer.errors import ConfigError

# name -> "module:attribute" of the Domain instance (imported on first use), or the instance itself
_REGISTRY: dict[str, Any] = {
    "crystal": "designer.domains.crystal.domain:DOMAIN",
    "sequence": "designer.domains.sequence.domain:DOMAIN",
    "protein": "designer.domains.sequence.domain:DOMAIN",  # proteins are sequences over the amino-acid alphabet
}


def register_domain(name: str, domain: Any, replace: bool = False) -> None:
    """Register a ``Domain`` instance (or a ``"module:attribute"`` path to one) under ``name``."""
    if name in _REGISTRY and not replace:
        raise ValueError(f"domain {name!r} is registered already (pass replace=True to override it)")
    _REGISTRY[name] = domain


def unregister_domain(name: str) -> None:
    _REGISTRY.pop(name, None)


def domain_names() -> list[str]:
    """The names a pipeline's ``domain:`` may take."""
    return list(_REGISTRY)


def _load(name: str):
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        module, attr = entry.split(":")
        entry = getattr(importlib.import_module(module), attr)
        _REGISTRY[name] = entry
    return entry


def get_domain(what: Any):
    """The ``Domain`` for a name, a pipeline config (its ``domain``), a run (its config), or a Domain itself."""
    if hasattr(what, "config") and hasattr(what.config, "domain"):  # a Run
        what = what.config.domain
    elif hasattr(what, "domain") and isinstance(getattr(what, "domain"), str):  # a PipelineConfig
        what = what.domain
    if not isinstance(what, str):
        return what  # already a Domain
    if what not in _REGISTRY:
        close = difflib.get_close_matches(what, _REGISTRY, n=1, cutoff=0.0)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"domain {what!r} is not known{hint} (known: {', '.join(_REGISTRY)})")
    return _load(what)

