"""The words of a design report: the objective in plain language, values rounded to the digits that
mean something, and one line per top candidate saying why it is there. Pure functions of the
summary and the candidate rows (no domain, no HTML)."""

from __future__ import annotations

import math
from typing import Any

# how many significant digits a reader needs, by column name (default 3)
DIGITS = {"plausibility_percentile": 2, "elbo_percentile": 2, "synthesis_score": 3, "e_above_hull": 3,
          "e_above_hull_relaxed": 3, "volume": 4, "density": 3}
LABELS = {"synthesis_rank": "#", "e_above_hull": "E above hull", "e_above_hull_relaxed": "E above hull (relaxed)",
          "plausibility_percentile": "plausibility percentile", "synthesis_score": "synthesis score",
"num_mutations": "# mutations", "num_liabilities": "# liabilities",
          "edit_distance_wild_type": "edits from wild type", "distance_nearest_training": "edits from training",
          "elbo_percentile": "likelihood percentile", "num_atoms": "atoms", "spacegroup": "space group",
          "geometry_ok": "geometry ok", "charge_neutral": "charge neutral", "hull_coverage": "hull coverage"}


def label(column: str) -> str:
    """A column's name as a reader says it."""
    if column in LABELS:
        return LABELS[column]
    if column.startswith("pred_") and column.endswith("_std"):
        return f"± {column[5:-4]}"
    if column.startswith("pred_"):
        return f"predicted {column[5:]}"
    if column.startswith("objective_"):
        return f"objective ({column[10:]})"
    return column.replace("_", " ")


def fmt(value: Any, column: str = "") -> str:
    """A value as shown: floats to ``DIGITS`` significant digits (3 by default), booleans as yes / no,
    missing as an empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        low = value.strip().lower()
        return {"true": "yes", "false": "no", "nan": ""}.get(low, value)
    if isinstance(value, int):
        return str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return ""
    if v == int(v) and abs(v) < 1e6 and column in ("rank", "synthesis_rank", "round", "num_atoms", "num_mutations",
                                                 "num_liabilities", "spacegroup_number", "edit_distance_wild_type",
                                                 "distance_nearest_training"):
        return str(int(v))
    digits = DIGITS.get(column, 3)
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:  # no exponent for large plain numbers
        return f"{v:.0f}"
    return f"{v:.{digits}g}" if abs(v) >= 1e-3 else f"{v:.{digits - 1}e}"


def describe_objective(objective: dict) -> str:
    """``{"property": "heat_ref", "direction": "minimize", ...}`` -> ``"minimise heat_ref"``; several
    objectives (``extra``) are joined with "and"."""
    parts = [objective] + [o if isinstance(o, dict) else getattr(o, "__dict__", {}) for o in objective.get("extra") or []]
    words = []
    for o in parts:
        prop, direction = o.get("property", "?"), o.get("direction", "maximize")
        if direction == "target" and o.get("target"):
            lo, hi = o["target"]
            words.append(f"bring {prop} into [{fmt(lo)}, {fmt(hi)}]")
        else:
            words.append(f"{'minimise' if direction == 'minimize' else 'maximise'} {prop}")
    return " and ".join(words)


def candidate_reasons(row: dict, objective: dict, domain_phrases: list[str]) -> str:
    """Why a top candidate is worth making: its predicted property, plausibility and the domain's own
    phrases (stability, novelty, mutations, liabilities), as one line."""
    bits = []
    prop = objective.get("property")
    pred, std = row.get(f"pred_{prop}"), row.get(f"pred_{prop}_std")
    if _finite(pred):
        bits.append(f"predicted {prop} {fmt(pred)}" + (f" ± {fmt(std)}" if _finite(std) else ""))
    bits += domain_phrases
    pp = row.get("plausibility_percentile")
    if _finite(pp):
        where = "well inside" if float(pp) >= 25 else "at the edge of" if float(pp) >= 5 else "outside"
        bits.append(f"{where} the training data (plausibility percentile {fmt(pp, 'plausibility_percentile')})")
    return "; ".join(bits)


def _finite(v) -> bool:
    try:
        return v is not None and not isinstance(v, bool) and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
