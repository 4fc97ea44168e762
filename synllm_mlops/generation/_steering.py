"""Steering in the decoder: a drawn bin becomes a :class:`FieldConstraint` the rule processor enforces.

:class:`~synllm_mlops.calibration.Steering` decides *which* bin a field should fall in; this module
turns that bin into the same kind of per-field constraint the hard-rule guide uses (a numeric
interval, an allowed category, ``NA`` or not), intersected with the rule's own constraint, so one
token mask enforces both. Bins that the rule constraint excludes are never drawn.
"""

from __future__ import annotations

import math

import numpy as np

from synllm_mlops.calibration import Steering
from synllm_mlops.release import Bins
from synllm_mlops.generation._rules import FieldConstraint
from synllm_mlops.spec import NA_TOKEN, ColumnSpec


def admissible(bins: Bins, col: ColumnSpec, rule: FieldConstraint | None) -> np.ndarray:
    """Which bins still hold a value that ``rule`` (the hard-rule constraint of this field) allows."""
    ok = np.ones(bins.n_bins, dtype=bool)
    if rule is None:
        return ok
    for k in range(bins.n_values):
        if not bins.numeric:
            label = bins.labels[k]
            ok[k] = (rule.allowed is None or label in rule.allowed) and label not in rule.forbidden
            continue
        if rule.allowed is not None:  # a numeric field restricted to listed values
            ok[k] = any(bins.code_text(v) == k for v in rule.allowed if v != NA_TOKEN)
            continue
        # in units of the column's precision, as the rule guide counts (FieldConstraint._units)
        scale = 10**col.decimals
        lo, hi = bins.bounds(k)
        a = max(rule._units(lo, False, low=True), rule._units(rule.lo, rule.lo_strict, low=True),
                math.ceil(round(col.min * scale, 6)))
        b = min(rule._units(hi, True, low=False), rule._units(rule.hi, rule.hi_strict, low=False),
                math.floor(round(col.max * scale, 6)))
        ok[k] = a <= b
    return ok


def bin_constraint(bins: Bins, col: ColumnSpec, k: int, rule: FieldConstraint | None) -> FieldConstraint:
    """The constraint "field falls in bin ``k``", intersected with ``rule``."""
    c = FieldConstraint(col)
    if rule is not None:
        c.lo, c.lo_strict, c.hi, c.hi_strict = rule.lo, rule.lo_strict, rule.hi, rule.hi_strict
        c.allowed = None if rule.allowed is None else set(rule.allowed)
        c.forbidden = set(rule.forbidden)
    if k == bins.missing_bin:
        c.allowed = {NA_TOKEN}
        return c
    c.forbid_na = True
    if bins.numeric:
        lo, hi = bins.bounds(k)
        if k > 0:
            c.add(">=", lo)
        if math.isfinite(hi):
            c.add("<", hi)
    else:
        c.add("in", [bins.labels[k]])
    return c


class FieldSteer:
    """Per-batch steering hook of the decoder: draws a bin when a field starts, counts it when it ends."""

    def __init__(self, steering: Steering, columns: list[ColumnSpec], rng: np.random.Generator):
        self.steering, self.columns, self.rng = steering, columns, rng
        self.bins = steering.targets.bins
        self.forced = 0

    def written(self, fields: list[str]) -> list[int]:
        return [self.bins[i].code_text(f) for i, f in enumerate(fields)]

    def constraint(self, fields: list[str], rule: FieldConstraint | None) -> FieldConstraint | None:
        j = len(fields)
        if j >= len(self.bins):
            return rule
        ok = admissible(self.bins[j], self.columns[j], rule)
        k = self.steering.draw(j, self.written(fields), self.rng, ok)
        if k is None:
            return rule
        self.forced += 1
        return bin_constraint(self.bins[j], self.columns[j], k, rule)

    def finished(self, j: int, text: str) -> None:
        if j < len(self.bins):
            self.steering.observe(j, self.bins[j].code_text(text))
