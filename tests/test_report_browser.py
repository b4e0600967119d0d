"""The design report in a real browser: Debian's Chromium driven by Node's playwright-core
(tests/browser/check_report.mjs) over a perov5 and a gfp report. It sorts a column, filters, opens a
row's 3D view or mutation alignment, fetches nothing, logs no console error, and leaves a screenshot.

`make test` installs both where it can (apt's chromium, `npm ci` in tests/browser); the test is
skipped only where either is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import designer

BROWSER_DIR = Path(__file__).parent / "browser"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _driver_ready() -> bool:
    return shutil.which("node") is not None and (BROWSER_DIR / "node_modules" / "playwright-core").is_dir()


pytestmark = pytest.mark.skipif(_chromium() is None or not _driver_ready(),
                                reason="no Chromium or no playwright-core (make test installs them: apt chromium, "
                                       "npm ci --prefix tests/browser)")


def _report(model_name: str, out: Path, n: int = 6) -> Path:
    """A report page of ``n`` prior samples of a shipped model, built by the design run's own page
    functions (summary card, domain extras, plots)."""
    from designer.domains import get_domain
    from designer.report.page import write_page
    from designer.workflow.run import design_card, design_plots

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = designer.load(model_name)
        gen = model.sample(n, seed=3)
        domain = get_domain(model.run)
        own = [domain.user_object(o) for o in gen.objects]
        scored = designer.score(gen.objects, energies=False).to_dict("records")
    prop = model.properties[0]
    rows = []
    for i, (g, s) in enumerate(zip(gen.table.to_dict("records"), scored)):
        row = {**s, **g, "rank": i + 1, "round": 1 + i % 2, "objective": -g[f"pred_{prop}"],
               "synthesis_rank": i + 1, "synthesis_score": 1.0 - 0.1 * i, "selected": i < 3}
        rows.append(row)
    summary = {"pipeline": model_name, "model": str(model.run.path), "model_source": "shipped", "rounds": 2, "q": 3,
               "minutes": 0.1, "objective": {"property": prop, "direction": "minimize"},
               "best_known_objective": 0.0, "best_candidate_objective": max(r["objective"] for r in rows)}
    known = model.encode(gen.objects).numpy()
    plots = design_plots(rows, summary, np.concatenate([known, known + 0.1]), gen.z.numpy())
    card = design_card(domain, rows, summary)
    extras = domain.report_extras(model.run, rows, own)
    return write_page(out / "report.html", f"{model_name} report", "test", card, rows, list(domain.report_columns),
                      plots=plots, **extras)


def _drive(page: Path, shot: Path) -> dict:
    res = subprocess.run(["node", str(BROWSER_DIR / "check_report.mjs"), str(page), str(shot), _chromium()],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model_name", ["perov5", "gfp"])
def test_the_report_sorts_filters_and_opens_a_candidate_with_no_console_error(model_name, tmp_path):
    page = _report(model_name, tmp_path)
    seen = _drive(page, tmp_path / "screenshot.png")
    assert seen["errors"] == [] and seen["requests"] == []  # nothing fetched, nothing broken
    assert seen["rows"] == 6
    assert seen["sorted_asc"] == sorted(seen["sorted_asc"]) and seen["sorted_desc"] == sorted(seen["sorted_desc"])[::-1]
    assert seen["visible_after_filter"] == 1 and seen["count_text"] == "1 of 6 shown"
    assert seen["details_visible"]
    assert "Make first" in seen["summary"] and "minimise" in seen["summary"]
    if model_name == "perov5":
        assert seen["canvas"] >= 1  # the 3Dmol viewer drew into a WebGL canvas
        assert seen["legend"] and all(el.isalpha() for el in seen["legend"])  # one key per element
    else:
        assert "ref " in seen["details_text"] and "new " in seen["details_text"]  # the alignment view
    assert (tmp_path / "screenshot.png").stat().st_size > 10_000
