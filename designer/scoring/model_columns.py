"""Model-based scorecard columns for a trained run: plausibility percentile, prediction ± std, likelihood.

Each factory returns a function from items (structures / aligned-or-not sequences) to one dict per
item; an item the model cannot read (an element it does not know) gets a ``model_note`` instead.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from designer.runs import Run


def _plausibility(run: Run, run_arg: str | None, mu: torch.Tensor, seed: int = 0):
    from designer.design.asktell import _plausibility as cached, state_dir

    try:
        folder = state_dir(run_arg or str(run.path), run)
        folder.mkdir(parents=True, exist_ok=True)
        return cached(folder, mu, seed)
    except OSError:  # a read-only shipped model: fit without caching
        from designer.optimize.plausibility import fit_plausibility

        return fit_plausibility(mu.numpy(), seed=seed)


def _prediction_columns(run: Run, mean: np.ndarray, std: np.ndarray, i: int) -> dict:
    out = {}
    for j, name in enumerate(run.config.data.properties):
        out[f"pred_{name}"] = round(float(mean[i, j]), 5)
        out[f"pred_{name}_std"] = round(float(std[i, j]), 5)
    return out


def crystal_columns(run: Run, run_arg: str | None = None) -> Callable[[list], list[dict]]:
    from designer.design.data import known_data
    from designer.design.spaces import CrystalSpace
    from designer.errors import DesignerError

    space = CrystalSpace(run)
    known = known_data(run)
    plaus = _plausibility(run, run_arg, known.mu)

    def columns(structures: list) -> list[dict]:
        rows: list[dict] = []
        for k, s in enumerate(structures):
            try:
                z = space.encode([s])
            except DesignerError as exc:
                rows.append({"model_note": str(exc).split(": ", 1)[-1][:160]})
                continue
            mean, std = space.predict(z)
            rows.append({"plausibility_percentile": round(float(plaus.percentile(z.numpy())[0]), 2),
                         **_prediction_columns(run, mean, std, 0)})
        return rows

    return columns


def protein_columns(run: Run, run_arg: str | None = None, max_reference: int = 5000) -> Callable[[list[str]], list[dict]]:
    """ELBO percentile among (up to ``max_reference``) training sequences, Hamming distance to the nearest
    training sequence (aligned), plausibility, prediction."""
    import tempfile
    from pathlib import Path

    from designer.config import sequence_options
    from designer.data.protein_dataset import load_protein_set
    from designer.design.data import known_data
    from designer.design.spaces import ProteinSpace
    from designer.generate_protein import elbo, reference_sequence
    from designer.scoring.protein_card import hamming_to_nearest

    space = ProteinSpace(run)
    known = known_data(run)
    plaus = _plausibility(run, run_arg, known.mu)
    from designer.data.protein_dataset import encode_sequences

    train_tokens = torch.as_tensor(encode_sequences(known.items))
    rng = np.random.default_rng(0)
    sub = train_tokens[rng.choice(len(train_tokens), min(max_reference, len(train_tokens)), replace=False)]
    train_elbo = elbo(run, sub).numpy()

    def columns(seqs: list[str]) -> list[dict]:
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "score.fasta"
            f.write_text("".join(f">s{i}\n{s.replace('-', '')}\n" for i, s in enumerate(seqs)))
            opts = sequence_options(run.config)
            opts.format = "fasta"
            opts.max_mutations = None
            opts.unknown = "mask"
            pset = load_protein_set([f], [], opts, reference_sequence(run), use_cache=False)
        by_id = {rec.id: k for k, rec in enumerate(pset.records)}
        z = space.encode(pset.tokens)
        mean, std = space.predict(z)
        el = elbo(run, pset.tokens).numpy()
        pl = plaus.percentile(z.numpy())
        near = hamming_to_nearest(pset.tokens.numpy(), train_tokens.numpy())
        rows = []
        for i in range(len(seqs)):
            k = by_id.get(f"s{i}")
            if k is None:
                rows.append({"model_note": "not read by the run's reader (see the read report)"})
                continue
            rows.append({"elbo": round(float(el[k]), 3),
                         "elbo_percentile": round(float((train_elbo <= el[k]).mean() * 100), 2),
                         "distance_nearest_training": int(near[k]),
                         "plausibility_percentile": round(float(pl[k]), 2),
                         **_prediction_columns(run, mean, std, k)})
        return rows

    return columns
