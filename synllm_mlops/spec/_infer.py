"""Draft a spec from any CSV: types, ranges and categories read off the data, for a person to edit."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from synllm_mlops.spec._data import _MISSING, read_csv
from synllm_mlops.spec._schema import ColumnSpec, DatasetSpec, RangeRule, normalise_category

MAX_CATEGORIES = 20


def _decimals(x: pd.Series) -> int:
    """Decimals needed to write the column's values as they appear (capped at 4)."""
    for d in range(5):
        if np.allclose(x, np.round(x, d), rtol=0, atol=1e-9):
            return d
    return 4


def _padded_range(x: pd.Series, decimals: int) -> tuple[float, float]:
    """Observed range widened by 10 % of the span, never crossing zero, rounded outward."""
    lo, hi = float(x.min()), float(x.max())
    pad = 0.1 * (hi - lo)
    new_lo = lo - pad if lo - pad >= 0 or lo < 0 else 0.0
    q = 10.0**decimals
    return math.floor(new_lo * q) / q, math.ceil((hi + pad) * q) / q


def infer_spec(path: str | Path, *, name: str | None = None, target: str | None = None) -> DatasetSpec:
    """Draft a :class:`DatasetSpec` for the CSV at ``path``.

    Columns whose values all parse as numbers and that have more than ``MAX_CATEGORIES``
    distinct values (or any non-integer value) are numeric; the rest are categorical. Columns
    named like ``id`` with one distinct value per row become id columns. The target defaults
    to the last column. Each numeric column gets a soft range rule at its padded range.

    Example:
        >>> spec = infer_spec("my_table.csv", target="outcome")  # doctest: +SKIP
        >>> print(spec.to_yaml())  # doctest: +SKIP
    """
    raw = read_csv(path)
    raw.columns = [str(c).strip() for c in raw.columns]
    ids = [c for c in raw.columns if re.fullmatch(r"(?i)(patient_?)?id|index|rownames", c) and raw[c].is_unique]
    cols: list[ColumnSpec] = []
    rules: list[RangeRule] = []
    for c in raw.columns:
        if c in ids:
            continue
        s = raw[c].map(lambda v: np.nan if v.strip() in _MISSING else v.strip())
        present = s.dropna()
        x = pd.to_numeric(present, errors="coerce")
        nullable = bool(s.isna().any())
        numeric = len(present) > 0 and x.notna().all()
        if numeric and (x.nunique() > MAX_CATEGORIES or not np.allclose(x, np.round(x))):
            d = _decimals(x)
            lo, hi = _padded_range(x, d)
            cols.append(ColumnSpec(name=c, type="numeric", min=lo, max=hi, decimals=d, nullable=nullable,
                                   description=f"{c} (observed {x.min():g} to {x.max():g})"))
            slug = re.sub(r"\W+", "_", c).lower()
            rules.append(RangeRule(id=f"{slug}_range", column=c, min=lo, max=hi,
                                   note="inferred from the data: observed range padded by 10 %; replace with a clinical source"))
        else:
            cats = sorted(present.map(normalise_category).unique(), key=lambda v: (len(v), v))
            if numeric:
                cats = sorted(cats, key=float)
            cols.append(ColumnSpec(name=c, type="categorical", categories=list(cats), nullable=nullable,
                                   description=f"{c} ({len(cats)} categories)"))
    target = target or cols[-1].name
    return DatasetSpec(
        name=name or Path(path).stem,
        description=f"Draft spec inferred from {Path(path).name} ({len(raw)} rows); review every range and description.",
        source=f"inferred by `synllm spec infer {Path(path).name}`",
        target=target, id_columns=ids, columns=cols, rules=rules,
    )
