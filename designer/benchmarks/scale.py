"""``designer benchmark scale`` (DESIGN section 5c): does data preparation and training stay flat as the data grows?

Synthetic crystal CSVs of each size are drawn (seeded, with replacement, so every size has the same
mix) from the shipped perov_5 and mp_20_subset training structures, each copy strained (symmetric strain, sigma 0.03) and its fractional coordinates jittered (sigma
0.01), with a property column. For each size, in fresh subprocesses (so each peak is its own):

* preprocessing into the memory-mapped store (``designer.data.graph_store``) with 1 and 2 worker
  processes: seconds per 1k crystals, and the peak resident memory of the whole process tree (the
  main process plus its workers, sampled every 0.1 s with psutil);
* one training epoch at batch 128 on the store (the default model, 1 torch thread): the peak
  resident memory and the median seconds per step.

Scoring: structures per second of ``designer score``'s work (checks, CHGNet single points, novelty
off) on the first 1,000 perov_5 test crystals with 1 and with 2 worker processes, one torch thread each,
timed three times each, alternating, and the medians compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from designer.errors import DesignerError
from designer.report.results import command_line, device_info, fmt, write_results

WORKER = "designer.benchmarks.scale_worker"


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_measured(args: list[str], env: dict | None = None, timeout: float | None = None) -> tuple[dict, float]:
    """Run ``python -m designer.benchmarks.scale_worker ARGS``; its JSON result and the peak RSS (GB) of its tree."""
    proc = subprocess.Popen([sys.executable, "-m", WORKER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate(timeout=timeout)
    t.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{WORKER} {' '.join(args)} failed:\n{err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak[0] / 1e9


def _markdown(res: dict) -> str:
    lines = ["# Scale: data preparation, training and scoring as the data grows", "",
             f"Command: `{res['command']}`", "", f"Device: {res['device']}", "",
             "| crystals | prep s / 1k (1 job) | prep s / 1k (2 jobs) | prep peak RSS GB (2 jobs) | epoch peak RSS GB | "
             "s / step | steps timed |", "|---|---|---|---|---|---|---|"]
    for size in res["sizes"]:
        r = res["runs"][str(size)]
        lines.append(f"| {size} | {fmt(r.get('preprocess_s_per_1k_1_job'), 2)} | {fmt(r['preprocess_s_per_1k'], 2)} | "
                     f"{fmt(r['preprocess_peak_rss_gb'], 3)} | {fmt(r['epoch_peak_rss_gb'], 3)} | "
                     f"{fmt(r['step_seconds'], 3)} | {r['steps_timed']} of {r['steps_per_epoch']} |")
    s = res.get("scoring")
    if s:
        lines += ["", f"Scoring {s['structures']} perov_5 test crystals (checks + CHGNet single points): "
                  f"{fmt(s['structures_per_s_1_worker'], 1)} structures/s with 1 worker, "
                  f"{fmt(s['structures_per_s_2_workers'], 1)} with 2 ({fmt(s['speedup'], 2)}x; medians of "
                  f"{s.get('repeats', 1)} alternating runs each: "
                  f"{', '.join(fmt(x, 1) for x in s.get('seconds_1_worker', []))} s with 1, "
                  f"{', '.join(fmt(x, 1) for x in s.get('seconds_2_workers', []))} s with 2)."]
    if res.get("ratios"):
        lines += ["", "Ratios against the smallest size: " + ", ".join(f"{k} {fmt(v, 3)}" for k, v in res["ratios"].items())]
    lines += ["", res["protocol"], ""]
    return "\n".join(lines)


def run(sizes: str = "1000,10000,100000", out: Path | None = None, seed: int = 0, epoch_steps: int | None = None,
        scoring: bool = True, console: Console | None = None, preprocess_jobs: str = "1,2",
        scoring_repeats: int = 3) -> Path:
    """``designer benchmark scale``: results/scale.json and .md.

    Args:
        sizes: comma-separated dataset sizes.
        epoch_steps: time at most this many training steps of the epoch (default: the whole epoch).
        scoring: also measure scoring with 1 and 2 workers.
        scoring_repeats: time scoring this many times with each worker count, alternating 1 and 2 (the
            medians are the main keys; a shared machine's speed drifts by 20 % between runs).
        preprocess_jobs: comma-separated worker counts the preprocessing is measured with (2: the main
            keys; 1: the ``_1_job`` keys beside them).
    """
    console = console or Console(stderr=True)
    jobs_list = [j.strip() for j in str(preprocess_jobs).split(",") if j.strip()]
    jobs_list = [int(j) for j in jobs_list] if set(jobs_list) <= {"1", "2"} else []
    if 2 not in jobs_list:
        raise DesignerError(f"--preprocess-jobs {preprocess_jobs}: give 2, or 1,2 (2 workers give the main keys)")
    out = Path(out or "results/scale.json")
    size_list = [int(s) for s in str(sizes).split(",") if s.strip()]
    t0 = time.time()
    res: dict = {"benchmark": "scale", "command": command_line(), "device": device_info(), "seed": seed,
                 "sizes": size_list, "runs": {}, "cpu_count": os.cpu_count()}
    work = Path(tempfile.mkdtemp(prefix="designer-scale-"))
    for size in size_list:
        csv = work / f"synthetic_{size}.csv"
        console.print(f"[{size}] writing the synthetic dataset")
        made, _ = run_measured(["synth", str(csv), str(size), str(seed)])
        row: dict = {"synthetic_seconds": made["seconds"]}
        for jobs in jobs_list:
            cache = work / f"cache_{size}_{jobs}"
            console.print(f"[{size}] preprocessing with {jobs} job(s)")
            r, peak = run_measured(["preprocess", str(csv), str(jobs)], env={"DESIGNER_CACHE_DIR": str(cache)})
            suffix = "" if jobs == 2 else "_1_job"
            row[f"preprocess_s_per_1k{suffix}"] = r["seconds"] / size * 1000
            row[f"preprocess_peak_rss_gb{suffix}"] = peak
            row["atoms"], row["edges"] = r["atoms"], r["edges"]
        console.print(f"[{size}] one training epoch at batch 128")
        r, peak = run_measured(["epoch", str(csv), str(epoch_steps or 0)],
                               env={"DESIGNER_CACHE_DIR": str(work / f"cache_{size}_2"), "OMP_NUM_THREADS": "1"})
        row.update({"epoch_peak_rss_gb": peak, "step_seconds": r["median_step_seconds"],
                    "steps_timed": r["steps"], "steps_per_epoch": r["steps_per_epoch"], "batch": r["batch"],
                    "epoch_seconds": r["seconds"]})
        res["runs"][str(size)] = row
        for p in work.glob(f"cache_{size}_1"):
            import shutil

            shutil.rmtree(p, ignore_errors=True)
    if len(size_list) > 1:
        lo, hi = res["runs"][str(size_list[0])], res["runs"][str(size_list[-1])]
        res["ratios"] = {f"preprocess_s_per_1k {size_list[-1]} / {size_list[0]}": hi["preprocess_s_per_1k"] / lo["preprocess_s_per_1k"],
                         f"step_seconds {size_list[-1]} / {size_list[0]}": hi["step_seconds"] / lo["step_seconds"]}
    if scoring:
        console.print("scoring 1,000 perov_5 test crystals with 1 and 2 workers")
        secs: dict[int, list[float]] = {1: [], 2: []}
        digests = set()
        for _ in range(max(1, int(scoring_repeats))):
            for jobs in (1, 2):
                r, _ = run_measured(["score", str(jobs), "1000"], env={"OMP_NUM_THREADS": "1"})
                secs[jobs].append(r["seconds"])
                digests.add(r["digest"])
                structures = r["structures"]
        one, two = float(np.median(secs[1])), float(np.median(secs[2]))
        res["scoring"] = {"structures": structures,
                          "structures_per_s_1_worker": structures / one,
                          "structures_per_s_2_workers": structures / two,
                          "speedup": one / two, "identical_rows": len(digests) == 1,
                          "seconds_1_worker": secs[1], "seconds_2_workers": secs[2], "repeats": len(secs[1])}
    res["protocol"] = " ".join(__doc__.split("\n\n", 1)[1].replace("``", "`").split())
    res["minutes"] = round((time.time() - t0) / 60, 2)
    res["peak_note"] = ("RSS of the process tree (main process and workers) sampled every 0.1 s; "
                        f"{np.round(res['minutes'], 1)} min in all")
    write_results(out, res, _markdown(res))
    return out
