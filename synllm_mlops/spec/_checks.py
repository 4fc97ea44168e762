"""Every check a spec must pass before a model loads, in one place.

The grammar, the rule guide and the evaluation read a spec long after it was loaded; anything they
cannot work with (a range with no value at the column's decimals, a hard rule that leaves a column no
value, a condition that cannot be evaluated for its column's type, a name that breaks a CSV row) is
refused here, when the spec is validated, with the rule, the value and the fix.
"""

from __future__ import annotations

import math
from typing import Any

from synllm_mlops.errors import show
from synllm_mlops.spec._rules import COMPARE, is_membership, normalise_category, units

# The schema's validators call these checks, so this module takes the schema's objects (ColumnSpec, Condition,
# DatasetSpec) without importing their classes: the import goes one way, _schema -> _checks.
ColumnSpec = Condition = DatasetSpec = Any  # type aliases for the annotations below

MAX_UNITS = 2**53
"""Largest magnitude, in units of a column's last decimal, that a float holds exactly (the grammar counts in them)."""

_CSV_BREAKERS = {",": "a comma", '"': "a double quote", "\n": "a newline", "\r": "a carriage return"}


def text_problem(kind: str, text: str) -> str | None:
    """Why ``text`` cannot be a column name or category written bare in a CSV row, or None."""
    if not text.strip():
        return f"{kind} {show(text)} is empty; give it a name"
    for ch, what in _CSV_BREAKERS.items():
        if ch in text:
            return f"{kind} {show(text)} contains {what}, which breaks CSV rows; rename it without {what}"
    if text != text.strip():
        return f"{kind} {show(text)} starts or ends with a blank (CSV readers strip it); remove the blank"
    return None


def range_problem(what: str, lo: float, hi: float, decimals: int) -> str | None:
    """Why ``[lo, hi]`` at ``decimals`` decimals holds no value the grammar can write, or None."""
    for bound, v in (("min", lo), ("max", hi)):
        if not math.isfinite(v):
            return f"{what}: {bound} must be a finite number, got {show(v)}; write the plausible {bound}"
    if lo > hi:
        return f"{what}: min must be <= max, got min={show(lo)}, max={show(hi)}; swap them"
    if max(abs(lo), abs(hi)) * 10**decimals >= MAX_UNITS:
        return (f"{what}: range [{show(lo)}, {show(hi)}] at {decimals} decimals is beyond what a float holds exactly "
                f"(|value| x 10^decimals must stay below 2^53); rescale the column (change its unit) or lower decimals")
    a, b = units(lo, hi, decimals)
    if a > b:
        step = show(10.0**-decimals)
        return (f"{what}: no value with {decimals} decimal(s) lies in [{show(lo)}, {show(hi)}] (the grammar writes "
                f"multiples of {step}); widen the range or raise decimals")
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _numeric_codes(col: "ColumnSpec") -> bool:
    """Whether values of ``col`` compare as numbers (a numeric column, or categories that are all numbers)."""
    return col.is_numeric or all(_as_number(c) is not None for c in col.categories)


def condition_problem(where: str, cond: "Condition", col: "ColumnSpec") -> str | None:
    """Why ``cond`` cannot be evaluated on ``col`` (it would never hold, or raise, at evaluation), or None."""
    text = f"{where}: condition `{cond.describe()}`"
    values = cond.value if isinstance(cond.value, list) else [cond.value]
    if any(isinstance(v, (bool, dict)) or v is None for v in values):
        bad = next(v for v in values if isinstance(v, (bool, dict)) or v is None)
        return f"{text}: value {show(bad)} is not a number or a category; quote categories in YAML (value: \"yes\")"
    if cond.op in ("in", "not_in"):
        if not values:
            return f"{text}: '{cond.op}' needs a non-empty list of values, e.g. value: [a, b]"
    elif isinstance(cond.value, list):
        return f"{text}: '{cond.op}' compares one value, got the list {show(cond.value)}; use op: in for a list"
    if not is_membership(cond.op, cond.value):  # an order operator, or ==/!= with a number: compares numbers
        if not _is_number(cond.value):
            return (f"{text}: '{cond.op}' compares numbers but {show(cond.value)} is not a number; write a number "
                    f"(e.g. value: 5), or use == / in with one of the column's values")
        if not _numeric_codes(col):
            return (f"{text}: '{cond.op}' compares numbers but column {col.name!r} holds the categories "
                    f"{show(col.categories)}; use == / in with one of them")
        return None
    for v in values:
        if col.is_numeric and _as_number(v) is None:
            return (f"{text}: {show(v)} is not a number, and column {col.name!r} is numeric; "
                    "write a number (e.g. value: 5)")
        if not col.is_numeric and normalise_category(v) not in col.categories:
            return (f"{text}: {show(v)} is not a category of column {col.name!r}; choose from "
                    f"{show(col.categories)}")
    return None


def _rule_problems(rule, cols: dict[str, "ColumnSpec"]) -> list[str]:
    where = f"rule {rule.id!r}"
    if rule.kind == "range":
        col = cols[rule.column]
        if not _numeric_codes(col):
            return [f"{where}: a range rule needs a numeric column, but {col.name!r} holds the categories "
                    f"{show(col.categories)}; use an allowed rule (kind: allowed)"]
        if rule.min is None and rule.max is None:
            return [f"{where}: a range rule needs min, max or both; add them or delete the rule"]
        if rule.interval().lo > rule.interval().hi:
            return [f"{where}: min must be <= max, got min={show(rule.min)}, max={show(rule.max)}; swap them"]
        if rule.hard and col.is_numeric:
            narrowed = rule.narrow(col)
            a, b = units(narrowed.min, narrowed.max, col.decimals)
            if a > b:
                return [f"{where}: hard range [{show(rule.min)}, {show(rule.max)}] leaves column {col.name!r} "
                        f"(range [{show(col.min)}, {show(col.max)}], {col.decimals} decimals) no value; "
                        "fix the rule or the column's range"]
        return []
    if rule.kind == "allowed":
        col = cols[rule.column]
        if col.is_numeric:
            return [f"{where}: an allowed rule needs a categorical column, but {col.name!r} is numeric; "
                    "use a range rule (kind: range)"]
        if not rule.values:
            return [f"{where}: values is empty, so no row could pass; list the allowed categories"]
        bad = [v for v in rule.values if normalise_category(v) not in col.categories]
        if bad:
            return [f"{where}: {show(bad)} not categories of column {col.name!r}; choose from {show(col.categories)}"]
        return []
    if rule.kind == "ordering":
        a, b = cols[rule.left], cols[rule.right]
        if a.name == b.name:
            return [f"{where}: compares column {a.name!r} with itself; name two different columns"]
        for c in (a, b):
            if not c.is_numeric:
                return [f"{where}: an ordering rule compares numbers, but {c.name!r} is categorical; "
                        "use an implication rule (kind: implication)"]
        # some pair of values in the two ranges satisfies it: the extremes that favour the operator do
        if rule.hard and not (COMPARE[rule.op](a.min, b.max) if "<" in rule.op else COMPARE[rule.op](a.max, b.min)):
            return [f"{where}: hard `{rule.describe()}` cannot hold for any row ({a.name} in "
                    f"[{show(a.min)}, {show(a.max)}], {b.name} in [{show(b.min)}, {show(b.max)}]); "
                    "fix the rule or the ranges"]
        return []
    out = []
    for cond in (rule.if_, rule.then):
        p = condition_problem(where, cond, cols[cond.column])
        if p:
            out.append(p)
    return out


def spec_problems(spec: "DatasetSpec") -> list[str]:
    """Every problem of ``spec`` beyond its field types, each naming the rule, the value and the fix."""
    names = [c.name for c in spec.columns]
    problems = []
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.append(f"column names must be unique, got {show(dup)} more than once; rename or delete one")
    if spec.target not in names:
        hint = " (it is listed in id_columns, which are dropped)" if spec.target in spec.id_columns else ""
        problems.append(f"target {show(spec.target)} is not a column{hint}; choose one of: {', '.join(names)}")
    elif (t := next(c for c in spec.columns if c.name == spec.target)).categories is not None and len(t.categories) < 2:
        problems.append(f"target {show(spec.target)} has the one category {show(t.categories)}; ML utility trains a "
                        "classifier on the target, so list at least two categories or choose another target")
    clash = sorted(set(spec.id_columns) & set(names))
    if clash:
        problems.append(f"id columns {show(clash)} must not also be listed in 'columns'; keep them in one list")
    for n in spec.id_columns:
        if p := text_problem("id column", n):
            problems.append(p)
    ids = [r.id for r in spec.rules]
    dup_ids = sorted({i for i in ids if ids.count(i) > 1})
    if dup_ids:
        problems.append(f"rule ids must be unique, got {show(dup_ids)} more than once; rename one")
    cols = {c.name: c for c in spec.columns}
    for r in spec.rules:
        unknown_cols = [c for c in r.columns() if c not in cols]
        if unknown_cols:
            problems.append(f"rule {r.id!r} refers to unknown column {show(unknown_cols[0])}; "
                            f"columns are: {', '.join(names)}")
            continue
        problems += _rule_problems(r, cols)
    return problems
