"""Bins: quantile cuts at the column's precision, NA as its own bin, text and table codes agree."""

import math

import numpy as np
import pandas as pd
import pytest

from synllm_mlops.release import Bins as ColumnBins
from synllm_mlops.spec import ColumnSpec

NUM = ColumnSpec(name="x", type="numeric", min=0, max=10, decimals=1, nullable=True)
CAT = ColumnSpec(name="g", type="categorical", categories=["a", "b", "c"])


def test_quantile_edges_sit_on_the_precision_and_every_bin_holds_a_value():
    values = pd.Series(np.linspace(0, 10, 101))
    bins = ColumnBins.from_values(NUM, values, 4)
    assert bins.cuts == (2.5, 5.0, 7.5)
    assert bins.n_bins == 5 and bins.missing_bin == 4  # 4 value bins + NA (nullable)
    for k in range(bins.n_values):
        lo, hi = bins.bounds(k)
        assert lo < hi and bins.code_text(f"{lo:.1f}") == k


def test_ties_collapse_to_distinct_edges():
    bins = ColumnBins.from_values(NUM, pd.Series([1.0] * 50 + [9.0]), 10)
    assert list(bins.cuts) == sorted(set(bins.cuts)) and len(bins.cuts) <= 2


def test_codes_of_a_table_agree_with_codes_of_written_text():
    bins = ColumnBins.from_values(NUM, pd.Series(np.arange(0, 10, 0.1)), 5)
    values = pd.Series([0.0, 1.9, 2.0, 5.55, 10.0, np.nan])
    texts = ["0.0", "1.9", "2.0", "5.5", "10.0", "NA"]
    assert list(bins.codes(values))[:4] == [bins.code_text(t) for t in texts[:4]]
    assert bins.codes(values)[-1] == bins.code_text("NA") == bins.missing_bin
    assert bins.code_text("abc") == -1


def test_categorical_bins_are_the_categories_and_unknown_values_fit_none():
    bins = ColumnBins.from_values(CAT, pd.Series(["a", "c", "c"]), 10)
    assert bins.n_bins == 3 and bins.missing_bin is None
    assert list(bins.codes(pd.Series(["c", "a", "zz"]))) == [2, 0, -1]


def test_spec_bins_are_data_independent_and_log_spaced_over_decades():
    wide = ColumnSpec(name="alk", type="numeric", min=10, max=10000, decimals=0)
    bins = ColumnBins.from_spec(wide, 3)
    assert bins.cuts == (100.0, 1000.0)
    narrow = ColumnSpec(name="alb", type="numeric", min=1, max=4, decimals=1)
    assert ColumnBins.from_spec(narrow, 3).cuts == (2.0, 3.0)


def test_round_trip_and_coarse_groups():
    bins = ColumnBins.from_values(NUM, pd.Series(np.arange(0, 10, 0.1)), 10)
    assert ColumnBins.from_dict(bins.to_dict()) == bins
    groups = bins.coarse(5)
    assert list(groups) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5]  # pairs of deciles, NA kept apart
    assert bins.bounds(bins.n_values - 1)[1] == bins.hi == 10 and bins.closed(bins.n_values - 1) and not bins.closed(0)


def test_bounded_end_bins_round_outward_and_keep_cuts_and_a_writable_value():
    bins = ColumnBins.from_values(NUM, pd.Series(np.arange(0, 10, 0.1)), 4)  # cuts 2.5, 5.0, 7.5 over spec [0, 10]
    b = bins.bounded(0.33, 9.01)
    assert (b.lo, b.hi, b.cuts) == (0.3, 9.1, bins.cuts)  # outward to the precision, cuts (and so counts) kept
    assert b.bounds(0) == (0.3, 2.5) and b.bounds(3) == (7.5, 9.1) and b.label(3) == "[7.5, 9.1]"
    assert b.codes(pd.Series([0.1, 9.9])).tolist() == [0, 3]  # values beyond the ends still count in the end bins
    inside = bins.bounded(4.0, 6.0)  # a quantile beyond the first/last cut: each end bin keeps one value
    assert (inside.lo, inside.hi) == (2.4, 7.5)
    assert bins.bounded(-5, 50) == bins  # never beyond the spec range
    assert ColumnBins.from_dict(b.to_dict()) == b


@pytest.mark.parametrize("n", [1, 2, 7])
def test_any_bin_count_is_valid(n):
    bins = ColumnBins.from_values(NUM, pd.Series(np.random.default_rng(0).uniform(0, 10, 200)), n)
    assert bins.n_values == n
