"""The Domain interface and its registry: names, aliases, errors, old model files, and the house rules
(no domain-name branches above the domains, no import circles, no files outside the package)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from designer.config import validate
from designer.domains import domain_names, get_domain, register_domain, unregister_domain
from designer.domains.base import Domain
from designer.errors import ConfigError, DesignerError

PACKAGE = Path(__file__).resolve().parents[2] / "designer"


def test_registry_names_aliases_and_lookups():
    crystal, sequence = get_domain("crystal"), get_domain("sequence")
    assert isinstance(crystal, Domain) and isinstance(sequence, Domain) and crystal is not sequence
    assert get_domain("protein") is sequence  # proteins are sequences over the amino-acid alphabet
    assert {"crystal", "sequence", "protein"} <= set(domain_names())
    cfg = validate({"name": "x", "domain": "protein", "data": {"train": ["a.fasta"]}})
    assert get_domain(cfg) is sequence and get_domain(sequence) is sequence
    with pytest.raises(ConfigError, match="'crystl' is not known; did you mean 'crystal'"):
        get_domain("crystl")
    with pytest.raises(ConfigError, match="unknown domain 'protien'"):
        validate({"name": "x", "domain": "protien", "data": {"train": ["a.fasta"]}})


def test_a_registered_domain_is_accepted_by_the_config_and_a_partial_one_fails_in_one_line():
    class Half(Domain):
        name = "half"

    register_domain("half", Half())
    try:
        with pytest.raises(ValueError, match="registered already"):
            register_domain("half", Half())
        cfg = validate({"name": "x", "domain": "half", "data": {"train": ["a"]}})
        with pytest.raises(DesignerError, match="the half domain does not support training"):
            get_domain(cfg).load_training_data(cfg)
    finally:
        unregister_domain("half")
    assert "half" not in domain_names()


@pytest.mark.parametrize("name,kind", [("perov5", "crystal"), ("gfp", "sequence")])
def test_shipped_models_trained_before_the_interface_still_load_and_decode(name, kind):
    import torch

    from designer.runs import load_run

    run = load_run(name)  # gfp.pt says `domain: protein`, saved by the ProteinPlugin of earlier versions
    domain = get_domain(run)
    assert domain is get_domain(kind)
    dec = domain.sample(run, 4, seed=0)
    assert len(dec.objects) == 4 and dec.z.shape == (4, run.model.latent_dim)
    assert dec.properties.shape == (4, len(run.config.data.properties)) and torch.isfinite(dec.z).all()
    assert all(o is not None for o in dec.objects)


def _sources():
    return [p for p in PACKAGE.rglob("*.py")]


def test_no_code_above_the_domains_tests_the_domain_name():
    pattern = re.compile(r"domain\s*(==|!=)|domain\s+(not\s+)?in\s*[\(\[\{]|domain\.startswith|match\s+\S*domain")
    offenders = []
    for p in _sources():
        if "domains" in p.relative_to(PACKAGE).parts:
            continue
        for k, line in enumerate(p.read_text().splitlines(), 1):
            if pattern.search(line) or re.search(r"""["'](crystal|protein|sequence)["']\s*(==|!=|in\b)""", line):
                offenders.append(f"{p.relative_to(PACKAGE)}:{k}: {line.strip()}")
    assert offenders == []


def test_the_package_never_reaches_outside_itself_for_files():
    offenders = [str(p.relative_to(PACKAGE)) for p in _sources() if "Path(__file__).parents[" in p.read_text()]
    assert offenders == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Every import of the package's own modules, module-level and function-local."""
    modules = {_module_name(p): p for p in _sources()}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                    base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
                names = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for n in names:
                target = resolve(n) if n.startswith("designer") else None
                if target and target != mod:
                    graph[mod].add(target)
    return graph


def test_no_import_circle_and_nothing_below_the_benchmarks_imports_them():
    graph = _import_graph()
    seen: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(m):
        seen[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if seen.get(t) == 1:
                circles.append(stack[stack.index(t):] + [t])
            elif t not in seen:
                visit(t)
        stack.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m)
    assert circles == []
    below = [m for m, ts in graph.items() if not m.startswith(("designer.benchmarks", "designer.cli"))
             and any(t.startswith("designer.benchmarks") for t in ts)]
    assert below == []
