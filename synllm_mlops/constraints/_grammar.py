"""The output grammar: a regular expression for CSV rows that match a spec exactly.

Exact column count and order, categorical alternatives, numbers with the spec's decimals and an
integer part inside the plausible range, ``NA`` only where a column is nullable, and exactly the
requested number of rows. xgrammar (or vLLM's structured outputs) enforces it token by token.
"""

from __future__ import annotations

import math
import re

from synllm_mlops.errors import ConfigError
from synllm_mlops.spec import NA_TOKEN, AllowedRule, ColumnSpec, DatasetSpec, RangeRule


def _classes(a: str, b: str) -> list[list[str]]:
    """Digit strings of equal length between ``a`` and ``b``: alternatives of per-position classes."""
    if a == b:
        return [list(a)]
    n = len(a) - 1
    if n == 0:
        return [[f"[{a}-{b}]"]]
    if a[0] == b[0]:
        return [[a[0]] + p for p in _classes(a[1:], b[1:])]
    if a[1:] == "0" * n and b[1:] == "9" * n:
        return [[f"[{a[0]}-{b[0]}]"] + ["[0-9]"] * n]
    out = [[a[0]] + p for p in _classes(a[1:], "9" * n)]
    if int(b[0]) - int(a[0]) > 1:
        out.append([f"[{int(a[0]) + 1}-{int(b[0]) - 1}]"] + ["[0-9]"] * n)
    out += [[b[0]] + p for p in _classes("0" * n, b[1:])]
    return out


def _render(positions: list[str], decimals: int) -> str:
    """Join per-position classes, putting the decimal point before the last ``decimals`` digits."""
    if decimals:
        positions = positions[:-decimals] + ["\\."] + positions[-decimals:]
    out, run = [], 0
    for p in positions + [None]:
        if p == "[0-9]":
            run += 1
            continue
        if run:
            out.append("[0-9]" if run == 1 else f"[0-9]{{{run}}}")
            run = 0
        if p is not None:
            out.append(p)
    return "".join(out)


def number_regex(lo: float, hi: float, decimals: int = 0) -> str:
    """Regex for the non-negative numbers in ``[lo, hi]`` written with exactly ``decimals`` decimals.

    Exact at that precision: e.g. ``number_regex(1.5, 5.0, 2)`` accepts ``1.50`` and ``5.00`` but not
    ``1.49`` or ``5.01``. No leading zeros (``0.05`` keeps its single zero).
    """
    scale = 10**decimals
    low, high = math.ceil(round(lo * scale, 6)), math.floor(round(hi * scale, 6))
    if low < 0 or high < low:
        raise ValueError(f"need 0 <= lo <= hi, got lo={lo}, hi={hi}")
    alts: list[str] = []
    for length in range(max(len(str(low)), decimals + 1), max(len(str(high)), decimals + 1) + 1):
        a = low if length == decimals + 1 else max(low, 10 ** (length - 1))
        b = min(high, 10**length - 1)
        if a <= b:
            alts += [_render(p, decimals) for p in _classes(str(a).zfill(length), str(b).zfill(length))]
    return "(" + "|".join(alts) + ")"


def int_range_regex(lo: int, hi: int) -> str:
    """Regex for the decimal integers in ``[lo, hi]`` (non-negative), without leading zeros."""
    return number_regex(lo, hi, 0)


def column_regex(col: ColumnSpec) -> str:
    """Regex for one field of ``col``."""
    if col.is_numeric:
        if col.min >= 0:
            body = number_regex(col.min, col.max, col.decimals)
        else:  # rare for clinical data: a sign and as many digits as the wider bound has; the parser checks the range
            body = f"-?[0-9]{{1,{len(str(int(max(abs(col.min), abs(col.max)))))}}}"
            if col.decimals:
                body += rf"\.[0-9]{{{col.decimals}}}"
    else:
        body = "(" + "|".join(re.escape(c) for c in sorted(col.categories, key=len, reverse=True)) + ")"
    return f"({NA_TOKEN}|{body})" if col.nullable else body


def _tightened(col: ColumnSpec, spec: DatasetSpec) -> ColumnSpec:
    """``col`` narrowed by the spec's hard single-column rules (a range on a numeric column, an allowed set on a
    categorical one), as the rules themselves define it (:meth:`RangeRule.narrow`, :meth:`AllowedRule.narrow`)."""
    for rule in spec.rules:
        if (rule.hard and isinstance(rule, (RangeRule, AllowedRule)) and rule.column == col.name
                and isinstance(rule, RangeRule) == col.is_numeric):
            col = rule.narrow(col)
    if (col.is_numeric and col.min > col.max) or (not col.is_numeric and not col.categories):
        raise ConfigError(f"column {col.name!r}: its hard rules leave no value inside its spec range/categories; "
                          "fix the rule or the column in the spec")
    return col


def row_regex(spec: DatasetSpec) -> str:
    """Regex for one CSV row of ``spec`` (no newline); hard range and allowed-set rules narrow their column."""
    return ",".join(column_regex(_tightened(c, spec)) for c in spec.columns)


def completion_regex(spec: DatasetSpec, n_rows: int) -> str:
    """Regex for a whole completion: exactly ``n_rows`` rows, each ending in a newline."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    return f"({row_regex(spec)}\\n){{{n_rows}}}"
