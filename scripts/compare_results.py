"""Compare two benchmark results JSON files value by value (timings, device and command left out).

    python scripts/compare_results.py results/perov5.json /tmp/perov5_rerun.json

Prints how many values were compared and every one that differs (floats equal to 1e-9 relative).
Used to check that a restructuring leaves every benchmark number unchanged.
"""

from __future__ import annotations

import json
import math
import sys

SKIP = {"command", "device", "speed", "model", "timing", "seconds", "minutes"}


def compare(old, new, path: str = "", out: list | None = None) -> tuple[int, list[str]]:
    out = [] if out is None else out
    count = 0
    if path.split(".")[-1] in SKIP:
        return 0, out
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            where = f"{path}.{k}" if path else k
            if k not in old or k not in new:
                out.append(f"{where}: only in the {'new' if k in new else 'old'} file")
                continue
            count += compare(old[k], new[k], where, out)[0]
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            count += compare(a, b, f"{path}[{i}]", out)[0]
    else:
        count = 1
        same = old == new or (isinstance(old, float) and isinstance(new, float)
                              and math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-12))
        if not same:
            out.append(f"{path}: {old!r} -> {new!r}")
    return count, out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    with open(argv[0]) as f, open(argv[1]) as g:
        n, diffs = compare(json.load(f), json.load(g))
    print(f"compared {n} values; {len(diffs)} differ")
    print("\n".join(diffs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
