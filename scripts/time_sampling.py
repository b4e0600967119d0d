"""Seconds to sample 10,000 prior crystals of the shipped perov5 model and check their validity (best of 3).

    python scripts/time_sampling.py            # 2 torch threads

Prints the best total (sampling + structural and compositional validity) and the best sampling time.
Works on older checkouts too (``designer.generate``), so a restructuring can be timed before and after.
"""

from __future__ import annotations

import time

import torch

from designer.metrics import composition_validity, structure_validity
from designer.runs import load_run

try:
    from designer.domains.crystal.generate import sample
except ImportError:  # checkouts from before the Domain interface
    from designer.generate import sample


def main(n: int = 10_000, repeats: int = 3, threads: int = 2) -> None:
    torch.set_num_threads(threads)
    run = load_run("perov5")
    sample(run, 500, seed=1)  # warm-up
    totals, samplings = [], []
    for _ in range(repeats):
        t = time.time()
        dec = sample(run, n, seed=0)
        samplings.append(time.time() - t)
        sum(1 for s in dec.structures if s is not None and structure_validity(s) and composition_validity(s))
        totals.append(time.time() - t)
    print(f"sampling + validity: {min(totals):.2f} s ({n / min(totals):.0f} structures/s); "
          f"sampling alone: {min(samplings):.2f} s")


if __name__ == "__main__":
    main()
