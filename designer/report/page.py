"""The design report page (``report.html``): summary card, compact sortable and filterable table whose
rows open their details (every column; a 3D crystal view or a mutation alignment), and the plots.

One self-contained file: styles, script, 3Dmol.js (crystals only) and PNG plots are embedded; the
page fetches nothing. The page knows no domain: it renders what it is given (CIF texts for 3D
views, a reference and marks for alignments).
"""

from __future__ import annotations

import gzip
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from designer.io.atomic import atomic_write_text
from designer.report.plots import png_data_uri
from designer.report.summary import fmt, label
from designer.resources import package_path

STYLE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d0d7de; --soft: #f6f8fa; --accent: #0969da; --good: #1a7f37; --bad: #cf222e; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1.5em; max-width: 1200px; color: var(--ink); }
h1 { font-size: 1.5em; margin: 0 0 .2em; } h2 { font-size: 1.15em; margin: 1.4em 0 .5em; }
.sub, .note { color: var(--muted); font-size: .9em; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: .8em 1.2em; background: var(--soft); }
.card dl { display: grid; grid-template-columns: max-content 1fr; gap: .35em 1.2em; margin: 0; }
.card dt { font-weight: 600; } .card dd { margin: 0; } .card ol, .card ul { margin: 0; padding-left: 1.2em; }
.toolbar { display: flex; gap: 1em; align-items: center; margin-bottom: .5em; }
#filter { padding: .35em .6em; border: 1px solid var(--line); border-radius: 6px; min-width: 18em; }
table.sortable { border-collapse: collapse; font-size: .88em; width: 100%; }
table.sortable th, table.sortable td { border-bottom: 1px solid var(--line); padding: .35em .5em; text-align: left; white-space: nowrap; }
table.sortable th { background: var(--soft); cursor: pointer; user-select: none; position: sticky; top: 0; white-space: normal; vertical-align: bottom; max-width: 7em; }
th[data-order=asc]::after { content: " \\25B2"; } th[data-order=desc]::after { content: " \\25BC"; }
tr.cand { cursor: pointer; } tr.cand:hover { background: #eef4ff; } tr.cand.open { background: #ddeaff; }
tr.failed { color: #8c959f; } tr.selected td.id { font-weight: 700; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.yes { color: var(--good); } td.no { color: var(--bad); }
tr[data-details] > td { background: #fbfcfd; padding: .8em 1em; white-space: normal; }
.details { display: flex; gap: 1.5em; flex-wrap: wrap; align-items: flex-start; }
.details dl { display: grid; grid-template-columns: max-content minmax(8em, 28em); gap: .15em .8em; margin: 0; font-size: .92em; }
.details dt { color: var(--muted); } .details dd { margin: 0; overflow-wrap: anywhere; }
.viewer { width: 360px; height: 300px; position: relative; border: 1px solid var(--line); border-radius: 6px; background: #fff; overflow: hidden; }
.legend { display: flex; gap: .8em; font-size: .85em; margin-top: .3em; } .legend i { display: inline-block; width: .8em; height: .8em; border-radius: 50%; margin-right: .25em; border: 1px solid #999; vertical-align: -1px; }
.view { display: flex; flex-direction: column; }
.align { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85em; line-height: 1.35; }
.align .blk { margin-bottom: .6em; } .align .pos { color: var(--muted); }
.align mark { background: #ffd54f; } .align .liab { text-decoration: underline wavy var(--bad); }
.plots { display: flex; gap: 1.5em; flex-wrap: wrap; } figure { margin: 0; } figcaption { font-size: .85em; color: var(--muted); max-width: 28em; }
"""

SCRIPT = """
(function () {
  var table = document.getElementById('candidates');
  var body = table.tBodies[0];
  function pairs() {
    var out = [];
    Array.prototype.forEach.call(body.querySelectorAll('tr.cand'), function (r) {
      out.push([r, body.querySelector('tr[data-details="' + r.dataset.id + '"]')]);
    });
    return out;
  }
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('data-order') !== 'asc';
      var rows = pairs();
      rows.sort(function (a, b) {
        var x = a[0].cells[col].getAttribute('data-v'), y = b[0].cells[col].getAttribute('data-v');
        if (x === '' && y !== '') return 1;
        if (y === '' && x !== '') return -1;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function (p) { body.appendChild(p[0]); if (p[1]) body.appendChild(p[1]); });
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-order'); });
      th.setAttribute('data-order', asc ? 'asc' : 'desc');
    });
  });
  var filter = document.getElementById('filter'), count = document.getElementById('count');
  function applyFilter() {
    var q = filter.value.trim().toLowerCase(), shown = 0;
    pairs().forEach(function (p) {
      var hit = !q || p[0].textContent.toLowerCase().indexOf(q) >= 0;
      p[0].hidden = !hit;
      if (p[1] && !hit) p[1].hidden = true;
      if (hit) shown++;
    });
    count.textContent = shown + ' of ' + pairs().length + ' shown';
  }
  filter.addEventListener('input', applyFilter);
  applyFilter();
  var structures = JSON.parse(document.getElementById('structures').textContent);
  function view(id, el) {
    if (el.dataset.ready || !structures[id] || typeof $3Dmol === 'undefined') return;
    el.dataset.ready = '1';
    var v = $3Dmol.createViewer(el, {backgroundColor: 'white'});
    var m = v.addModel(structures[id], 'cif');
    v.setStyle({}, {sphere: {scale: 0.3, colorscheme: 'Jmol'}, stick: {radius: 0.12, colorscheme: 'Jmol'}});
    v.addUnitCell(m, {box: {color: 'black'}});
    v.zoomTo();
    v.render();
    var seen = {}, legend = document.createElement('div');
    legend.className = 'legend';
    m.selectedAtoms({}).forEach(function (a) {
      if (seen[a.elem]) return;
      seen[a.elem] = 1;
      var c = ($3Dmol.elementColors.Jmol[a.elem] || 0x888888).toString(16);
      var key = document.createElement('span');
      key.innerHTML = '<i style="background:#' + ('000000' + c).slice(-6) + '"></i>' + a.elem;
      legend.appendChild(key);
    });
    el.parentNode.insertBefore(legend, el.nextSibling);
  }
  pairs().forEach(function (p) {
    p[0].addEventListener('click', function () {
      if (!p[1]) return;
      p[1].hidden = !p[1].hidden;
      p[0].classList.toggle('open', !p[1].hidden);
      if (!p[1].hidden) {
        var el = p[1].querySelector('.viewer');
        if (el) view(p[0].dataset.id, el);
      }
    });
  });
})();
"""


@dataclass
class Card:
    """The summary card: ``what`` was designed, the ``objective`` in words, ``best`` (``(id, line)`` for
    the top candidates), ``caveats``."""

    what: str
    objective: str
    best: list[tuple[str, str]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)


@dataclass
class Alignment:
    """Sequences against a reference: ``sequences`` id -> aligned sequence (same length as
    ``reference``), ``marks`` id -> {1-based position: what is there (a liability)}."""

    reference: str
    sequences: dict[str, str]
    marks: dict[str, dict[int, str]] = field(default_factory=dict)


def _vendored_3dmol() -> str:
    with gzip.open(package_path("report", "vendor", "3Dmol-min.js.gz"), "rt", encoding="utf-8") as f:
        return f.read()


def _td(value, column: str) -> str:
    shown = fmt(value, column)
    sort = shown if not isinstance(value, (int, float)) or isinstance(value, bool) else repr(float(value))
    if isinstance(value, bool) or str(value).lower() in ("true", "false"):
        cls = "yes" if shown == "yes" else "no"
    elif isinstance(value, (int, float)):
        cls = "num"
    else:
        cls = ""
    cls += " id" if column == "id" else ""
    return f"<td class='{cls.strip()}' data-v='{html.escape(sort)}'>{html.escape(shown)}</td>"


def _pred_td(row: dict, column: str) -> str:
    """``pred_<p>`` with its ``± std`` in one cell."""
    value, std = row.get(column), row.get(f"{column}_std")
    shown = fmt(value, column)
    if shown and fmt(std, column):
        shown += f" ± {fmt(std, column)}"
    sort = repr(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f"<td class=num data-v='{sort}'>{html.escape(shown)}</td>"


def _long(text: str, keep: int = 180) -> str:
    """A long text as its first ``keep`` characters, the rest behind a disclosure."""
    if len(text) <= keep:
        return html.escape(text)
    cut = text.rfind(" ", 0, keep)
    return (f"<details><summary>{html.escape(text[:cut])} …</summary>{html.escape(text[cut:])}</details>")


def alignment_html(reference: str, seq: str, marks: dict[int, str] | None = None, width: int = 60) -> str:
    """Blocks of ``width`` positions: a ruler, the reference, and ``seq`` with substitutions in <mark> and
    liability positions underlined (their text as a tooltip)."""
    marks = marks or {}
    if len(seq) != len(reference):  # not aligned: show the sequence alone
        reference = seq
    blocks = []
    for s in range(0, len(seq), width):
        ref_part = html.escape(reference[s:s + width])
        cells = []
        for i, (a, r) in enumerate(zip(seq[s:s + width], reference[s:s + width])):
            pos = s + i + 1
            text = html.escape(a)
            title = []
            if a != r:
                text = f"<mark>{text}</mark>"
                title.append(f"{r}{pos}{a}")
            if pos in marks:
                text = f"<span class=liab>{text}</span>"
                title.append(marks[pos])
            cells.append(f"<span title='{html.escape('; '.join(title))}'>{text}</span>" if title else text)
        blocks.append(f"<div class=blk><div class=pos>{s + 1}</div><div>ref {ref_part}</div>"
                      f"<div>new {''.join(cells)}</div></div>")
    return f"<div class=align>{''.join(blocks)}</div>"


def write_page(path: Path, title: str, subtitle: str, card: Card, rows: list[dict], key_columns: list[str],
               plots: dict[str, bytes] | None = None, structures: dict[str, str] | None = None,
               alignment: Alignment | None = None, notes: list[str] | None = None) -> Path:
    """Write the report page (atomically).

    Args:
        rows: one dict per candidate (``id`` required); their order is the table's first order.
        key_columns: the compact table's columns (those present in some row), then each ``pred_<p>``
            with its std in the same cell; every column of a row is in its details.
        structures: id -> CIF text, shown in a 3D view in the row's details (3Dmol.js is embedded).
        alignment: sequences against their reference, shown in the row's details.
        plots: caption -> PNG bytes.
    """
    preds = [k for k in (rows[0] if rows else {}) if k.startswith("pred_") and not k.endswith("_std")]
    cols = [c for c in key_columns if any(c in r for r in rows) and not c.startswith("pred_")]
    if "objective" in cols:  # predictions right after the objective
        at = cols.index("objective") + 1
        cols = cols[:at] + preds + cols[at:]
    else:
        cols += preds
    head = "".join(f"<th title='{html.escape(c)}'>{html.escape(label(c))}</th>" for c in cols)
    body = []
    for r in rows:
        rid = str(r["id"])
        cls = ["cand"]
        if "synthesis_score" in r and fmt(r.get("synthesis_score")) == "":
            cls.append("failed")
        if fmt(r.get("selected")) == "yes":
            cls.append("selected")
        cells = "".join(_pred_td(r, c) if c in preds else _td(r.get(c), c) for c in cols)
        body.append(f"<tr class='{' '.join(cls)}' id='row-{html.escape(rid)}' data-id='{html.escape(rid)}'>{cells}</tr>")
        detail = "".join(f"<dt>{html.escape(label(k))}</dt><dd>{html.escape(fmt(v, k))}</dd>"
                         for k, v in r.items() if not k.startswith("_") and fmt(v, k) != "")
        view = ""
        if structures and rid in structures:
            view = f"<div class=view><div class=viewer aria-label='3D view of {html.escape(rid)}'></div></div>"
        elif alignment is not None and rid in alignment.sequences:
            view = alignment_html(alignment.reference, alignment.sequences[rid], alignment.marks.get(rid))
        body.append(f"<tr hidden data-details='{html.escape(rid)}'><td colspan={len(cols)}><div class=details>"
                    f"{view}<dl>{detail}</dl></div></td></tr>")
    best = "".join(f"<li><a href='#row-{html.escape(i)}'><b>{html.escape(i)}</b></a>: {html.escape(line)}</li>"
                   for i, line in card.best)
    caveats = "".join(f"<li>{_long(c)}</li>" for c in card.caveats)
    figs = "".join(f"<figure><img alt='{html.escape(k)}' src='{png_data_uri(v)}'><figcaption>{html.escape(k)}"
                   "</figcaption></figure>" for k, v in (plots or {}).items())
    note_html = "".join(f"<p class=note>{html.escape(n)}</p>" for n in (notes or []))
    data = json.dumps(structures or {}).replace("</", "<\\/")
    lib = f"<script>{_vendored_3dmol()}</script>" if structures else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class=sub>{html.escape(subtitle)}</p>
<section class=card id=summary><dl>
<dt>Designed</dt><dd>{html.escape(card.what)}</dd>
<dt>Objective</dt><dd>{html.escape(card.objective)}</dd>
<dt>Make first</dt><dd>{f"<ol>{best}</ol>" if best else "no candidate passed the gates"}</dd>
<dt>Caveats</dt><dd><ul>{caveats}</ul></dd>
</dl></section>
<h2>Candidates</h2>
<div class=toolbar><input id=filter type=search placeholder="filter rows (formula, id, mutation ...)" aria-label="filter rows">
<span id=count class=note></span><span class=note>click a header to sort, a row for its details</span></div>
<table class="sortable" id="candidates"><thead><tr>{head}</tr></thead><tbody>
{''.join(body)}
</tbody></table>
{note_html}
<h2>Plots</h2>
<div class=plots>{figs}</div>
<script type="application/json" id="structures">{data}</script>
{lib}
<script>{SCRIPT}</script>
</body></html>
"""
    atomic_write_text(path, page)
    return path
