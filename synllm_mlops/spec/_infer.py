"""Draft a spec from any CSV: types, ranges and categories read off the data, for a person to edit.

The spec is written into prompts, grammars and run artifacts, so it copies no value that belongs to one
patient: no observed extreme, no category held by fewer than :data:`MIN_CATEGORY_ROWS` rows, no free
text, date or identifier, and no row count.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from pydantic import ValidationError

from synllm_mlops.errors import DataError, show
from synllm_mlops.spec._data import _MISSING, _examples, read_csv
from synllm_mlops.spec._checks import range_problem, text_problem
from synllm_mlops.spec._schema import ColumnSpec, DatasetSpec, RangeRule, normalise_category

MAX_CATEGORIES = 20  # an integer column with more distinct values is numeric
MAX_TEXT_CATEGORIES = 50  # a text column with more distinct values is an identifier or free text, not categories
MIN_CATEGORY_ROWS = 5  # a category held by fewer rows would single its patients out
UNIQUE_SHARE = 0.5
NEAR_UNIQUE_SHARE = 0.9  # a column named like an id with this share of distinct values identifies patients
FREE_TEXT_WORDS = 4  # a value of this many words is a sentence, not a category
_ID_NAME = re.compile(r"(?i)((patient|subject|record|row)[_ ]?)?(id|no|number)|index|rownames|mrn|ssn|uuid|.*[_ ]id")
_ID_LIKE = re.compile(r"(?i).*([_ ](id|no|nr|num|number|code)|number|mrn|ssn|uuid)")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T].*)?|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}([ T].*)?|\d{8}T.*")
log = logging.getLogger(__name__)


def _decimals(x: pd.Series) -> int:
    """Decimals needed to write the column's values as they appear (capped at 4)."""
    for d in range(5):
        if np.allclose(x, np.round(x, d), rtol=0, atol=1e-9):
            return d
    return 4


def _outward(v: float, up: bool) -> float:
    """``v`` rounded away from the data to one significant figure, strictly past it (0 stays 0)."""
    if v == 0:
        return 0.0
    unit = 10.0 ** math.floor(math.log10(abs(v)))
    r = (math.ceil if up else math.floor)(v / unit) * unit
    if r == v:
        r += unit if up else -unit
    return float(f"{r:.1g}") if r else 0.0


def _coarse_range(x: pd.Series) -> tuple[float, float]:
    """A coarse public range strictly around the data: each bound rounded outward to one significant figure.

    A bound then says only which power-of-ten step an extreme falls in (an age of 103 gives 200, a count of
    57 gives 60, a zip code 99950 gives 100000), never the value; a bound that lands on an observed value
    moves one step further. Non-negative data starts at 0 when its minimum is below a tenth of its maximum
    (0 is every such column's natural floor).
    """
    lo, hi = float(x.min()), float(x.max())
    new_lo, new_hi = _outward(lo, up=False), _outward(hi, up=True)
    if hi == 0:
        new_hi = _outward(abs(lo), up=True) if lo < 0 else 1.0
    if lo >= 0 and (new_lo < 0 or lo < hi / 10):
        new_lo = 0.0
    if not (math.isfinite(new_lo) and math.isfinite(new_hi)):
        raise DataError(f"numeric values of magnitude about {max(abs(lo), abs(hi)):.0e} cannot be bounded as floats; "
                        "rescale the column (e.g. change its unit) or drop it")
    return new_lo, new_hi


@dataclass(frozen=True)
class SpecDraft:
    """A drafted spec and the messages a person should read (dropped columns, and why)."""

    spec: DatasetSpec
    messages: list[str] = field(default_factory=list)


def _identifier_reason(present: pd.Series) -> str | None:
    """Why a text column looks like an identifier, a date or free text (none of which a spec may copy), or None."""
    n, k = len(present), present.nunique()
    if present.map(lambda v: bool(_DATE.fullmatch(v))).mean() >= 0.5:
        return "it holds dates (exact dates identify patients)"
    if present.map(lambda v: len(v.split()) >= FREE_TEXT_WORDS or len(v) > 40).any():
        return f"it holds free text (values of {FREE_TEXT_WORDS} or more words)"
    if k > MAX_TEXT_CATEGORIES:
        return f"more than {MAX_TEXT_CATEGORIES} distinct values"
    if k > 5 and k > UNIQUE_SHARE * n:
        return f"more than {UNIQUE_SHARE:.0%} of its values distinct"
    return None


def _rare(present: pd.Series) -> int:
    """How many distinct values are held by fewer than :data:`MIN_CATEGORY_ROWS` rows."""
    return int((present.map(normalise_category).value_counts() < MIN_CATEGORY_ROWS).sum())


def infer_spec(path: str | Path, *, name: str | None = None, target: str | None = None,
               keep: Sequence[str] = ()) -> DatasetSpec:
    """Draft a :class:`DatasetSpec` for the CSV at ``path`` (messages are logged; see :func:`draft_spec`).

    Example:
        >>> spec = infer_spec("my_table.csv", target="outcome")  # doctest: +SKIP
        >>> print(spec.to_yaml())  # doctest: +SKIP
    """
    draft = draft_spec(path, name=name, target=target, keep=keep)
    for m in draft.messages:
        log.warning("%s", m)
    return draft.spec


def draft_spec(path: str | Path, *, name: str | None = None, target: str | None = None,
               keep: Sequence[str] = ()) -> SpecDraft:
    """Draft a spec for the CSV at ``path``, with the messages about what was left out (see :func:`_draft`).

    Raises:
        DataError: the file is not a clean CSV, or its values cannot be described by a spec (each named).
    """
    try:
        return _draft(path, name=name, target=target, keep=keep)
    except ValidationError as e:  # a value the spec cannot hold, e.g. a category with a comma in it
        why = "; ".join(str(err.get("ctx", {}).get("error", err["msg"])) for err in e.errors())
        raise DataError(f"data file {show(str(path))}: cannot draft a spec: {why} (fix it in the data)") from None


def _draft(path: str | Path, *, name: str | None = None, target: str | None = None,
               keep: Sequence[str] = ()) -> SpecDraft:
    """Draft a spec for the CSV at ``path``, with the messages about what was left out.

    Columns whose values all parse as numbers and that have more than ``MAX_CATEGORIES`` distinct values
    (or any non-integer value), or whose values include one held by fewer than ``MIN_CATEGORY_ROWS`` rows
    (an age of 103, 57 admissions), are numeric, with a coarse range (see :func:`_coarse_range`) and a soft
    range rule at it; the rest are categorical. Nothing observed row by row is written out: no extreme
    value, no row count, no category held by fewer than ``MIN_CATEGORY_ROWS`` rows, and no text column
    that holds dates or free text or looks like an identifier (more than ``MAX_TEXT_CATEGORIES`` distinct
    values, or more than half distinct) — such a column, a text column with a rare category (a singleton
    diagnosis), an all-empty one, and one named like an id that is unique or nearly so (``hospital_number``)
    go to ``id_columns`` (dropped when the data loads), each with a message naming the column and why.
    ``keep`` (and the target) are never dropped; a kept column that copies rare values says so. The target
    defaults to the last column kept.

    Raises:
        DataError: a numeric column holds infinite values or values too large to bound.
    """
    raw = read_csv(path, min_rows=1)
    for c in raw.columns:
        if why := text_problem("column name", c):
            raise DataError(f"data file {show(str(path))}: {why} (in the CSV header)")
    if target is not None and target not in raw.columns:
        raise DataError(f"target {show(target)} is not a column of data file {show(str(path))}; "
                        f"choose one of: {', '.join(raw.columns)}")
    kept = set(keep) | ({target} if target else set())
    ids = [c for c in raw.columns if _ID_NAME.fullmatch(c) and raw[c].is_unique and c not in kept]
    messages = [f"column {c!r}: named like an id and unique per row: listed in id_columns (dropped)" for c in ids]
    for c in raw.columns:
        filled = raw[c][~raw[c].str.strip().isin(_MISSING)]
        if (c not in ids and c not in kept and _ID_LIKE.fullmatch(c) and len(filled) >= 10
                and filled.nunique() >= NEAR_UNIQUE_SHARE * len(filled)):
            ids.append(c)
            messages.append(f"column {c!r}: named like an identifier and nearly unique per row (at least "
                            f"{NEAR_UNIQUE_SHARE:.0%} distinct): listed in id_columns (dropped)")
    how_to_keep = "to keep it, pass keep=[{c!r}] (or move it from id_columns to columns in the YAML)"
    cols: list[ColumnSpec] = []
    rules: list[RangeRule] = []
    for c in raw.columns:
        if c in ids:
            continue
        s = raw[c].map(lambda v: np.nan if v.strip() in _MISSING else v.strip())
        present = s.dropna()
        if present.empty:
            if c == target:
                raise DataError(f"target column {show(c)} has no values (all empty or missing); "
                                "pass --target <a column with values>")
            ids.append(c)
            messages.append(f"column {c!r}: no values (all empty or missing): listed in id_columns (dropped)")
            continue
        x = pd.to_numeric(present, errors="coerce")
        nullable = bool(s.isna().any())
        numeric = bool(x.notna().all())
        if numeric and not np.isfinite(x).all():
            raise DataError(f"column {c!r} holds infinite values ({_examples(present[~np.isfinite(x)])}); "
                            "replace them with NA or a number")
        rare = _rare(present)
        if numeric and (x.nunique() > MAX_CATEGORIES or not np.allclose(x, np.round(x)) or (rare and c not in kept)):
            if x.nunique() <= MAX_CATEGORIES and np.allclose(x, np.round(x)):
                messages.append(f"column {c!r}: {rare} of its integer values are held by fewer than "
                                f"{MIN_CATEGORY_ROWS} rows each: kept numeric with a coarse range, not as categories "
                                "(which would copy them)")
            d = _decimals(x)
            while True:  # fewer decimals for huge values: the grammar counts in units of the last decimal
                try:
                    lo, hi = _coarse_range(x)
                except DataError:
                    lo, hi = -math.inf, math.inf
                if d == 0 or not range_problem(c, lo, hi, d):
                    break
                d -= 1
            if range_problem(c, lo, hi, d):
                raise DataError(f"column {show(c)} holds values as large as {_examples(present[x.abs() == x.abs().max()], 1)}"
                                f", beyond what a float writes exactly at {d} decimal(s) (|value| x 10^decimals must "
                                "stay below 2^53); rescale the column (change its unit) or drop it")
            cols.append(ColumnSpec(name=c, type="numeric", min=lo, max=hi, decimals=d, nullable=nullable,
                                   description=c))
            slug = re.sub(r"\W+", "_", c).lower()
            rules.append(RangeRule(id=f"{slug}_range", column=c, min=lo, max=hi,
                                   note="inferred from the data: a coarse range around it; replace with a clinical source"))
            continue
        if not numeric and c not in kept and (why := _identifier_reason(present)):
            ids.append(c)
            messages.append(f"column {c!r} looks like an identifier, a date or free text ({why}): listed in id_columns "
                            f"(dropped) so its values never reach a prompt; " + how_to_keep.format(c=c))
            continue
        if rare and c not in kept:
            ids.append(c)
            messages.append(f"column {c!r}: {rare} of its values are held by fewer than {MIN_CATEGORY_ROWS} rows each "
                            "(a singleton names its patient): listed in id_columns (dropped); merge rare values in the "
                            "CSV (e.g. into 'other') and infer again, or " + how_to_keep.format(c=c))
            continue
        if rare:
            messages.append(f"column {c!r} kept as asked: {rare} of its categories are held by fewer than "
                            f"{MIN_CATEGORY_ROWS} rows each, and the spec copies them; merge them in the CSV")
        cats = sorted(present.map(normalise_category).unique(), key=lambda v: (len(v), v))
        if numeric:
            cats = sorted(cats, key=float)
        cols.append(ColumnSpec(name=c, type="categorical", categories=list(cats), nullable=nullable,
                               description=f"{c} ({len(cats)} categories)"))
    if not cols:
        raise DataError(f"data file {str(path)!r}: no column is left to describe ({'; '.join(messages)})")
    target = target or cols[-1].name
    spec = DatasetSpec(
        name=name or Path(path).stem,
        description=f"Draft spec inferred from {Path(path).name}; review every range and description.",
        source=f"inferred by `synllm spec infer {Path(path).name}`",
        target=target, id_columns=ids, columns=cols, rules=rules,
    )
    return SpecDraft(spec, messages)
