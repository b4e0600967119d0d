"""The sequence domain: aligned fixed-length token sequences (proteins), FASTA out
(see ``designer.domains.base.Domain``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Subset

from designer.data import holdout_split
from designer.data.protein_io import looks_like_nucleotides, read_fasta_entries
from designer.data.protein_dataset import (GAP_INDEX, TokenDataset, decode_tokens, describe_mutations,
                                           encode_sequences, gap_profile, load_protein_set, sequence_weights)
from designer.domains.sequence.analysis import mutation_intervention, plot_traversals, protein_factors
from designer.domains.base import (Decoded, Domain, KnownData, TrainingData, cached_for_model, cached_training_latents,
                                   prediction_columns)
import designer.domains.sequence.generate as generate
from designer.domains.sequence.mutations import mutation_design
from designer.domains.sequence.space import SequenceSpace
from designer.errors import ConfigError, DataError, DesignerError
from designer.io.atomic import atomic_write_text
from designer.io.crystal_files import write_table
from designer.io.sequence_files import write_fasta
from designer.metrics.protein import edit_distances, residue_accuracy, sequence_validity
from designer.models.sequence.plugin import SequencePlugin
from designer.report.figures import interpolation
from designer.scoring.protein_card import batch_diversity, hamming_to_nearest, score_proteins

RESIDUE_LETTERS = set("ACDEFGHIKLMNPQRSTVWYXBZJUO*-")


def _num(row: dict, key: str) -> float:
    try:
        return float(row.get(key))
    except (TypeError, ValueError):
        return math.nan


def _index_base(run) -> int:
    base = run.config.data.sequences.index_base
    return 1 if base is None else base


def aligned_reference(run) -> str:
    """The run's reference as aligned tokens (gaps kept)."""
    return decode_tokens(run.model.plugin.reference.unsqueeze(0))[0]


def _training_tokens(run) -> tuple[list, torch.Tensor, np.ndarray]:
    """``(paths, N x L aligned tokens, N x P labels)`` of a run's training files, as its reader reads them."""
    paths = run.training_paths()
    if not paths:
        raise DataError(f"{run.config.data.train}: the run's training data is not found; the optimiser needs it "
                        "(plausibility, deduplication): restore the files or retrain")
    sets = [generate.read_for_run(run, p) for p in paths]
    return paths, torch.cat([s.tokens for s in sets]), np.concatenate([s.y.cpu().numpy() for s in sets])


class SequenceDomain(Domain):
    """Aligned sequences (proteins: FASTA, A3M, CSV or mutation tables in; FASTA out)."""

    name = "sequence"
    noun = "sequence"
    user_object_kinds = "Biopython SeqRecords, Seqs or one-letter strings"
    observation_column = "sequence"
    file_suffixes = (".fasta", ".fa", ".faa", ".fas")
    score_table_columns = ("id", "length", "num_liabilities", "elbo_percentile", "reasons")
    report_columns = ("synthesis_rank", "id", "num_mutations", "mutations", "objective", "num_liabilities",
                      "elbo_percentile", "plausibility_percentile", "synthesis_score", "selected")

    # ------------------------------------------------------------------ data and model

    def load_training_data(self, cfg, init=None) -> TrainingData:
        d = cfg.data
        if d.holdout:
            raise ConfigError("data.holdout: a fixed holdout file is read for crystals only; sequences hold out a "
                              "seeded data.holdout_fraction of data.train (remove data.holdout)")
        reference = aligned_reference(init) if init is not None else None
        pset = load_protein_set([Path(p) for p in d.train], d.properties, generate.sequence_options(cfg), reference,
                                d.cache)
        if init is not None and pset.length != init.model.plugin.length:
            raise DesignerError(f"--init-from {init.path}: the model reads {init.model.plugin.length} positions, "
                                f"this data aligns to {pset.length}; use the same reference")
        keep = torch.ones(len(pset.tokens), dtype=torch.bool)
        if d.sequences.max_mutations is not None:
            if (pset.mutations < 0).any():
                raise DesignerError("data.sequences.max_mutations needs mutation tables (the number of mutations of "
                                    "full sequences is not known); remove it")
            keep = pset.mutations <= d.sequences.max_mutations
        idx = torch.nonzero(keep).squeeze(1).numpy()
        if len(idx) < 2:
            raise DesignerError(f"{d.train}: {len(idx)} input(s); training needs at least 2 (one is held out)")
        tr, ho = holdout_split(len(idx), d.holdout_fraction, cfg.seed)
        tr, ho = idx[tr], idx[ho]
        weights = sequence_weights(pset.tokens[tr], d.sequences.reweight).numpy() if d.sequences.reweight else None
        notes = {"read": pset.report.summary(), "alignment_length": pset.length, "kept_by_max_mutations": int(keep.sum())}
        if weights is not None:
            notes["effective_sequences"] = round(float(weights.sum()), 1)
        dataset = TokenDataset(pset.tokens, pset.y)
        return TrainingData(cfg.domain, Subset(dataset, tr.tolist()), Subset(dataset, ho.tolist()),
                            {"length": pset.length}, weights, notes, {"set": pset, "train_index": tr})

    def fit_data_scales(self, model, data: TrainingData) -> torch.Tensor:
        pset, tr = data.extra["set"], torch.as_tensor(data.extra["train_index"])
        model.plugin.fit_data(pset.reference_tokens(), gap_profile(pset.tokens[tr], pset.truncated[tr]))
        return pset.y[tr]

    def build_plugin(self, cfg, plugin_args: dict):
        m = cfg.model
        return SequencePlugin(plugin_args["length"], m.latent_dim, m.hidden, m.encoder_layers, m.feature_dim,
                              m.decoder_hidden, m.decoder_layers, m.decoder_dropout,
                              plugin_args.get("alphabet_size", 21), plugin_args.get("gap_index", GAP_INDEX))

    # ------------------------------------------------------------------ generation

    def decode(self, run, z: torch.Tensor, raw: bool = False, on_batch=None, temperature: float = 0.0,
               mc_samples: int = 20, seed: int = 0) -> Decoded:
        """``raw``: gaps allowed anywhere; ``temperature`` > 0 samples residues (seeded by ``seed``)."""
        dec = generate.decode_latents(run, z, constrained=not raw, temperature=temperature, mc_samples=mc_samples,
                                      seed=seed, on_batch=on_batch)
        return Decoded(dec.sequences(), dec.z, dec.properties, dec.property_std, {"tokens": dec.tokens})

    def write_samples(self, run, decoded: Decoded, out: Path, on_item=None) -> str:
        tokens = decoded.extra["tokens"]
        plugin = run.model.plugin
        seqs = decoded.objects
        ref_tokens = plugin.reference.cpu().numpy()
        valid = sequence_validity(tokens.cpu().numpy(), plugin.gap_allowed.cpu().numpy())
        dist = edit_distances(seqs, generate.reference_sequence(run))
        n = len(seqs)
        width = len(str(n - 1))
        names = run.config.data.properties
        rows, entries = [], []
        for i, seq in enumerate(seqs):
            sid = f"sample_{i:0{width}d}"
            scores = {"valid": bool(valid[i]), "edit_distance_to_reference": int(dist[i]),
                      **prediction_columns(names, decoded.properties, decoded.property_std, i)}
            rows.append({"id": sid, "sequence": seq, "length": len(seq), **scores,
                         "mutations": describe_mutations(tokens[i].cpu().numpy(), ref_tokens, _index_base(run))})
            entries.append((sid, seq, scores))
            if on_item:
                on_item()
        write_fasta(entries, out / "samples.fasta")
        write_table(rows, out / "samples.csv")
        return (f"{n} samples -> {out / 'samples.fasta'} ({int(valid.sum())} valid, mean edit distance to the "
                f"reference {dist.mean():.1f}); table: {out / 'samples.csv'}")

    def reconstruct_files(self, run, data: Path, out: Path, raw: bool = False, log=print, on_item=None) -> str:
        pset = generate.read_for_run(run, data, properties=[])
        log(pset.report.summary())
        dec = generate.reconstruct(run, pset.tokens, constrained=not raw)
        true, pred = pset.tokens.cpu().numpy(), dec.tokens.cpu().numpy()
        outs = dec.sequences()
        names = run.config.data.properties
        rows, entries = [], []
        for i, rec in enumerate(pset.records):
            acc = residue_accuracy(pred[i:i + 1], true[i:i + 1])
            scores = {"identity": round(acc, 4), "exact": bool((pred[i] == true[i]).all()),
                      **prediction_columns(names, dec.properties, None, i)}
            rows.append({"id": rec.id, "input": rec.sequence.replace("-", ""), "output": outs[i], **scores})
            entries.append((rec.id, outs[i], scores))
            if on_item:
                on_item()
        write_fasta(entries, out / "reconstruct.fasta")
        write_table(rows, out / "reconstruct.csv")
        exact = sum(r["exact"] for r in rows)
        return (f"{len(rows)} reconstructed -> {out / 'reconstruct.fasta'} ({exact} exactly, mean identity "
                f"{np.mean([r['identity'] for r in rows]):.3f}); table: {out / 'reconstruct.csv'}")

    # ------------------------------------------------------------------ optimiser

    def latent_space(self, run, constraints=None, seed: int = 0) -> SequenceSpace:
        return SequenceSpace(run, constraints or run.config.design.constraints, run.config.design.decode_temperature,
                             seed)

    def known_data(self, run) -> KnownData:
        paths, tok, y = _training_tokens(run)
        seqs = decode_tokens(tok)
        mu = cached_training_latents(run, paths, lambda: generate.encode(run, tok)[0])
        return KnownData(mu, seqs, y, seqs)

    def item_tokens(self, run, item: str, where: str) -> torch.Tensor:
        """``L`` aligned tokens of a user's sequence, given as the sequence or a FASTA path."""
        p = Path(item).expanduser()
        if p.exists():
            return generate.read_for_run(run, p, properties=[]).tokens[0]
        bad = sorted(set(item.upper()) - RESIDUE_LETTERS)
        if bad:
            raise DesignerError(f"{where}: {item!r} is neither a FASTA file nor a sequence (invalid residue(s) "
                                f"{''.join(bad)!r}); use one-letter amino-acid codes or a FASTA path")
        pset = generate.read_sequence_strings(run, [item], ids=["seed"])
        if not len(pset.tokens):
            raise DesignerError(f"{where}: the sequence was skipped while reading ({pset.report.summary()})")
        return pset.tokens[0]

    def item_latent(self, run, space, item: str, where: str) -> torch.Tensor:
        return space.encode(self.item_tokens(run, item, where).unsqueeze(0))

    def encode_observed(self, run, items: list[str], wheres: list[str], base: Path) -> np.ndarray:
        return self.encode_objects(run, items, wheres).cpu().numpy()

    def mutation_search(self, run, space, known: KnownData, values, objective, settings, plausibility, keys, log):
        d = run.config.design
        if d.start == "seed":
            if not d.seed_item:
                raise ConfigError("design.seed_item: give a sequence (or FASTA path) for start: seed")
            start = self.item_tokens(run, d.seed_item, "design.seed_item")
            what = "the seed sequence"
        elif d.start == "prior":
            start = run.model.plugin.reference.clone()
            what = "the reference sequence"
        else:
            i = int(np.argmax(objective.scalar(values)))
            start = torch.as_tensor(encode_sequences([known.items[i]])[0])
            what = f"the best known sequence by the head ({known.keys[i][:20]}...)"
        log(f"mutation search from {what}: {settings.rounds} rounds of {settings.q} from pools of {d.mutation_pool}")

        def on_round(i, picked):
            best = max((p.objective for p in picked), default=float("nan"))
            log(f"round {i + 1}/{settings.rounds}: {len(picked)} new candidates (best objective {best:.4g})")

        if d.objectives and len(d.objectives) > 1:
            raise ConfigError("design.search: mutations takes one objective; use design.objective (or search: latent)")
        return mutation_design(space, torch.as_tensor(start), objective, settings, plausibility, keys,
                               pool=d.mutation_pool, max_per_candidate=d.mutations_per_candidate,
                               floor_percentile=d.plausibility.floor_percentile, on_round=on_round)

    # ------------------------------------------------------------------ Python API

    def user_object(self, obj):
        """A Biopython ``SeqRecord`` or ``Seq``, or a one-letter sequence string."""
        from Bio.Seq import Seq
        from Bio.SeqRecord import SeqRecord

        if isinstance(obj, SeqRecord):
            obj = obj.seq
        if isinstance(obj, Seq):
            return str(obj).upper()
        return obj.strip().upper() if isinstance(obj, str) else None

    def encode_objects(self, run, objects: list, names: list[str]) -> torch.Tensor:
        """Read as the run reads FASTA (aligned to its reference); an error names the object, never the
        temporary FASTA the reader goes through."""
        ids = [f"item{i}" for i in range(len(objects))]
        try:
            pset = generate.read_sequence_strings(run, list(objects), ids=ids)
        except DesignerError as exc:
            # the reader names its record ("item3"): point at that object, else the first one
            i = next((k for k, rid in enumerate(ids) if f"({rid})" in str(exc)), 0)
            raise DataError(f"{names[i]}: {str(exc).split(': ', 1)[-1]}") from None
        kept = {rec.id for rec in pset.records}
        missing = [names[i] for i, k in enumerate(ids) if k not in kept]
        if missing:
            raise DataError(f"{missing[0]}: the sequence was skipped while reading ({pset.report.summary()})")
        return generate.encode(run, pset.tokens)[0]

    def as_user_objects(self, run, decoded: Decoded, ids: list[str]) -> list:
        """``SeqRecord``s: id, the aligned sequence as written to FASTA (``-`` where the alignment has a gap), ``pred_<p>`` in ``annotations`` and the description."""
        from Bio.Seq import Seq
        from Bio.SeqRecord import SeqRecord

        names = run.config.data.properties
        out = []
        for i, (sid, seq) in enumerate(zip(ids, decoded.objects)):
            pred = prediction_columns(names, decoded.properties, decoded.property_std, i)
            out.append(SeqRecord(Seq(seq), id=sid, description=" ".join(f"{k}={v}" for k, v in pred.items()),
                                 annotations=dict(pred)))
        return out

    # ------------------------------------------------------------------ candidates

    def candidate_columns(self, run, obj, row_id: str, info: dict | None = None) -> dict:
        muts = describe_mutations(encode_sequences([obj])[0], run.model.plugin.reference.cpu().numpy(),
                                  _index_base(run))
        return {"sequence": obj.replace("-", ""), "mutations": muts,
                "num_mutations": (info or {}).get("mutations")}

    def write_candidates(self, run, rows: list[dict], objects: list, out: Path, symprec: float = 0.1) -> None:
        keep = ("objective", "plausibility_percentile", "rank", "synthesis_score", "synthesis_rank", "selected",
                "num_liabilities", "elbo_percentile", "edit_distance_wild_type")
        keep = tuple(k for k in keep if rows and k in rows[0]) + \
            (tuple(k for k in rows[0] if k.startswith("pred_")) if rows else ())
        write_fasta([(row["id"], row["sequence"], {k: row[k] for k in keep}) for row in rows], out / "candidates.fasta")

    def similarity(self, a: str, b: str) -> float:
        """Identity over the shorter length (gaps removed)."""
        a, b = a.replace("-", ""), b.replace("-", "")
        n = min(len(a), len(b))
        return sum(x == y for x, y in zip(a, b)) / n if n else 0.0

    def identity(self, obj: str) -> str:
        return obj.replace("-", "")

    # ------------------------------------------------------------------ scoring

    def read_files(self, files: list[Path]) -> list[tuple[str, object, str]]:
        items: list[tuple[str, object, str]] = []
        for f in files:
            try:  # the training reader's checks: encodings, gzip, non-ASCII, empty file
                recs = read_fasta_entries(f)
            except DesignerError as exc:
                items.append((f.stem, None, str(exc).replace(f"{f}: ", "")))
                continue
            if not recs:
                items.append((f.stem, None, "no FASTA records"))
            for rid, _, raw in recs:
                seq = raw.strip().upper()
                bad = sorted(set(seq) - RESIDUE_LETTERS)
                if bad:
                    items.append((rid, None, f"unknown residue letters {''.join(bad)}"))
                elif not seq.split("*")[0].replace("-", ""):
                    items.append((rid, None, "no residues before the first stop (*)" if "*" in seq else "no residues"))
                elif looks_like_nucleotides(seq):
                    items.append((rid, None, "looks like DNA/RNA (only A, C, G, T/U, N); translate it to protein"))
                else:
                    items.append((rid, seq, ""))
        return items

    def score_items(self, run, objects: list, ids: list[str], *, model_columns=None, relax_top: int = 0,
                    relax_steps: int = 200, energies: bool = True, hull_files=None, second_opinion: bool = False,
                    log=print, jobs: int = 1):  # liabilities and distances are cheap: jobs is not needed
        wt = generate.reference_sequence(run) if run is not None else None
        return score_proteins(objects, ids, wild_type=wt, model_scores=model_columns), []

    def score_candidates(self, run, objects: list, ids: list[str], cfg, known: KnownData | None = None,
                         log=print, plausibility=None) -> tuple[list[dict], dict]:
        log(f"scoring {len(objects)} candidates (liabilities, likelihood, distances)")
        cols = self.model_columns(run, (lambda: known) if known is not None else (lambda: self.known_data(run)),
                                  plausibility) if plausibility is not None else None
        rows = score_proteins(objects, ids, wild_type=generate.reference_sequence(run), model_scores=cols)
        return rows, {"batch_diversity_mean_edit_distance": batch_diversity(objects)}

    def readiness(self, row: dict, w: dict) -> float | None:
        """Gated on stop codons; likelihood (else plausibility) percentile, liabilities, distance to the wild type."""
        if str(row.get("stop_codon")) == "True":
            return None
        pl = _num(row, "elbo_percentile")
        pl = _num(row, "plausibility_percentile") if not math.isfinite(pl) else pl
        n_liab = _num(row, "num_liabilities")
        d = _num(row, "edit_distance_wild_type")
        s = w["plausibility"] * (pl / 100 if math.isfinite(pl) else 0.0)
        s -= w["liability"] * (n_liab if math.isfinite(n_liab) else 0.0)
        s -= w["distance"] * (d / 10 if math.isfinite(d) else 0.0)
        return s

    def model_columns(self, run, known: Callable[[], KnownData], plausibility, max_reference: int = 5000) -> Callable:
        """ELBO and its percentile among (up to ``max_reference``) training sequences, Hamming distance to the
        nearest training sequence (aligned), plausibility, prediction."""
        space = SequenceSpace(run)
        names = list(run.config.data.properties)
        # the training sequences only: their latents (``known``) would cost an encoding of the whole set
        train_tokens = _training_tokens(run)[1]
        rng = np.random.default_rng(0)
        pick = rng.choice(len(train_tokens), min(max_reference, len(train_tokens)), replace=False)
        # the percentile scale of scored sequences, memoised: scoring one sequence does not re-estimate thousands
        train_elbo = cached_for_model(run, run.training_paths(), {"kind": "reference_elbo", "format": 1, "n": len(pick)},
                                      lambda: generate.elbo(run, train_tokens[pick]).cpu().numpy())

        def columns(seqs: list[str]) -> list[dict]:
            if not seqs:  # every file was unreadable: its rows carry their reasons
                return []
            pset = generate.read_sequence_strings(run, seqs, unknown="mask", strip_gaps=True)
            by_id = {rec.id: k for k, rec in enumerate(pset.records)}
            z = space.encode(pset.tokens)
            mean, std = space.predict(z)
            el = generate.elbo(run, pset.tokens).cpu().numpy()
            pl = plausibility.percentile(z.cpu().numpy())
            near = hamming_to_nearest(pset.tokens.cpu().numpy(), train_tokens.cpu().numpy())
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
                             **prediction_columns(names, mean, std, k)})
            return rows

        return columns

    # ------------------------------------------------------------------ report

    def report_extras(self, run, rows: list[dict], objects: list) -> dict:
        from designer.report.page import Alignment
        from designer.scoring.protein_card import liability_positions

        seqs = {row["id"]: str(seq) for row, seq in zip(rows, objects)}
        return {"alignment": Alignment(aligned_reference(run), seqs,
                                       {i: liability_positions(seq) for i, seq in seqs.items()})}

    def report_phrases(self, row: dict) -> list[str]:
        out = []
        n = _num(row, "num_mutations")
        if math.isfinite(n):
            out.append(f"{int(n)} substitution{'s' if n != 1 else ''}" + (f" ({row['mutations']})" if row.get("mutations") else ""))
        out.append(str(row["liabilities"]) if row.get("liabilities") else "no sequence liabilities")
        e = _num(row, "elbo_percentile")
        if math.isfinite(e):
            out.append(f"likelihood percentile {e:.3g}")
        return out

    # ------------------------------------------------------------------ analysis

    def analysis_raw(self, run, items) -> torch.Tensor:
        return torch.stack([items[i]["tokens"] for i in range(len(items))])

    def factors(self, run, raw, y, names):
        return protein_factors(raw, run.model.plugin.reference, y, names)

    def intervention(self, run, raw, mu, seed):
        delta = mutation_intervention(lambda t: generate.encode(run, t)[0], raw, mu, GAP_INDEX, seed)
        return delta, "one extra random substitution"

    def decode_rows(self, run, z: torch.Tensor) -> list[dict]:
        names = list(run.config.data.properties)
        dec = generate.decode_latents(run, z)
        seqs = dec.sequences(keep_gaps=True)
        p_mut = mutation_probabilities(run, z)
        return [{"sequence": s, "expected_substitutions": float(p_mut[i].sum()), "mutation_prob": p_mut[i],
                 **{f"pred_{n}": float(dec.properties[i, j]) for j, n in enumerate(names) if dec.properties.size}}
                for i, s in enumerate(seqs)]

    def prototype(self, run, row: dict, out: Path) -> dict:
        pred = {n: row.get(f"pred_{n}") for n in run.config.data.properties}
        seq = row["sequence"].replace("-", "")
        subs = sum(a != b for a, b in zip(row["sequence"], aligned_reference(run)))
        desc = " ".join(f"pred_{n}={v:.4g}" for n, v in pred.items() if v is not None)
        atomic_write_text(out / "prototype.fasta", f">prototype z=0 substitutions={subs} {desc}\n{seq}\n")
        return {"sequence": seq, "substitutions_from_reference": subs, "predicted": pred, "file": "prototype.fasta"}

    def plot_traversals(self, rows, dims, names, path):
        plot_traversals(rows, dims, names, path)

    def plot_interpolation(self, rows, names, path):
        interpolation(rows, names, path, second="expected_substitutions",
                            second_label="expected substitutions from the reference")

    def traversal_summary(self, dim: int, steps: list[dict]) -> str:
        def f(v):
            return "–" if v is None else f"{v:.3f}"
        pred = [next((v for k, v in t.items() if k.startswith("pred_")), None) for t in steps]
        return (f"- z{dim}: predicted " + " → ".join(f(v) for v in pred)
                + "; expected substitutions " + " → ".join(f"{t['expected_substitutions']:.1f}" for t in steps)
                + "; " + moving_positions(steps))

    def interpolation_summary(self, step: dict, rows: list[dict]) -> str:
        changed = sum(a != b for a, b in zip(step["sequence"], rows[0]["sequence"]))
        return (f"{changed} residues changed from the start (most likely sequence), "
                f"{step['expected_substitutions']:.1f} expected substitutions from the reference")

    def prior_diversity(self, run, n: int) -> float:
        """Distinct sequences per draw times their mean number of substitutions from the reference (500 copies
        of one 10-mutation variant score 0.02, not 10)."""
        tokens = generate.sample(run, n, seed=0).tokens
        distinct = len({tuple(t) for t in tokens.tolist()}) / n
        return distinct * float((tokens != run.model.plugin.reference.unsqueeze(0)).sum(1).float().mean())


@torch.no_grad()
def mutation_probabilities(run, z: torch.Tensor) -> np.ndarray:
    """``n x L``: the decoder's probability of a residue other than the reference at each position.

    A protein decoder's most likely sequence is often the wild type everywhere; these
    probabilities show what a latent direction changes even then. Their sum over positions is the
    expected number of substitutions.
    """
    logits = run.model.eval().decode(z)["logits"]
    ref = run.model.plugin.reference
    p_ref = torch.softmax(logits, -1).gather(-1, ref.view(1, -1, 1).expand(len(z), -1, 1)).squeeze(-1)
    return (1.0 - p_ref).cpu().numpy()


def moving_positions(steps: list[dict], k: int = 5) -> str:
    """The ``k`` positions whose substitution probability changes most along a traversal."""
    p = np.stack([t["mutation_prob"] for t in steps])
    change = p[-1] - p[0]
    top = np.argsort(-np.abs(change))[:k]
    return "largest changes at positions " + ", ".join(f"{j + 1} ({p[0, j]:.2f}→{p[-1, j]:.2f})" for j in top)


DOMAIN = SequenceDomain()
