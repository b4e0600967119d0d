"""Charge-neutral re-ranking of decoded compositions (designer.decoding)."""

import numpy as np
import torch

from designer.domains.crystal.decoding import best_first, charge_neutral_types
from designer.metrics import composition_validity


def test_best_first_enumerates_in_decreasing_total_score():
    scores = np.array([[0.0, -0.5, -3.0], [0.0, -0.2, -0.3]])
    seen = list(best_first(scores, limit=9))
    totals = [scores[0, a] + scores[1, b] for a, b in seen]
    assert seen[0] == (0, 0)
    assert totals == sorted(totals, reverse=True)
    assert len(set(seen)) == 9


def _logp(rows):
    """rows: per slot, dict symbol -> probability; returns (B=1) x S x V log-scores and the vocabulary."""
    from pymatgen.core import Element

    vocab = sorted({Element(s).Z for r in rows for s in r})
    lp = torch.full((1, len(rows), len(vocab)), -30.0)
    for i, r in enumerate(rows):
        for s, p in r.items():
            lp[0, i, vocab.index(Element(s).Z)] = float(np.log(p))
    return lp, torch.tensor(vocab)


def test_picks_the_most_likely_charge_neutral_composition():
    # argmax gives NaCl3 (no neutral combination of oxidation states); the runner-up Al gives AlCl3
    lp, vocab = _logp([{"Na": 0.6, "Al": 0.4}, {"Cl": 0.9, "Br": 0.1}, {"Cl": 1.0}, {"Cl": 1.0}])
    argmax = vocab[lp.argmax(-1)[0]].tolist()
    from pymatgen.core import Composition, Element

    assert not composition_validity(Composition({Element.from_Z(z): argmax.count(z) for z in set(argmax)}))
    picked = vocab[charge_neutral_types(lp, torch.tensor([4]), vocab)[0]].tolist()
    assert sorted(picked) == sorted([Element("Al").Z, 17, 17, 17])


def test_keeps_argmax_when_it_is_already_neutral_or_nothing_is():
    lp, vocab = _logp([{"Sr": 0.6, "Na": 0.4}, {"Ti": 1.0}, {"O": 1.0}, {"O": 1.0}, {"O": 1.0}])
    assert torch.equal(charge_neutral_types(lp, torch.tensor([5]), vocab), lp.argmax(-1))
    lp, vocab = _logp([{"Na": 1.0}, {"Na": 1.0}, {"Cl": 1.0}])  # Na2Cl: no neutral alternative in the vocabulary
    assert torch.equal(charge_neutral_types(lp, torch.tensor([3]), vocab, top_k=1), lp.argmax(-1))
