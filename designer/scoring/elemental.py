"""The elements' reference states: starting structures and the shipped CHGNet energies (a leaf module)."""

from __future__ import annotations

import json

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, covalent_radii, reference_states

from designer.resources import data_file

ELEMENTS_FILE = data_file("elemental_references.json")
DIATOMIC_BOND = {"H": 0.74, "N": 1.10, "O": 1.21, "F": 1.42, "Cl": 1.99, "Br": 2.28, "I": 2.67}
SKIP = {"He", "Ne", "Ar", "Kr", "Xe", "Rn", "Tc", "Pm", "Po", "At", "Fr", "Ra"}  # noble gases, no stable isotope


def _candidates(symbol: str) -> list[tuple[str, object, bool]]:
    """``(description, ase.Atoms, relax_cell)`` starting structures for one element."""
    if symbol in DIATOMIC_BOND:
        d = DIATOMIC_BOND[symbol]
        mol = Atoms(f"{symbol}2", positions=[[0, 0, 0], [0, 0, d]], cell=[12, 12, 12], pbc=True)
        mol.center()
        return [(f"{symbol}2 molecule in a 12 A box", mol, False)]
    out = []
    state = reference_states[atomic_numbers[symbol]] or {}
    try:
        out.append((f"ASE reference {state.get('symmetry')}", bulk(symbol), True))
    except Exception:
        pass
    if not out:
        r = covalent_radii[atomic_numbers[symbol]]
        for kind, a in (("fcc", 2 * np.sqrt(2) * r), ("bcc", 4 * r / np.sqrt(3)), ("hcp", 2 * r), ("sc", 2 * r)):
            try:
                out.append((f"{kind} guess (ASE has no crystal)", bulk(symbol, kind, a=a), True))
            except Exception:
                pass
    return out



def load_elemental_references() -> dict[str, float]:
    """Element symbol -> CHGNet energy per atom (eV) of its reference state."""
    data = json.loads(ELEMENTS_FILE.read_text())
    return {k: v["energy_per_atom"] for k, v in data["elements"].items()}
