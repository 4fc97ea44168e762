"""Steered decoding, in one place: which bin the next field should fall in, and the token constraint that keeps it there.

A small model ignores the statistics written in its prompt, so the sampler carries them instead.
When a row's field ``j`` starts, :meth:`Steering.draw` picks a bin for it from

* the target marginal of ``j`` times, for each of ``j``'s *parents* (the earlier columns it depends on
  most, by mutual information in the pairwise tables the release level released; an unreleased pair is
  never a parent), the dependence ratio
  ``P(g_i, g_j) / (P(g_i) P(g_j))`` of the parent's written group (forced or written freely by the model) —
  the joint structure comes from the released tables; what was not released is left to the model;
* times a feedback factor ``(target / running share) ** feedback`` that closes the gap between the
  run's rows so far and the target marginal (and so also corrects the model's own bias in the fields
  it chooses freely).

With probability ``strength`` the field is forced into the drawn bin (the decoder masks the tokens
that would leave it; the model still chooses the value inside the bin); otherwise the model writes
what it likes. ``strength=0`` is off. Everything is seeded by the caller's generator.

A drawn bin becomes a :class:`FieldConstraint` (a numeric interval, an allowed category, ``NA`` or not),
intersected with the hard rules' own constraint of the field, so one token mask enforces both; bins
that the rule constraint excludes are never drawn. :class:`FieldSteer` is the per-batch hook the
decoder (and the fake backend) calls when a field starts and ends.
"""

from __future__ import annotations

import math

import numpy as np

from synllm_mlops.constraints._guide import FieldConstraint
from synllm_mlops.release import Bins, CalibrationTargets
from synllm_mlops.spec import NA_TOKEN, ColumnSpec, Interval, units


class Steering:
    """Per-run steering state: the targets, the dependence structure and the running counts.

    Args:
        targets: the released statistics.
        strength: probability of forcing a field into a drawn bin, in ``[0, 1]``.
        n_parents: earlier columns each field is conditioned on.
        feedback: exponent of the running-marginal correction (0 = none).
    """

    def __init__(self, targets: CalibrationTargets, strength: float = 1.0, *, n_parents: int = 3,
                 feedback: float = 1.0, smoothing: float = 0.5, target: int | None = None):
        if not 0 <= strength <= 1:
            raise ValueError(f"steer_strength must be in [0, 1], got {strength}")
        self.targets, self.strength, self.feedback = targets, strength, feedback
        n = max(targets.n, 1.0)
        released = targets.released_pairs
        self.parents: list[list[tuple[int, np.ndarray]]] = []
        for j in range(len(targets.bins)):
            scored = []
            for i in range(j):
                if (i, j) not in released:  # an unreleased table is the product of its marginals: no dependence
                    continue
                joint = targets.pairs[(i, j)] * n + smoothing  # pseudo-counts keep unseen cells possible
                joint /= joint.sum()
                pi, pj = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
                ratio = joint / (pi * pj)
                mi = float((joint * np.log(ratio)).sum())
                scored.append((mi, i, ratio))
            # the target column is a parent of every later column, so the features keep their relation to it
            scored.sort(key=lambda t: (t[1] != target, -t[0]))
            self.parents.append([(i, ratio) for mi, i, ratio in scored[:n_parents] if mi > 1e-3])
        self.counts = [np.zeros(b.n_bins) for b in targets.bins]

    def distribution(self, j: int, written: list[int]) -> np.ndarray:
        """Target distribution of field ``j``'s bin given the bins ``written`` of fields ``0..j-1``."""
        t = self.targets
        p = t.marginals[j].copy()
        cj = t.coarse[j]
        for i, ratio in self.parents[j]:
            b = written[i] if i < len(written) else -1
            if b >= 0:
                p *= ratio[t.coarse[i][b], cj]
        if self.feedback and self.counts[j].sum() > 0:
            k = 20.0  # rows' worth of prior: the correction grows as the run's evidence does
            running = (self.counts[j] + k * t.marginals[j]) / (self.counts[j].sum() + k)
            with np.errstate(divide="ignore", invalid="ignore"):
                p *= np.where(running > 0, (t.marginals[j] / running) ** self.feedback, 1.0)
        p = np.where(t.marginals[j] > 0, p, 0.0)
        s = p.sum()
        return p / s if s > 0 else t.marginals[j]

    def draw(self, j: int, written: list[int], rng: np.random.Generator, allowed: np.ndarray | None = None) -> int | None:
        """A bin for field ``j``, or None to leave the choice to the model.

        ``allowed`` (a boolean mask over bins) removes bins that other constraints (hard rules) exclude.
        """
        if self.strength <= 0 or rng.random() >= self.strength:
            return None
        p = self.distribution(j, written)
        if allowed is not None:
            p = np.where(allowed, p, 0.0)
            if p.sum() <= 0:
                return None
            p = p / p.sum()
        return int(rng.choice(len(p), p=p))

    def observe(self, j: int, b: int) -> None:
        """Count a finished field of the run (``b`` = its bin; -1 = fits no bin)."""
        if b >= 0:
            self.counts[j][b] += 1


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
        # in units of the column's precision, as the rule guide counts: bin, rule and column ranges intersect
        lo, hi = bins.bounds(k)
        spans = (Interval(lo=lo, hi=hi, hi_strict=not bins.closed(k)).unit_range(col.decimals), rule.unit_range(col.decimals),
                 units(col.min, col.max, col.decimals))
        ok[k] = max(a for a, _ in spans) <= min(b for _, b in spans)
    return ok


def _copy(col: ColumnSpec, rule: FieldConstraint | None) -> FieldConstraint:
    c = FieldConstraint(col, runs=None if rule is None else rule.runs)
    if rule is not None:
        c.lo, c.lo_strict, c.hi, c.hi_strict = rule.lo, rule.lo_strict, rule.hi, rule.hi_strict
        c.allowed = None if rule.allowed is None else set(rule.allowed)
        c.forbidden = set(rule.forbidden)
    return c


def within_release(bins: Bins, col: ColumnSpec, rule: FieldConstraint | None) -> FieldConstraint | None:
    """``rule`` narrowed to the released range ``[bins.lo, bins.hi]`` of a numeric field (``NA`` still passes).

    A field left to the model (no bin drawn) is kept inside the range the release bounds its end bins by,
    so no path of the decoder offers a spec limit that no patient reaches.
    """
    if not bins.numeric or (bins.lo <= col.min and bins.hi >= col.max):
        return rule
    c = _copy(col, rule)
    c.add(">=", bins.lo)
    c.add("<=", bins.hi)
    return c


def bin_constraint(bins: Bins, col: ColumnSpec, k: int, rule: FieldConstraint | None) -> FieldConstraint:
    """The constraint "field falls in bin ``k``", intersected with ``rule``."""
    c = _copy(col, rule)
    if k == bins.missing_bin:
        c.allowed = {NA_TOKEN}
        return c
    c.forbid_na = True
    if bins.numeric:
        lo, hi = bins.bounds(k)
        if math.isfinite(lo):
            c.add(">=", lo)
        if math.isfinite(hi):
            c.add("<=" if bins.closed(k) else "<", hi)
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
        """The constraint on field ``len(fields)``: ``rule`` narrowed to a drawn bin, or to the released range (no draw)."""
        j = len(fields)
        if j >= len(self.bins):
            return rule
        ok = admissible(self.bins[j], self.columns[j], rule)
        k = self.steering.draw(j, self.written(fields), self.rng, ok)
        if k is None:
            return within_release(self.bins[j], self.columns[j], rule)
        self.forced += 1
        return bin_constraint(self.bins[j], self.columns[j], k, rule)

    def finished(self, j: int, text: str) -> None:
        """Count field ``j`` of a row, written as ``text``, in the run's running marginals."""
        if j < len(self.bins):
            self.steering.observe(j, self.bins[j].code_text(text))
