"""The output grammar: a regular expression for CSV rows that match a spec exactly.

Exact column count and order, categorical alternatives, numbers with the spec's decimals and an
integer part inside the plausible range, ``NA`` only where a column is nullable, and exactly the
requested number of rows. xgrammar (or vLLM's structured outputs) enforces it token by token.
"""

from __future__ import annotations

import math
import re

from synllm_mlops.spec import NA_TOKEN, ColumnSpec, DatasetSpec


def _same_length(a: str, b: str) -> list[str]:
    """Regex alternatives matching every integer string between ``a`` and ``b`` (same length)."""
    if a == b:
        return [a]
    n = len(a) - 1
    if n == 0:
        return [f"[{a}-{b}]"]
    if a[0] == b[0]:
        return [a[0] + p for p in _same_length(a[1:], b[1:])]
    if a[1:] == "0" * n and b[1:] == "9" * n:
        return [f"[{a[0]}-{b[0]}][0-9]{{{n}}}"]
    out = [a[0] + p for p in _same_length(a[1:], "9" * n)]
    if int(b[0]) - int(a[0]) > 1:
        out.append(f"[{int(a[0]) + 1}-{int(b[0]) - 1}][0-9]{{{n}}}")
    out += [b[0] + p for p in _same_length("0" * n, b[1:])]
    return out


def int_range_regex(lo: int, hi: int) -> str:
    """Regex for the decimal integers in ``[lo, hi]`` (non-negative), without leading zeros."""
    if lo < 0 or hi < lo:
        raise ValueError(f"need 0 <= lo <= hi, got lo={lo}, hi={hi}")
    parts: list[str] = []
    for length in range(len(str(lo)), len(str(hi)) + 1):
        a = max(lo, 10 ** (length - 1) if length > 1 else 0)
        b = min(hi, 10**length - 1)
        if a <= b:
            parts += _same_length(str(a), str(b))
    return "(" + "|".join(parts) + ")"


def column_regex(col: ColumnSpec) -> str:
    """Regex for one field of ``col``."""
    if col.is_numeric:
        lo, hi = math.floor(col.min), math.floor(col.max)
        if lo >= 0:
            body = int_range_regex(lo, hi)
        else:  # rare for clinical data: allow a sign and as many digits as the wider bound has
            body = f"-?[0-9]{{1,{len(str(max(abs(lo), abs(hi))))}}}"
        if col.decimals:
            body += rf"\.[0-9]{{{col.decimals}}}"
    else:
        body = "(" + "|".join(re.escape(c) for c in sorted(col.categories, key=len, reverse=True)) + ")"
    return f"({NA_TOKEN}|{body})" if col.nullable else body


def row_regex(spec: DatasetSpec) -> str:
    """Regex for one CSV row of ``spec`` (no newline)."""
    return ",".join(column_regex(c) for c in spec.columns)


def completion_regex(spec: DatasetSpec, n_rows: int) -> str:
    """Regex for a whole completion: exactly ``n_rows`` rows, each ending in a newline."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    return f"({row_regex(spec)}\\n){{{n_rows}}}"
