"""``report.html``: one self-contained page (no network) with the ranked, sortable candidate table,
an image of each crystal (ASE + matplotlib) or the sequence with its mutations highlighted, and the
optimisation trace and latent-map plots as embedded PNGs.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np
from ase.visualize.plot import plot_atoms
from pymatgen.io.ase import AseAtomsAdaptor

from designer.io.atomic import atomic_write_text

SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute('data-order') !== 'asc';
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-order'); });
    th.setAttribute('data-order', asc ? 'asc' : 'desc');
  });
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: middle; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th[data-order=asc]::after { content: ' \\25B2'; } th[data-order=desc]::after { content: ' \\25BC'; }
tr.failed { color: #999; } tr.selected td:first-child { font-weight: bold; }
.seq { font-family: monospace; font-size: 0.8em; word-break: break-all; max-width: 60em; }
.seq mark { background: #ffd54f; }
img.crystal { width: 120px; height: 120px; }
.note { color: #555; font-size: 0.9em; max-width: 70em; }
"""


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def crystal_png(structure) -> bytes:
    """A small picture of the cell and its atoms (ASE's plot_atoms)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    atoms = AseAtomsAdaptor.get_atoms(structure)
    fig, ax = plt.subplots(figsize=(2, 2))
    plot_atoms(atoms, ax, rotation="15x,25y,0z", radii=0.5, show_unit_cell=2)
    ax.set_axis_off()
    return figure_png(fig)


def trace_png(rounds: list[int], objective: list[float], known_best: float | None) -> bytes:
    """Best objective so far after each round (and each round's candidates as dots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3))
    r = np.asarray(rounds)
    o = np.asarray(objective, dtype=float)
    ax.scatter(r, o, s=10, alpha=0.5, label="candidates")
    if len(r):
        xs = np.arange(1, r.max() + 1)
        best = [np.nanmax(o[r <= x]) for x in xs]
        ax.plot(xs, best, "k-o", ms=3, label="best so far")
    if known_best is not None and math.isfinite(known_best):
        ax.axhline(known_best, color="grey", ls="--", lw=1, label="best known (head)")
    ax.set_xlabel("round")
    ax.set_ylabel("objective (to maximise)")
    ax.legend(fontsize=7)
    return figure_png(fig)


def latent_map_png(known_z: np.ndarray, cand_z: np.ndarray, cand_score: np.ndarray | None = None) -> bytes:
    """The training latents and the candidates on the training data's first two principal components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    known_z = np.asarray(known_z, dtype=float)
    mean = known_z.mean(0)
    _, _, vt = np.linalg.svd(known_z - mean, full_matrices=False)
    pk = (known_z - mean) @ vt[:2].T
    pc = (np.asarray(cand_z, dtype=float) - mean) @ vt[:2].T
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.scatter(pk[:, 0], pk[:, 1], s=3, c="#bbb", label="training data")
    sc = ax.scatter(pc[:, 0], pc[:, 1], s=18, c=cand_score if cand_score is not None else "C3",
                    cmap="viridis", edgecolors="k", linewidths=0.3, label="candidates")
    if cand_score is not None:
        fig.colorbar(sc, ax=ax, label="objective")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=7)
    return figure_png(fig)


def highlighted_sequence(seq: str, reference: str | None) -> str:
    """HTML of ``seq`` with residues that differ from ``reference`` (same length) in <mark>."""
    if not reference or len(reference) != len(seq):
        return html.escape(seq)
    return "".join(f"<mark title='{ref}{i + 1}{a}'>{a}</mark>" if a != ref else a
                   for i, (a, ref) in enumerate(zip(seq, reference)))


def _cell(v) -> tuple[str, str]:
    """(display, sort value)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "", ""
    if isinstance(v, float):
        return f"{v:.4g}", repr(v)
    return html.escape(str(v)), html.escape(str(v))


def write_report(path: Path, rows: list[dict], title: str, columns: list[str], images: dict | None = None,
                 plots: dict | None = None, notes: list[str] | None = None, reference: str | None = None,
                 sequences: bool = False) -> Path:
    """Write the page.

    ``columns``: the table's columns (those present in some row are shown, then every ``pred_*``);
    ``images``: id -> PNG bytes, shown in a leading picture column when given (crystals);
    ``sequences``: a trailing column with each row's ``sequence``, residues that differ from
    ``reference`` highlighted; ``plots``: caption -> PNG bytes.
    """
    plots = plots or {}
    preds = [k for k in (rows[0] if rows else {}) if k.startswith("pred_")]
    cols = [c for c in list(columns) + preds if any(c in r for r in rows)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in (["picture"] if images is not None else []) + cols
                   + (["sequence"] if sequences else []))
    body = []
    for r in sorted(rows, key=lambda r: r.get("synthesis_rank") or r.get("rank") or 0):
        cls = []
        if r.get("synthesis_score") is None and "synthesis_score" in r:
            cls.append("failed")
        if str(r.get("selected")) == "True":
            cls.append("selected")
        cells = []
        if images is not None:
            img = images.get(r["id"])
            tag = f"<img class=crystal alt='{html.escape(str(r['id']))}' src='{png_data_uri(img)}'>" if img else ""
            cells.append(f"<td data-v=''>{tag}</td>")
        for c in cols:
            shown, sort = _cell(r.get(c))
            cells.append(f"<td data-v='{sort}'>{shown}</td>")
        if sequences:
            seq = str(r.get("sequence", ""))
            cells.append(f"<td data-v='' class=seq>{highlighted_sequence(seq, reference)}</td>")
        body.append(f"<tr class='{' '.join(cls)}' id='row-{html.escape(str(r['id']))}'>{''.join(cells)}</tr>")
    figs = "".join(f"<figure><img alt='{html.escape(k)}' src='{png_data_uri(v)}'><figcaption>{html.escape(k)}"
                   "</figcaption></figure>" for k, v in plots.items())
    note_html = "".join(f"<p class=note>{html.escape(n)}</p>" for n in (notes or []))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body><h1>{html.escape(title)}</h1>
{note_html}
<p class=note>{len(rows)} candidates; click a column header to sort. Bold ids: the selected batch; grey rows failed a
gate (geometry, charge balance or a stop codon).</p>
<table class="sortable" id="candidates"><thead><tr>{head}</tr></thead><tbody>
{''.join(body)}
</tbody></table>
<div style="display:flex;gap:2em;flex-wrap:wrap">{figs}</div>
<script>{SORT_JS}</script>
</body></html>
"""
    atomic_write_text(path, page)
    return path
