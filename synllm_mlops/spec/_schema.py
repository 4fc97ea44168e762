"""Pydantic models for dataset specs: columns, clinical rules, the dataset itself."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synllm_mlops.errors import show
from synllm_mlops.spec._checks import range_problem, spec_problems, text_problem
from synllm_mlops.spec._rules import (COMPARE, FLIPPED, NEGATED, Interval, is_membership, member, members,
                                      normalise_category, number)

NA_TOKEN = "NA"
"""How a missing value is written in prompts, grammar and synthetic CSV text."""

MISSING_TEXTS = frozenset({NA_TOKEN, "", "N/A", "NaN", "nan", "null", "None", "?"})
"""Texts that mean "missing" wherever a cell is read from text: the user's CSV, model output, the copy guards."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ColumnSpec(_Strict):
    """One column of a table.

    ``numeric`` columns carry a plausible ``[min, max]`` range and the number of ``decimals``
    synthetic values are written with (0 = integer); ``categorical`` columns list their
    ``categories`` as strings, exactly as they appear in the CSV.
    """

    name: str
    type: Literal["numeric", "categorical"]
    description: str = ""
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    decimals: int = Field(default=2, ge=0, le=6)
    categories: list[str] | None = None
    nullable: bool = False

    @field_validator("categories", mode="before")
    @classmethod
    def _category_text(cls, v: Any) -> Any:
        # `categories: [1, 2, 3]` means the texts "1", "2", "3" (as a CSV writes them); booleans stay an error
        if isinstance(v, list):
            return [normalise_category(c) if isinstance(c, (int, float)) and not isinstance(c, bool) else c for c in v]
        return v

    @model_validator(mode="after")
    def _check(self) -> "ColumnSpec":
        problems = [p for p in [text_problem("column name", self.name)] if p]
        where = f"column {self.name!r}"
        if self.type == "categorical":
            if not self.categories:
                problems.append(f"categorical {where} needs a non-empty 'categories' list, e.g. categories: [a, b]")
            else:
                dup = sorted({c for c in self.categories if self.categories.count(c) > 1})
                if dup:
                    problems.append(f"{where} lists the categories {show(dup)} twice; delete the repeats")
                problems += [f"{where}: {p}" for p in (text_problem("category", c) for c in self.categories) if p]
                if NA_TOKEN in self.categories:
                    problems.append(f"{where}: category {NA_TOKEN!r} is how a missing value is written; "
                                    "delete it and set nullable: true")
        else:
            if self.categories:
                problems.append(f"numeric {where} must not list categories; delete them or make it type: categorical")
            if self.min is None or self.max is None:
                problems.append(f"numeric {where} needs both 'min' and 'max' (the plausible range)")
            elif p := range_problem(where, self.min, self.max, self.decimals):
                problems.append(p)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def is_numeric(self) -> bool:
        return self.type == "numeric"


CompareOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in"]


def is_missing(value: Any) -> bool:
    """None, NaN, pandas' NA, or the ``NA`` token of CSV text."""
    return value is None or value is pd.NA or value == NA_TOKEN or (isinstance(value, float) and math.isnan(value))


class Condition(_Strict):
    """``column op value``, e.g. ``Stage >= 4`` or ``Status in [D]``.

    One semantics, evaluated on a table (:meth:`holds`) or on one value (:meth:`holds_value`): a missing
    value never holds; ``in``/``not_in`` (and ``==``/``!=`` with a text value) compare members after
    normalisation (numbers on numeric columns, so ``4.0`` is in ``[4]``; category text otherwise); the
    order operators (and ``==``/``!=`` with a number) compare numbers, and hold only for numbers.
    """

    column: str
    op: CompareOp
    value: Any

    @property
    def is_membership(self) -> bool:
        """Whether the condition tests membership (``in``/``not_in``, ``==``/``!=`` with a text), not numbers."""
        return is_membership(self.op, self.value)

    def members(self, numeric: bool) -> set:
        """The condition's values, normalised for a column of that type (numbers, or category texts)."""
        return members(self.value, numeric)

    def holds_value(self, value: Any, numeric: bool) -> bool:
        """Whether the condition holds for one ``value`` of a column (``numeric``: the column's type)."""
        if is_missing(value):
            return False
        if self.is_membership:
            hit = member(value, numeric) in self.members(numeric)
            return hit if self.op in ("in", "==") else not hit
        x = number(value)
        return x is not None and bool(COMPARE[self.op](x, float(self.value)))

    def holds(self, df: pd.DataFrame) -> pd.Series:
        """Boolean Series: :meth:`holds_value` on every row (the column's type taken from its dtype)."""
        s = df[self.column]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        present = s.notna() & (s.astype("string") != NA_TOKEN).fillna(False)
        if self.is_membership:
            keys = pd.to_numeric(s, errors="coerce") if numeric else s.map(normalise_category, na_action="ignore")
            hit = keys.isin(list(self.members(numeric))).fillna(False).astype(bool)
            out = hit if self.op in ("in", "==") else ~hit
            return (out & present).astype(bool)
        x = pd.to_numeric(s, errors="coerce")
        return (COMPARE[self.op](x, float(self.value)).fillna(False).astype(bool) & x.notna()).astype(bool)

    def negated(self) -> "Condition":
        """The condition with the opposite operator (for a present value, it holds exactly where this one does not)."""
        return self.model_copy(update={"op": NEGATED[self.op]})

    def describe(self) -> str:
        v = "{" + ", ".join(map(str, self.value)) + "}" if isinstance(self.value, list) else self.value
        op = {"in": "in", "not_in": "not in"}.get(self.op, self.op)
        return f"{self.column} {op} {v}"


class _RuleBase(_Strict):
    id: str
    note: str = Field(description="one-line source or rationale for the rule")
    hard: bool = Field(default=False, description="hard rules reject generated rows; soft ones are only measured")

    def columns(self) -> list[str]:
        raise NotImplementedError

    def violations(self, df: pd.DataFrame) -> pd.Series:
        """Boolean Series: True where a row breaks the rule (rows with missing inputs never do)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class RangeRule(_RuleBase):
    kind: Literal["range"] = "range"
    column: str
    min: float | None = None
    max: float | None = None

    def columns(self) -> list[str]:
        return [self.column]

    def interval(self) -> Interval:
        """The values the rule allows."""
        return Interval(lo=-math.inf if self.min is None else self.min, hi=math.inf if self.max is None else self.max)

    def violations(self, df: pd.DataFrame) -> pd.Series:
        x = pd.to_numeric(df[self.column], errors="coerce")
        return (x.notna() & ~self.interval().holds(x)).astype(bool)

    def narrow(self, col: ColumnSpec) -> ColumnSpec:
        """``col`` with its range cut to the rule's (the grammar of a hard rule; the spec checks that it is not empty)."""
        lo, hi = max(col.min, self.interval().lo), min(col.max, self.interval().hi)
        return col.model_copy(update={"min": lo, "max": hi}) if (lo, hi) != (col.min, col.max) else col

    def describe(self) -> str:
        return f"{self.min if self.min is not None else '-inf'} <= {self.column} <= {self.max if self.max is not None else 'inf'}"


class AllowedRule(_RuleBase):
    kind: Literal["allowed"] = "allowed"
    column: str
    values: list[str]

    def columns(self) -> list[str]:
        return [self.column]

    def condition(self) -> Condition:
        """The rule as a condition: ``column in values``."""
        return Condition(column=self.column, op="in", value=list(self.values))

    def violations(self, df: pd.DataFrame) -> pd.Series:
        return self.condition().negated().holds(df)

    def narrow(self, col: ColumnSpec) -> ColumnSpec:
        """``col`` with only the categories the rule allows (the grammar of a hard rule)."""
        cond = self.condition()
        kept = [c for c in col.categories if cond.holds_value(c, False)]
        return col.model_copy(update={"categories": kept}) if kept != col.categories else col

    def describe(self) -> str:
        return f"{self.column} in {{{', '.join(self.values)}}}"


class ImplicationRule(_RuleBase):
    """If ``if_`` holds then ``then`` must hold (when the ``then`` column is present)."""

    kind: Literal["implication"] = "implication"
    if_: Condition = Field(alias="if")
    then: Condition

    def columns(self) -> list[str]:
        return [self.if_.column, self.then.column]

    def violations(self, df: pd.DataFrame) -> pd.Series:
        present = df[self.then.column].notna()
        return (self.if_.holds(df) & present & ~self.then.holds(df)).astype(bool)

    def describe(self) -> str:
        return f"if {self.if_.describe()} then {self.then.describe()}"


class OrderingRule(_RuleBase):
    """``left op right`` between two numeric columns, e.g. ``age_at_diagnosis <= age``."""

    kind: Literal["ordering"] = "ordering"
    left: str
    op: Literal["<", "<=", ">", ">="]
    right: str

    def columns(self) -> list[str]:
        return [self.left, self.right]

    def violations(self, df: pd.DataFrame) -> pd.Series:
        a = pd.to_numeric(df[self.left], errors="coerce")
        b = pd.to_numeric(df[self.right], errors="coerce")
        return (a.notna() & b.notna() & ~COMPARE[self.op](a, b)).astype(bool)

    def flipped(self) -> "OrderingRule":
        """The same rule written the other way round (``a <= b`` -> ``b >= a``)."""
        return self.model_copy(update={"left": self.right, "op": FLIPPED[self.op], "right": self.left})

    def describe(self) -> str:
        return f"{self.left} {self.op} {self.right}"


Rule = Annotated[Union[RangeRule, AllowedRule, ImplicationRule, OrderingRule], Field(discriminator="kind")]


class DatasetSpec(_Strict):
    """A table's schema, target, id columns and clinical rules.

    Example:
        >>> from synllm_mlops.spec import load_spec
        >>> spec = load_spec("cirrhosis")
        >>> spec.target, spec.column_names[:3]
        ('Status', ['N_Days', 'Status', 'Drug'])
    """

    name: str
    description: str = ""
    source: str = ""
    builtin_data: str | None = Field(default=None, description="name of a built-in loader, if the data ships offline")
    target: str
    id_columns: list[str] = Field(default_factory=list)
    columns: list[ColumnSpec]
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> "DatasetSpec":
        problems = spec_problems(self)  # every check the grammar, rule guide and evaluation rely on
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def numeric_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.is_numeric]

    @property
    def target_is_categorical(self) -> bool:
        return not self.column(self.target).is_numeric

    def to_yaml(self) -> str:
        import yaml

        d = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        # 'kind' is the rules' discriminator: it must survive exclude_defaults
        d["rules"] = [{"id": r.id, "kind": r.kind, **{k: v for k, v in rd.items() if k != "id"}}
                      for r, rd in zip(self.rules, d.get("rules", []))]
        return yaml.safe_dump(d, sort_keys=False, allow_unicode=True, width=110)


def cell_key(value: Any, column: ColumnSpec) -> str:
    """One cell as the row key writes it: numbers at the column's decimals, categories normalised, ``NA``."""
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return NA_TOKEN
    if column.is_numeric:
        x = number(value)
        return str(value).strip() if x is None else f"{round(x, column.decimals) + 0.0:.{column.decimals}f}"
    return str(normalise_category(value))


def row_key(values: list[Any], spec: "DatasetSpec") -> tuple[str, ...]:
    """The answer to "is this the same row?": the copy guard and ``privacy/exact_match_rate`` both use it."""
    return tuple(cell_key(v, c) for v, c in zip(values, spec.columns))


def key_frame(df: pd.DataFrame, spec: "DatasetSpec") -> pd.DataFrame:
    """:func:`cell_key` of every cell of a table (spec columns, in spec order)."""
    return pd.DataFrame({c.name: [cell_key(v, c) for v in df[c.name].to_numpy(dtype=object)] for c in spec.columns},
                        index=df.index, dtype=object)


def table_keys(df: pd.DataFrame, spec: "DatasetSpec") -> set[tuple[str, ...]]:
    """:func:`row_key` of every row of a table (the privacy guard's reference set)."""
    return set(key_frame(df, spec).itertuples(index=False, name=None))


def as_category(value: Any, categories: list[str]) -> Any:
    """``value`` as one of a column's ``categories``: :func:`normalise_category`, and integral number text
    (``4.0``, ``4.``, ``4e0``: how pandas writes an integer code in a column with missing values) as the
    integer category ``4`` when that is a category and the text itself is not. Anything else is returned
    normalised (and then is not a category: ``4.5`` stays ``'4.5'``)."""
    text = normalise_category(value)
    if not isinstance(text, str) or text in categories:
        return text
    try:
        x = float(text)
    except ValueError:
        return text
    if math.isfinite(x) and x.is_integer() and (code := str(int(x))) in categories:
        return code
    return text
