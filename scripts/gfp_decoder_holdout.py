"""Issue 20: how well a gfp model's decoder reconstructs substitutions, on the run's own seeded holdout.

    python scripts/gfp_decoder_holdout.py RUN [RUN ...] --out results/gfp_decoder_holdout.json

For each run: the holdout (the seeded 10% of the <= 3-mutation variants that selected the model; the
>= 4-mutation test variants are not read) is encoded and decoded at the posterior mean, argmax. Reported:
mutated-position accuracy, residue accuracy, spurious substitutions per full-length sequence (a residue
other than the wild type's where the input has the wild type's), and the property head's Spearman. A
run trained with ``loss.weights.substitutions = w`` learns substitution probabilities inflated by about
w; ``shifts`` shows the same decode with ``s`` subtracted from every non-wild-type logit (s = log w undoes
the inflation).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from designer.benchmarks.gfp import _data_path
from designer.data.splits import holdout_split
from designer.domains.sequence.generate import encode, read_for_run
from designer.metrics.protein import residue_accuracy, spearman, substituted_positions
from designer.report.results import command_line, device_info, write_results
from designer.runs import SHIPPED, load_run


def evaluate(run: str) -> dict:
    r = load_run(run)
    cfg = r.config
    pset = read_for_run(r, _data_path(r), cfg.data.properties)
    cap = cfg.data.sequences.max_mutations  # the rows training drew its holdout from (gfp.yaml: 3)
    idx = torch.nonzero(pset.mutations <= cap).squeeze(1).numpy() if cap is not None else np.arange(len(pset.tokens))
    _, held = holdout_split(len(idx), cfg.data.holdout_fraction, cfg.seed)
    rows = idx[held]
    tokens = pset.tokens[rows]
    plugin = r.model.plugin
    wt = plugin.reference
    mu, _ = encode(r, tokens)
    with torch.no_grad():
        logits = plugin.decode(mu)["logits"]
        pred_y = r.model.property_head(mu)[:, 0].cpu().numpy()
    true = tokens.numpy()
    full = ~pset.truncated[rows].numpy()
    sub = substituted_positions(true, wt.numpy())
    not_wt = torch.ones_like(logits, dtype=torch.bool)
    not_wt.scatter_(-1, wt.view(1, -1, 1).expand(len(tokens), -1, 1), False)
    weight = cfg.loss.weights.get("substitutions", 1.0)
    label = r.config.name if Path(r.path).resolve().parent == SHIPPED.resolve() else Path(r.path).parent.name
    out = {"run": str(r.path), "label": label, "substitution_weight": weight, "epochs": r.meta.get("epochs"),
           "minutes": r.meta.get("minutes"), "holdout_rows": int(len(rows)), "holdout_substitutions": int(sub.sum()),
           "property_spearman": spearman(pred_y, pset.y[rows, 0].numpy()), "shifts": []}
    for shift in sorted({0.0, 1.0, 2.0, round(math.log(weight), 3), 4.0}):
        pred = plugin.to_tokens({"logits": logits - shift * not_wt}).numpy()
        spurious = ((pred != wt.numpy()) & (true == wt.numpy())).sum(1)[full]
        out["shifts"].append({"shift": shift, "mutated_position_accuracy": residue_accuracy(pred, true, sub),
                              "residue_accuracy": residue_accuracy(pred, true),
                              "spurious_substitutions_per_sequence": float(spurious.mean())})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", default="results/gfp_decoder_holdout.json")
    args = ap.parse_args()
    res = {"benchmark": "gfp-decoder-holdout", "command": command_line(), "device": device_info(),
           "runs": [evaluate(run) for run in args.runs]}
    lines = ["# avGFP decoder: substitutions reconstructed on the holdout", "", f"Command: `{res['command']}`  ",
             "Holdout: the seeded 10% of the <= 3-mutation variants (the test variants are not read). Decoded at the "
             "posterior mean, argmax; `shift`: subtracted from every non-wild-type logit.", "",
             "| run | weight | epochs | property Spearman | shift | mutated-position acc. | residue acc. | spurious / seq |",
             "|---|---|---|---|---|---|---|---|"]
    for run in res["runs"]:
        for s in run["shifts"]:
            lines.append(f"| {run['label']} | {run['substitution_weight']:g} | {run['epochs']} | "
                         f"{run['property_spearman']:.3f} | {s['shift']:g} | {s['mutated_position_accuracy']:.3f} | "
                         f"{s['residue_accuracy']:.4f} | {s['spurious_substitutions_per_sequence']:.2f} |")
    write_results(Path(args.out), res, "\n".join(lines) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
