"""Reference energies for formation energies and the convex hull, computed once with CHGNet and shipped.

No materials database is reachable, so the references are built here:

* **elements**: each element's ASE reference crystal (``ase.build.bulk``: fcc, bcc, hcp, diamond,
  sc, and the rhombohedral/orthorhombic/tetragonal states ASE knows), relaxed with CHGNet; for
  elements whose ground state ASE gives as a molecule (H, N, O, F, Cl; Br and I built the same way)
  a relaxed diatomic molecule in a 12 A box; elements ASE has no crystal for get the lowest of
  relaxed fcc/bcc/hcp/sc at ASE's volume guess. These are approximations (a molecule in a box
  stands in for the solid or gas phase, and the fallback may miss the true ground state), stated in
  every report.
* **training structures**: single-point CHGNet energies of a pipeline's training crystals.

``python -m designer.scoring.references elements`` writes ``designer/data_files/elemental_references.json``;
``python -m designer.scoring.references train PIPELINE`` writes ``chgnet_energies.csv.gz`` beside the
pipeline's first training file (for perov5: ``designer/datasets/perov_5/``); ``build`` / ``freeze``
make the competing-phase set (``competing_phases``) and ``second-opinion`` its SevenNet-0 energies
(``second_opinion``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Element
from pymatgen.io.ase import AseAtomsAdaptor

from designer.io.atomic import atomic_write_text
from designer.scoring.chgnet_energy import MODEL_VERSION, relax, single_point
from designer.scoring.elemental import (  # noqa: F401  (re-exported: the element helpers live there)
    DIATOMIC_BOND, ELEMENTS_FILE, SKIP, _candidates, load_elemental_references,
)

def build_elemental_references(symbols: list[str], steps: int = 300, log=print) -> dict:
    refs = {}
    for sym in symbols:
        best = None
        for desc, atoms, cell in _candidates(sym):
            s = AseAtomsAdaptor.get_structure(atoms)
            r = relax(s, steps=steps, fmax=0.05, relax_cell=cell)
            e = r["relaxed_energy_per_atom"]
            if np.isfinite(e) and (best is None or e < best["energy_per_atom"]):
                best = {"energy_per_atom": float(e), "structure": desc, "num_atoms": len(s),
                        "residual_max_force": r["residual_max_force"], "steps": r["relax_steps"]}
        if best is not None:
            refs[sym] = best
            log(f"{sym}: {best['energy_per_atom']:.4f} eV/atom ({best['structure']})")
        else:
            log(f"{sym}: no reference (no structure relaxed)")
    return refs


USAGE = ("usage: python -m designer.scoring.references elements | train PIPELINE.yaml | "
         "build [--tiers a,b,d,i,c,b+] [--minutes M] [--progress FILE] | freeze [--progress FILE] | second-opinion")
PROGRESS = Path("runs/references/progress.jsonl")


def _competing_phases(argv: list[str]) -> None:
    """``build``: relax what the frozen set and the progress file lack (resumable); ``freeze``: merge and hash."""
    import argparse

    from designer.scoring import competing_phases as cp

    ap = argparse.ArgumentParser(prog="python -m designer.scoring.references " + argv[0])
    ap.add_argument("--progress", type=Path, default=PROGRESS)
    if argv[0] == "build":
        ap.add_argument("--tiers", default=",".join(cp.TIER_ORDER))
        ap.add_argument("--minutes", type=float, default=240.0)
        ap.add_argument("--freeze-every", type=int, default=0, help="freeze after every N structures (0: at the end)")
    args = ap.parse_args(argv[1:])
    if argv[0] == "build":
        tiers = tuple(t for t in args.tiers.split(",") if t)
        bad = [t for t in tiers if t not in cp.TIER_ORDER]
        if bad:
            raise SystemExit(f"--tiers: unknown tier {bad[0]!r}; known: {','.join(cp.TIER_ORDER)}")
        n = cp.build(args.progress, tiers, args.minutes, log=lambda m: print(m, flush=True),
                     freeze_every=args.freeze_every)
        print(f"relaxed {n} structures")
    doc = cp.freeze(args.progress)
    print(f"froze {doc['rows']} rows ({doc['relaxed_by_tier']}) sha256 {doc['sha256'][:12]}")


def _main(argv: list[str]) -> None:
    if argv[:1] == ["elements"]:
        symbols = [Element.from_Z(z).symbol for z in range(1, 84) if Element.from_Z(z).symbol not in SKIP]
        t = time.time()
        refs = build_elemental_references(symbols)
        doc = {"model": f"CHGNet {MODEL_VERSION}", "minutes": round((time.time() - t) / 60, 1),
               "method": __doc__.split("* **training")[0].strip(), "elements": refs}
        atomic_write_text(ELEMENTS_FILE, json.dumps(doc, indent=1) + "\n")
        print(f"wrote {ELEMENTS_FILE} ({len(refs)} elements)")
    elif argv[:1] == ["train"] and len(argv) == 2:
        from designer.config import load_pipeline
        from designer.data.crystal_dataset import load_records

        cfg, _ = load_pipeline(Path(argv[1]))
        recs = [r for p in cfg.data.train for r in load_records(Path(p), [])]
        t = time.time()
        structs = [r.to_structure() for r in recs]
        sp = single_point(structs)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["id", "formula", "num_atoms", "energy_per_atom"])
        for r, s, e in zip(recs, structs, sp):
            w.writerow([r.id, s.composition.formula.replace(" ", ""), len(s), f"{e['energy_per_atom']:.6f}"])
        out = Path(cfg.data.train[0]).parent / "chgnet_energies.csv.gz"
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(gzip.compress(buf.getvalue().encode()))
        tmp.replace(out)
        print(f"wrote {out} ({len(recs)} structures, {(time.time() - t) / 60:.1f} min)")
    elif argv[:1] in (["build"], ["freeze"]):
        _competing_phases(argv)
    elif argv == ["second-opinion"]:
        from designer.scoring import second_opinion

        doc = second_opinion.build(log=lambda m: print(m, flush=True))
        print(f"wrote {second_opinion.ENERGIES_FILE.name}: {doc['rows']} rows, {doc['cpu_seconds']} s, "
              f"for competing phases {doc['competing_phases_sha256'][:12]}")
    else:
        raise SystemExit(USAGE)


if __name__ == "__main__":
    _main(sys.argv[1:])
