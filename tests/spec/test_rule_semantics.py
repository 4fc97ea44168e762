"""One rule semantics: Condition on a table and on one value agree for every operator x column type x missing."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from synllm_mlops.spec import NA_TOKEN, ColumnSpec, Condition, DatasetSpec, OrderingRule, key_frame, row_key, table_keys

OPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not_in"]
NUMERIC = pd.Series([4.0, 3.5, 5.0, np.nan, 0.0, -1.0], dtype=float)
CATEGORICAL = pd.Series(["4", "A", " B", np.nan, "4.0", "C"], dtype=object)
VALUES = {"==": [4, "A", "4"], "!=": [4, "A"], "<": [4, 4.5], "<=": [4], ">": [3.5], ">=": [4],
          "in": [[4], ["A", "B"], [4.0, "C"], "4"], "not_in": [[4], ["A", "4"]]}
CASES = [(op, v, kind) for op in OPS for v in VALUES[op] for kind in ("numeric", "categorical")]


@pytest.mark.parametrize("op,value,kind", CASES)
def test_scalar_and_vectorised_evaluation_agree(op, value, kind):
    s = NUMERIC if kind == "numeric" else CATEGORICAL
    cond = Condition(column="x", op=op, value=value)
    table = cond.holds(pd.DataFrame({"x": s})).tolist()
    one_by_one = [cond.holds_value(v, kind == "numeric") for v in s]
    assert table == one_by_one
    assert table[3] is False  # missing never holds, whatever the operator


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_csv_text_gets_the_same_answer_as_typed_values(kind):
    """The rule guide sees the text being written; the parser and the metrics see typed values."""
    s = NUMERIC if kind == "numeric" else CATEGORICAL
    texts = [NA_TOKEN if pd.isna(v) else str(v) for v in s]
    for op, v, k in CASES:
        if k != kind:
            continue
        cond = Condition(column="x", op=op, value=v)
        assert [cond.holds_value(t, kind == "numeric") for t in texts] == [cond.holds_value(x, kind == "numeric") for x in s]


def test_membership_on_a_numeric_column_compares_numbers():
    assert Condition(column="x", op="in", value=[4]).holds_value(4.0, True)
    assert Condition(column="x", op="in", value=[4]).holds_value("4.00", True)
    assert Condition(column="x", op="in", value=[4]).holds(pd.DataFrame({"x": [4.0]})).tolist() == [True]


@pytest.mark.parametrize("op", OPS)
def test_negation_holds_exactly_where_the_condition_does_not_on_present_values(op):
    value = VALUES[op][0]
    cond = Condition(column="x", op=op, value=value)
    df = pd.DataFrame({"x": NUMERIC})
    both = cond.holds(df) | cond.negated().holds(df)
    either = cond.holds(df) & cond.negated().holds(df)
    assert both.tolist() == NUMERIC.notna().tolist() and not either.any()
    assert cond.negated().negated() == cond


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_a_flipped_ordering_rule_flags_the_same_rows(op):
    rule = OrderingRule(id="r", note="n", left="a", op=op, right="b")
    a, b = zip(*itertools.product([1.0, 2.0, np.nan], repeat=2))
    df = pd.DataFrame({"a": a, "b": b})
    assert rule.violations(df).tolist() == rule.flipped().violations(df).tolist()
    assert rule.flipped().flipped() == rule


def test_one_row_key_for_the_copy_guard_and_the_metrics():
    spec = DatasetSpec(name="t", target="c", columns=[
        ColumnSpec(name="x", type="numeric", min=-5, max=5, decimals=2, nullable=True),
        ColumnSpec(name="c", type="categorical", categories=["4", "A"], nullable=True)])
    typed = pd.DataFrame({"x": [1.004, -0.001, np.nan], "c": [4.0, " A", None]})
    assert row_key([1.0, "4"], spec) == ("1.00", "4")
    assert row_key([-0.001, "A"], spec) == ("0.00", "A")  # -0.00 is 0.00
    assert row_key([np.nan, None], spec) == (NA_TOKEN, NA_TOKEN)
    assert table_keys(typed, spec) == {("1.00", "4"), ("0.00", "A"), (NA_TOKEN, NA_TOKEN)}
    assert list(key_frame(typed, spec).itertuples(index=False, name=None))[0] == row_key(list(typed.iloc[0]), spec)


def test_an_allowed_rule_normalises_categories_as_conditions_do():
    """A categorical column read as floats (codes with missing values): 4.0 is the category "4", not a violation."""
    from synllm_mlops.spec import AllowedRule

    rule = AllowedRule(id="r", note="n", column="x", values=["4"])
    df = pd.DataFrame({"x": [4.0, 5.0, np.nan]})
    assert rule.violations(df).tolist() == [False, True, False]
    assert rule.violations(df).tolist() == (~rule.condition().holds(df) & df["x"].notna()).tolist()
    col = ColumnSpec(name="x", type="categorical", categories=["4", "5"])
    assert rule.narrow(col).categories == ["4"]  # what the grammar writes: the same members


def test_interval_bounds_in_units_match_strict_and_loose_comparisons():
    from synllm_mlops.spec import Interval

    iv = Interval(lo=1.25, lo_strict=True, hi=2.0)
    assert iv.unit_range(1) == (13, 20) and iv.unit_range(2) == (126, 200)
    values = [x / 100 for x in range(100, 260)]
    a, b = iv.unit_range(2)
    assert [iv.holds(v) for v in values] == [a <= round(v * 100) <= b for v in values]
