"""design.constraints.allowed_elements / forbidden_elements must be elements the model decodes (issue 19)."""

from __future__ import annotations

import pytest

from designer.config import ConstraintsConfig
from designer.domains.crystal.space import CrystalSpace, check_element_constraints
from designer.errors import ConfigError

KNOWN = ["O", "Sr", "Ti"]


@pytest.mark.parametrize("constraints, words", [
    ({"allowed_elements": ["Xx"]}, "'Xx' is not an element"),
    ({"allowed_elements": ["O", "Fe"]}, "never decodes Fe"),
    ({"forbidden_elements": ["Qq"]}, "'Qq' is not an element"),
    ({"allowed_elements": ["O"], "forbidden_elements": ["O"]}, "every allowed element is also forbidden"),
])
def test_an_element_constraint_the_model_cannot_meet_is_one_line(constraints, words):
    with pytest.raises(ConfigError) as info:
        check_element_constraints(ConstraintsConfig(**constraints), KNOWN)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_constraints_within_the_vocabulary_pass():
    check_element_constraints(ConstraintsConfig(allowed_elements=["O", "Ti"], forbidden_elements=["Sr"]), KNOWN)
    check_element_constraints(ConstraintsConfig(), KNOWN)


def test_the_latent_space_refuses_before_any_search(tiny_loaded):
    with pytest.raises(ConfigError, match="design.constraints.allowed_elements: 'Xx'"):
        CrystalSpace(tiny_loaded, ConstraintsConfig(allowed_elements=["Xx"]))


def test_a_seed_or_between_cif_with_more_atoms_than_max_atoms_is_refused_naming_it(tiny_loaded, tiny_structures, tmp_path):
    from designer.domains import get_domain
    from designer.errors import DataError

    big = tiny_structures[0].copy()
    n = tiny_loaded.config.data.max_atoms // len(big) + 1
    big.make_supercell([n, 1, 1])
    path = tmp_path / "big.cif"
    big.to(filename=str(path))
    domain = get_domain(tiny_loaded)
    space = domain.latent_space(tiny_loaded)
    with pytest.raises(DataError) as info:
        domain.item_latent(tiny_loaded, space, str(path), "--between")
    msg = str(info.value)
    assert "--between" in msg and "big.cif" in msg and f"more than max_atoms={tiny_loaded.config.data.max_atoms}" in msg


def test_design_reads_a_bad_seed_item_before_encoding_the_training_data(cli, tiny_run, tiny_pipeline, tmp_path, monkeypatch):
    import designer.workflow.run as design_run

    calls = []
    monkeypatch.setattr(design_run, "known_data", lambda r: calls.append(r) or pytest.fail("encoded first"))
    res = cli("design", tiny_pipeline, "--run", tiny_run, "--set", "design.start=seed",
              "--set", f"design.seed_item={tmp_path / 'missing.cif'}", "--out", tmp_path / "out")
    assert res.code == 2 and "missing.cif" in res.err and not calls, res
    assert not (tmp_path / "out").exists()
