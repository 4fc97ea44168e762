"""The root fixes of issue 12 (spec and data side): a spec that loads can be generated from and evaluated
against; a table written by pandas loads as its spec says; every value a message shows reads as written."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from synllm_mlops.errors import DataError, show
from synllm_mlops.spec import ColumnSpec, DatasetSpec, as_category, builtin_specs, conform, load_data, load_spec
from synllm_mlops.spec._builtin import BUILTIN_LOADERS

OFFLINE = [n for n in builtin_specs() if load_spec(n).builtin_data]


@pytest.mark.parametrize("name", OFFLINE)
def test_builtin_table_round_trips_through_pandas_to_csv(name, tmp_path):
    # pandas writes an integer code of a column with missing values as 4.0: it must load as category "4"
    spec = load_spec(name)
    raw = BUILTIN_LOADERS[spec.builtin_data]()
    path = tmp_path / f"{name}.csv"
    raw.to_csv(path, index=False)
    pd.testing.assert_frame_equal(load_data(spec, path), load_data(spec))


def test_round_trip_covers_a_float_written_code():
    raw = BUILTIN_LOADERS["cirrhosis_pbc"]()
    assert raw["Stage"].isna().any() and raw["Stage"].dtype.kind == "f"  # the case the round trip exercises


def test_a_non_integral_code_is_still_an_error():
    spec = load_spec("cirrhosis")
    raw = BUILTIN_LOADERS[spec.builtin_data]().astype(object)
    raw.loc[0, "Stage"] = "4.5"
    with pytest.raises(DataError, match=r"column 'Stage': 1 value\(s\) not in categories \['1', '2', '3', '4'\], e.g. '4.5'"):
        conform(raw, spec)


@pytest.mark.parametrize("text,want", [("4.0", "4"), ("4.", "4"), ("4e0", "4"), (" 4.00 ", "4"), (4.0, "4"),
                                       (np.float64(2.0), "2"), ("4.5", "4.5"), ("9.0", "9.0"), ("x", "x")])
def test_as_category(text, want):
    assert as_category(text, ["1", "2", "3", "4"]) == want


def test_as_category_keeps_a_category_written_with_decimals():
    assert as_category("1.0", ["1.0", "2.0"]) == "1.0"


def test_numeric_categories_in_yaml_are_their_text():
    col = ColumnSpec(name="s", type="categorical", categories=[1, 2.0, "3"])
    assert col.categories == ["1", "2", "3"]


@pytest.mark.parametrize("value,want", [(np.int64(-5000), "-5000"), (np.float64(4.0), "4"), (np.float64(0.1), "0.1"),
                                        (-5000, "-5000"), (1e300, "1e+300"), ("-5000", "'-5000'"), (True, "true"),
                                        ([np.int64(1), "a"], "[1, 'a']"), (float("inf"), "inf")])
def test_show_writes_values_as_a_user_would(value, want):
    assert show(value) == want


def test_data_messages_show_values_as_written():
    spec = load_spec("cirrhosis")
    raw = BUILTIN_LOADERS[spec.builtin_data]().astype(object)
    raw.loc[0, "N_Days"] = np.int64(-5000)
    raw.loc[1, "Age"] = "-5000"
    with pytest.raises(DataError) as e:
        conform(raw, spec)
    msg = str(e.value)
    assert "np." not in msg and "e.g. -5000" in msg and "e.g. '-5000'" in msg
    assert "outside the spec range [1, 5000]" in msg and "[9000, 30000]" in msg


# --- a spec that loads can be generated from: the grammar and the rule guide never meet what they cannot build ---

def test_every_numeric_range_that_loads_has_a_grammar():
    from synllm_mlops.constraints import column_regex

    rng = random.Random(0)
    accepted = refused = 0
    for _ in range(400):
        d = rng.randint(0, 3)
        lo = round(rng.uniform(-2, 3), rng.randint(0, 3))
        hi = round(lo + rng.choice([0, 0.001, 0.01, 0.05, 0.5, 5]), 3)
        try:
            col = ColumnSpec(name="x", type="numeric", min=lo, max=hi, decimals=d)
        except ValidationError as e:
            assert "no value with" in str(e)
            refused += 1
            continue
        column_regex(col)  # must not raise
        accepted += 1
    assert accepted > 50 and refused > 50


def _spec(rules: list[dict]) -> DatasetSpec:
    return DatasetSpec.model_validate({
        "name": "t", "target": "c",
        "columns": [{"name": "n", "type": "numeric", "min": 0, "max": 10, "decimals": 1},
                    {"name": "k", "type": "categorical", "categories": ["1", "2", "3"]},
                    {"name": "c", "type": "categorical", "categories": ["a", "b"]}],
        "rules": rules})


VALUES = [3, 2.5, "2", "a", "z", [1, 2], ["a"], True, None]
OPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not_in"]


def test_every_condition_that_loads_evaluates_and_guides():
    # a condition is refused when the spec loads, or it evaluates on a table (rule adherence) and in the rule guide
    from synllm_mlops.constraints import RowGuide

    df = pd.DataFrame({"n": [1.0, 9.5, np.nan], "k": ["1", "3", np.nan], "c": ["a", "b", "a"]})
    loaded = refused = 0
    for col, op, value in itertools.product(["k", "c"], OPS, VALUES):
        rule = {"id": "r", "kind": "implication", "note": "n", "hard": True,
                "if": {"column": col, "op": op, "value": value}, "then": {"column": "n", "op": "<=", "value": 9}}
        try:
            spec = _spec([rule])
        except ValidationError as e:
            assert "rule 'r': condition" in str(e)
            refused += 1
            continue
        loaded += 1
        assert spec.rules[0].violations(df).dtype == bool
        # n = 9.5 breaks the consequence, so the guide forbids the condition on the later field
        written = ["9.5"] if col == "k" else ["9.5", "1"]
        constraint = RowGuide.for_spec(spec).constraint(written)
        for v in spec.column(col).categories:
            constraint.allows_value(v)
    assert loaded > 10 and refused > 10


def test_hard_rules_that_load_leave_every_column_a_value():
    from synllm_mlops.constraints import row_regex

    spec = _spec([{"id": "r", "kind": "range", "column": "n", "min": 9.95, "max": 20, "hard": True, "note": "n"}])
    row_regex(spec)  # 10.0 is left
    with pytest.raises(ValidationError, match="leaves column 'n'"):
        _spec([{"id": "r", "kind": "range", "column": "n", "min": 10.05, "max": 20, "hard": True, "note": "n"}])
    with pytest.raises(ValidationError, match="not categories of column 'c'"):
        _spec([{"id": "r", "kind": "allowed", "column": "c", "values": ["x"], "hard": True, "note": "n"}])
