import numpy as np
import pandas as pd
import pytest

from synllm_mlops.release import spec_bins
from synllm_mlops.spec import ColumnSpec


def _num(lo, hi, **kw):
    return ColumnSpec(name="x", type="numeric", min=lo, max=hi, **kw)


@pytest.mark.parametrize("lo, hi, log", [(1, 5000, True), (0.1, 30, True), (200, 15000, True),
                                         (100, 2000, False), (0, 5000, False), (-5, 5, False), (9000, 30000, False)])
def test_log_bins_only_for_positive_ranges_over_one_and_a_half_decades(lo, hi, log):
    b = spec_bins(_num(lo, hi), n_bins=8)
    assert b.log is log
    assert b.edges[0] == lo and b.edges[-1] == hi and len(b.edges) == 9 and np.all(np.diff(b.edges) > 0)
    assert b.n_bins == 9 and b.missing_bin == 8 and b.label(8) == "NA"


def test_every_numeric_value_falls_in_exactly_one_bin_whatever_it_is():
    b = spec_bins(_num(0, 100), n_bins=4)
    values = pd.Series([0, 24.99, 25, 99.9, 100, -1e12, 1e12, np.nan, np.inf, -np.inf, "abc", None], dtype=object)
    assert b.total_codes(values).tolist() == [0, 0, 1, 3, 3, 0, 3, 4, 3, 0, 4, 4]


def test_categorical_bins_are_the_categories_then_missing():
    b = spec_bins(ColumnSpec(name="stage", type="categorical", categories=["1", "2", "3", "4"], nullable=True))
    assert [b.label(k) for k in range(b.n_bins)] == ["1", "2", "3", "4", "NA"] and not b.numeric
    # floats written as the spec writes them; unknown categories and missing go to the missing bin
    assert b.total_codes(pd.Series(["1", 4.0, "4", "7", None, np.nan], dtype=object)).tolist() == [0, 3, 3, 4, 4, 4]


def test_bins_read_only_the_spec():
    col = _num(1, 5000)
    assert spec_bins(col) == spec_bins(col)
    assert spec_bins(_num(3, 3)).edges == (3.0, 3.0)  # a one-point range has one value bin
