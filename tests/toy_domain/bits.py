"""Bit strings of a fixed length ``L``; the property is the fraction of ones (closed form, known optimum 1).

Files (``.bits``): one item per line, ``<id> <bits> [<value>]``, e.g. ``b0 0110100101 0.5``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from designer.data import holdout_split
from designer.domains.base import Decoded, Domain, KnownData, TrainingData, predict_with_head, prediction_columns
from designer.errors import DataError
from designer.io.atomic import atomic_write_text
from designer.io.crystal_files import write_table
from designer.optimize.space import Candidate


def ones_fraction(bits: str) -> float:
    return bits.count("1") / len(bits)


def read_bits(path: Path) -> list[tuple[str, str, float]]:
    rows = []
    for k, line in enumerate(Path(path).read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or set(parts[1]) - {"0", "1"}:
            raise DataError(f"{path} line {k}: expected '<id> <bits> [<value>]'")
        rows.append((parts[0], parts[1], float(parts[2]) if len(parts) > 2 else float("nan")))
    if not rows:
        raise DataError(f"{path}: no bit strings")
    return rows


class BitsPlugin(nn.Module):
    """MLP encoder over the bits, per-position Bernoulli logits out."""

    def __init__(self, length: int, latent_dim: int, hidden: int = 32, feature_dim: int = 16):
        super().__init__()
        self.length = length
        self.feature_dim = feature_dim
        self.encoder = nn.Sequential(nn.Linear(length, hidden), nn.SiLU(), nn.Linear(hidden, feature_dim), nn.SiLU())
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.SiLU(), nn.Linear(hidden, length))

    def plugin_args(self) -> dict:
        return {"length": self.length}

    def encode_features(self, batch: dict) -> Tensor:
        return self.encoder(batch["bits"].float())

    def decode(self, z: Tensor) -> dict[str, Tensor]:
        return {"logits": self.decoder(z)}

    def targets(self, batch: dict) -> Tensor:
        return batch["y"]

    def reconstruction_loss(self, decoded: dict[str, Tensor], batch: dict) -> dict[str, Tensor]:
        nll = nn.functional.binary_cross_entropy_with_logits(decoded["logits"], batch["bits"].float(), reduction="none")
        return {"bits": nll.sum(-1)}


def to_tensor(strings: list[str]) -> Tensor:
    return torch.tensor([[int(c) for c in s] for s in strings], dtype=torch.long)


def to_strings(bits: Tensor) -> list[str]:
    return ["".join(str(int(b)) for b in row) for row in bits.cpu()]


class BitsSpace:
    """The toy latent space: decode by thresholding the logits, re-encode, key = the bit string."""

    def __init__(self, run):
        self.run = run
        self.latent_dim = run.model.latent_dim
        self.property_names = list(run.config.data.properties)

    @torch.no_grad()
    def encode(self, strings: list[str]) -> Tensor:
        return self.run.model.eval().encode({"bits": to_tensor(strings)})[0]

    @torch.no_grad()
    def decode(self, z: Tensor) -> list[Candidate]:
        strings = DOMAIN.decode(self.run, z).objects
        zr = self.encode(strings).cpu().numpy()
        return [Candidate(s, s, z[i].detach().cpu().numpy().copy(), zr[i]) for i, s in enumerate(strings)]

    def predict(self, z: Tensor):
        return predict_with_head(self.run, z)


class BitsDomain(Domain):
    name = "bits"
    noun = "bit string"
    observation_column = "bits"
    file_suffixes = (".bits",)
    score_table_columns = ("id", "bits", "ones", "reasons")
    report_columns = ("synthesis_rank", "id", "rank", "objective", "bits", "ones", "plausibility_percentile",
                      "synthesis_score", "selected")

    def load_training_data(self, cfg, init=None) -> TrainingData:
        rows = [r for p in cfg.data.train for r in read_bits(Path(p))]
        bits = to_tensor([b for _, b, _ in rows])
        y = torch.tensor([[v] for _, _, v in rows], dtype=torch.float32)[:, : len(cfg.data.properties)]
        items = [{"bits": bits[i], "y": y[i]} for i in range(len(rows))]
        tr, ho = holdout_split(len(items), cfg.data.holdout_fraction, cfg.seed)
        return TrainingData(self.name, [items[i] for i in tr], [items[i] for i in ho], {"length": bits.shape[1]})

    def fit_data_scales(self, model, data: TrainingData) -> Tensor:
        return torch.stack([it["y"] for it in data.train])

    def build_plugin(self, cfg, plugin_args: dict):
        return BitsPlugin(plugin_args["length"], cfg.model.latent_dim, cfg.model.hidden, cfg.model.feature_dim)

    @torch.no_grad()
    def decode(self, run, z: Tensor, raw: bool = False, on_batch=None, mc_samples: int = 0, seed: int = 0) -> Decoded:
        logits = run.model.eval().decode(z.float())["logits"]
        mean, std = predict_with_head(run, z, mc_samples=max(mc_samples, 1))
        if on_batch:
            on_batch(len(z))
        return Decoded(to_strings((logits > 0).long()), z, mean, std)

    def write_samples(self, run, decoded: Decoded, out: Path, on_item=None) -> str:
        out.mkdir(parents=True, exist_ok=True)
        lines = [f"sample_{i} {s}" for i, s in enumerate(decoded.objects)]
        atomic_write_text(out / "samples.bits", "\n".join(lines) + "\n")
        write_table([{"id": f"sample_{i}", "bits": s, "ones": ones_fraction(s),
                      **prediction_columns(run.config.data.properties, decoded.properties, None, i)}
                     for i, s in enumerate(decoded.objects)], out / "samples.csv")
        return f"{len(lines)} samples -> {out / 'samples.bits'}"

    def latent_space(self, run, constraints=None, seed: int = 0) -> BitsSpace:
        return BitsSpace(run)

    def known_data(self, run) -> KnownData:
        rows = [r for p in run.training_paths() for r in read_bits(p)]
        strings = [b for _, b, _ in rows]
        y = np.array([[v] for _, _, v in rows])[:, : len(run.config.data.properties)]
        return KnownData(BitsSpace(run).encode(strings), strings, y, strings)

    def candidate_columns(self, run, obj, row_id: str, info=None) -> dict:
        return {"bits": obj}

    def write_candidates(self, run, rows, objects, out: Path, symprec: float = 0.1) -> None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "candidates.bits", "".join(f"{r['id']} {o}\n" for r, o in zip(rows, objects)))

    def similarity(self, a: str, b: str) -> float:
        return sum(x == y for x, y in zip(a, b)) / len(a)

    def read_files(self, files):
        items = []
        for f in files:
            try:
                items += [(i, b, "") for i, b, _ in read_bits(f)]
            except DataError as exc:
                items.append((f.stem, None, str(exc)))
        return items

    def score_items(self, run, objects, ids, *, model_columns=None, relax_top=0, relax_steps=200, energies=True,
                    hull_files=None, log=print):
        rows = [{"id": i, "bits": b, "ones": ones_fraction(b)} for i, b in zip(ids, objects)]
        if model_columns is not None:
            for row, extra in zip(rows, model_columns(objects)):
                row.update(extra)
        return rows, []

    def score_candidates(self, run, objects, ids, cfg, known=None, log=print, plausibility=None):
        rows, _ = self.score_items(run, objects, ids)
        return rows, {"mean_ones": float(np.mean([r["ones"] for r in rows]))}

    def readiness(self, row: dict, w: dict) -> float | None:
        return float(row["ones"])

    def model_columns(self, run, known, plausibility):
        space = BitsSpace(run)

        def columns(strings):
            z = space.encode(strings)
            mean, std = space.predict(z)
            pl = plausibility.percentile(z.cpu().numpy())
            return [{"plausibility_percentile": round(float(pl[i]), 2),
                     **prediction_columns(run.config.data.properties, mean, std, i)} for i in range(len(strings))]

        return columns


DOMAIN = BitsDomain()
