"""The one semantics of the spec's rules: operators, membership, bounds.

Every reader of a rule calls these: the rule types' own ``violations``/``holds`` (evaluation, the
parser), the spec checks (a hard rule that leaves a column no value), the output grammar (a hard range
or allowed set narrows its column) and the decoding guide (a field's constraint given the earlier
fields). So ``4.0`` is a member of ``[4]`` in all of them, and a strict bound excludes the same values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

COMPARE = {"==": lambda x, v: x == v, "!=": lambda x, v: x != v, "<": lambda x, v: x < v,
           "<=": lambda x, v: x <= v, ">": lambda x, v: x > v, ">=": lambda x, v: x >= v}
"""Operator -> comparison, for scalars and pandas Series alike."""

NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "not_in", "not_in": "in"}
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
"""``a op b`` == ``b FLIPPED[op] a``."""


def number(value: Any) -> float | None:
    """``value`` as a float, or None (not a number, or NaN)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def normalise_category(value: Any) -> Any:
    """Write a categorical value as the spec writes it: ``4.0`` -> ``"4"``, NaN stays NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return np.nan
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    return str(value).strip()


def member(value: Any, numeric: bool) -> Any:
    """The one normalisation of membership: a number on a numeric column, the category text otherwise."""
    return number(value) if numeric else normalise_category(value)


def is_membership(op: str, value: Any) -> bool:
    """Whether ``op value`` tests membership (``in``/``not_in``, or ``==``/``!=`` with a text) rather than numbers."""
    return op in ("in", "not_in") or (op in ("==", "!=") and not isinstance(value, (int, float)))


def members(value: Any, numeric: bool) -> set:
    """The normalised members of a rule's ``value`` (one value or a list) for a column of that type."""
    values = value if isinstance(value, list) else [value]
    return {m for m in (member(v, numeric) for v in values) if m is not None}


def _unit(bound: float, strict: bool, decimals: int, *, low: bool) -> float:
    """``bound`` in units of the last decimal, as the first (``low``) or last allowed unit; infinities stay."""
    if math.isinf(bound):
        return bound
    x = round(bound * 10**decimals, 6)
    if low:
        return math.floor(x) + 1 if strict else math.ceil(x)
    return math.ceil(x) - 1 if strict else math.floor(x)


@dataclass(kw_only=True)
class Interval:
    """The numbers a bound (or several, intersected) allows: ``lo <(=) x <(=) hi``."""

    lo: float = -math.inf
    lo_strict: bool = False
    hi: float = math.inf
    hi_strict: bool = False

    def add(self, op: str, v: float) -> None:
        """Intersect with ``x op v`` for an order operator (``<``, ``<=``, ``>``, ``>=``)."""
        if op in (">", ">="):
            if v > self.lo or (v == self.lo and op == ">"):
                self.lo, self.lo_strict = v, op == ">"
        elif v < self.hi or (v == self.hi and op == "<"):
            self.hi, self.hi_strict = v, op == "<"

    @property
    def bounded(self) -> bool:
        return self.lo != -math.inf or self.hi != math.inf

    def holds(self, x):
        """Whether ``x`` (a number or a numeric Series; NaN never) lies inside."""
        # written out rather than through COMPARE: the rule guide asks this for every token it judges
        return (x > self.lo if self.lo_strict else x >= self.lo) & (x < self.hi if self.hi_strict else x <= self.hi)

    def unit_range(self, decimals: int) -> tuple[float, float]:
        """The first and last value inside, written with ``decimals`` decimals, in units of the last one."""
        return (_unit(self.lo, self.lo_strict, decimals, low=True), _unit(self.hi, self.hi_strict, decimals, low=False))


def units(lo: float, hi: float, decimals: int) -> tuple[int, int]:
    """The first and last value in ``[lo, hi]`` written with ``decimals`` decimals, in units of the last one."""
    return Interval(lo=lo, hi=hi).unit_range(decimals)
