"""Hard rules between columns, enforced while a row is being written.

A regular grammar cannot say ``radius_mean <= radius_worst`` (the bound is a value sampled a few
fields earlier), so the grammar alone lets a model break hard ordering and implication rules, and
those rows are then rejected. :class:`RowGuide` turns the spec's hard cross-column rules into a
per-field constraint once the fields they depend on are written: a numeric interval, a set of
allowed values, a set of forbidden values. During decoding the HF backend drops the tokens the
grammar allows but that cannot lead to a value satisfying that constraint.

Numeric prefixes are checked exactly against the column's range and the bound (a token is kept iff
some value the grammar allows can still satisfy the rule); category prefixes against the allowed
values; forbidden values when the field ends. If no token is left (a bound outside the column's
range), nothing is dropped and the parser rejects the row as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synllm_mlops.spec import (NA_TOKEN, ColumnSpec, DatasetSpec, ImplicationRule, Interval, OrderingRule, is_membership,
                               members, number, units)


@dataclass
class FieldConstraint(Interval):
    """What the field being written must satisfy, given the fields before it (``NA`` always passes).

    The numeric bounds are an :class:`~synllm_mlops.spec.Interval` and membership is the spec's
    (:func:`~synllm_mlops.spec.members`), so the guide allows exactly what the parser and the metrics accept.
    ``runs`` is the run's cache of numeric prefix runs (see :func:`prefix_runs`), or None.
    """

    col: ColumnSpec
    allowed: set[str] | None = None
    forbidden: set[str] = field(default_factory=set)
    forbid_na: bool = False  # set by steering into a bin of present values
    runs: dict | None = field(default=None, repr=False, compare=False)

    def add(self, op: str, value) -> None:
        """Intersect with ``field op value``."""
        if is_membership(op, value):
            texts = {self._text(m) for m in members(value, self.col.is_numeric)}
            if op in ("in", "=="):
                self.allowed = texts if self.allowed is None else self.allowed & texts
            else:
                self.forbidden |= texts
            return
        v = float(value)
        if op == "==":
            self.add("in", [v])
        elif op == "!=":
            self.forbidden.add(self._text(v))
        else:
            super().add(op, v)

    def _text(self, m) -> str:
        """A member as the field is written: a number at the column's decimals, a category as it is."""
        return f"{m:.{self.col.decimals}f}" if self.col.is_numeric else m

    def allows_value(self, text: str) -> bool:
        """Exact check of a completed field."""
        if text == NA_TOKEN:
            return not self.forbid_na or (self.allowed is not None and text in self.allowed)
        if self.allowed is not None and text not in self.allowed:
            return False
        if text in self.forbidden:
            return False
        if not self.bounded:
            return True
        x = number(text)
        if x is None:
            return True  # not a number: the grammar or the parser deals with it
        return self.holds(x)

    def allows_prefix(self, text: str) -> bool:
        """Whether some value starting with ``text`` can still satisfy the constraint."""
        if not text:
            return True
        if self.col.nullable and NA_TOKEN.startswith(text):
            return not self.forbid_na or (self.allowed is not None and any(a.startswith(text) for a in self.allowed))
        if self.allowed is not None and not any(a.startswith(text) for a in self.allowed):
            return False
        if not self.col.is_numeric or text.startswith("-") or not self.bounded:
            return True
        return self._reachable(text)

    def _reachable(self, text: str) -> bool:
        """Exact: some number the grammar allows, starting with ``text``, lies inside the bounds.

        Works on integers in units of the column's precision: the numbers starting with a prefix form
        a few contiguous runs (``12`` -> 12.x, 120-129.x, 1200-1299.x, ... up to the column's digits),
        computed once per column and text (:func:`prefix_runs`, kept in ``runs``); only the bounds differ
        between constraints.
        """
        col = self.col
        key = (col.min, col.max, col.decimals, text)
        cached = None if self.runs is None else self.runs.get(key)
        if cached is None:
            cached = prefix_runs(*key)
            if self.runs is not None:
                self.runs[key] = cached
        if cached is False:
            return True  # not a number being written: the grammar deals with it
        lo, hi = self.unit_range(col.decimals)
        return any(max(a, lo) <= min(b, hi) for a, b in cached)


def prefix_runs(col_min: float, col_max: float, dec: int, text: str) -> tuple[tuple[int, int], ...] | bool:
    """The numbers starting with ``text`` inside the column's range, as runs of units of its precision.

    False when ``text`` is not a number being written. Independent of any rule's bound, so shared by every
    row and constraint of the column (the rule guide asks this for every grammar-allowed token it judges).
    """
    scale = 10**dec
    whole, dot, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return False
    lo, hi = units(col_min, col_max, dec)
    if dot:
        rest = dec - len(frac)
        if rest < 0:
            return ()
        start = int(whole) * scale + int(frac or "0") * 10**rest
        runs = [(start, start + 10**rest - 1)]
    else:
        extra = 0 if whole == "0" else max(len(str(int(col_max))) - len(whole), 0)
        w = int(whole)
        runs = [(w * 10**k * scale, (w + 1) * 10**k * scale - 1) for k in range(extra + 1)]
    return tuple((max(a, lo), min(b, hi)) for a, b in runs if max(a, lo) <= min(b, hi))


class RowGuide:
    """The spec's hard ordering and implication rules, as constraints on each field given the earlier ones.

    Example:
        >>> from synllm_mlops.spec import load_spec
        >>> guide = RowGuide.for_spec(load_spec("breast_cancer"))
        >>> fields = ["M", "17.99"] + ["1.0000"] * 19  # ... up to radius_worst, the 22nd column
        >>> guide.constraint(fields).allows_value("15.00")
        False
    """

    def __init__(self, spec: DatasetSpec, steering=None):
        self.spec = spec
        self.steering = steering  # constraints.Steering: which bin each field should fall in (None = off)
        self.columns = spec.columns
        # the rule processor's verdicts per tokenizer, kept across the run's batches (see generation._rule_mask):
        # a verdict depends only on (constraint, field text so far, token), never on the batch that asked for it
        self.caches: list[tuple[object, dict, dict]] = []
        self.runs: dict = {}  # numeric prefix runs per (column range, text), shared by the run's constraints
        index = {c.name: i for i, c in enumerate(spec.columns)}
        # per field: (earlier field, function(earlier text, constraint)) pairs
        self._deps: dict[int, list[tuple[int, object]]] = {}
        for rule in spec.rules:
            if not rule.hard:
                continue
            if isinstance(rule, OrderingRule):
                a, b = index[rule.left], index[rule.right]
                # the field written second is bounded by the first: right (flipped op) left, or left op right
                target, source, op = (b, a, rule.flipped().op) if a < b else (a, b, rule.op)
                self._add(target, source, lambda t, c, op=op: c.add(op, float(t)) if number(t) is not None else None)
            elif isinstance(rule, ImplicationRule):
                i, t = index[rule.if_.column], index[rule.then.column]
                if i < t:  # condition known first: enforce the consequence
                    self._add(t, i, lambda x, c, r=rule, col=self.columns[i]:
                              c.add(r.then.op, r.then.value) if r.if_.holds_value(x, col.is_numeric) else None)
                elif t < i:  # consequence known first and false: the condition must not hold
                    self._add(i, t, lambda x, c, r=rule, col=self.columns[t]:
                              c.add(r.if_.negated().op, r.if_.value)
                              if x != NA_TOKEN and not r.then.holds_value(x, col.is_numeric) else None)

    def _add(self, target: int, source: int, fn) -> None:
        self._deps.setdefault(target, []).append((source, fn))

    @classmethod
    def for_spec(cls, spec: DatasetSpec, steering=None) -> "RowGuide | None":
        """A guide for ``spec``, or None when it has no hard rule between two columns and no steering."""
        guide = cls(spec, steering)
        return guide if guide._deps or steering is not None else None

    @property
    def has_rules(self) -> bool:
        """Whether some field is constrained by a hard rule between columns (steering aside)."""
        return bool(self._deps)

    @property
    def fields(self) -> list[int]:
        """Indexes of the fields that depend on earlier ones."""
        return sorted(self._deps)

    def constraint(self, written: list[str]) -> FieldConstraint | None:
        """The constraint on field ``len(written)`` given the ``written`` fields of the row, if any."""
        deps = self._deps.get(len(written))
        if not deps:
            return None
        c = FieldConstraint(self.columns[len(written)], runs=self.runs)
        for source, fn in deps:
            if written[source] != NA_TOKEN:
                fn(written[source], c)
        if c.allowed is None and not c.forbidden and not c.bounded:
            return None
        return c


class RowTracker:
    """Follows one sequence's text as it is written: the current row's finished fields and the field being written."""

    __slots__ = ("fields", "partial", "_constraint", "_stale", "steer")

    def __init__(self, steer=None) -> None:
        self.fields: list[str] = []
        self.partial = ""
        self._constraint: FieldConstraint | None = None
        self._stale = True
        self.steer = steer  # constraints.FieldSteer, or None

    def feed(self, text: str) -> None:
        for ch in text:
            if ch in ",\n" and self.steer is not None:
                self.steer.finished(len(self.fields), self.partial)
            if ch == "\n":
                self.fields, self.partial, self._stale = [], "", True
            elif ch == ",":
                self.fields.append(self.partial)
                self.partial, self._stale = "", True
            else:
                self.partial += ch

    def constraint(self, guide: RowGuide) -> FieldConstraint | None:
        """``guide``'s constraint on the field being written, computed once per field."""
        if self._stale:
            c = guide.constraint(self.fields)
            if self.steer is not None:
                c = self.steer.constraint(self.fields, c)
            self._constraint, self._stale = c, False
        return self._constraint

    def allows(self, guide_constraint: FieldConstraint, token_text: str) -> bool:
        """Whether appending ``token_text`` keeps the current field satisfiable."""
        ext = self.partial + token_text
        for i, ch in enumerate(ext):
            if ch in ",\n":
                return guide_constraint.allows_value(ext[:i])
        return guide_constraint.allows_prefix(ext)
