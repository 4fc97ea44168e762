"""The keyed per-row split: one patient added to or removed from the CSV moves at most that one row."""

import numpy as np
import pandas as pd
import pytest

from synllm_mlops.errors import DataError
from synllm_mlops.spec import key_frame, row_sides, split_data, split_key


def _keys(df, spec):
    return sorted(key_frame(df, spec).itertuples(index=False, name=None))


def test_removing_or_adding_one_patient_moves_only_that_row(cirrhosis):
    spec, real, _ = cirrhosis
    base = split_data(real, spec, seed=0)
    for i in range(0, len(real), 7):  # 60 patients removed, one at a time
        other = split_data(real.drop(real.index[i]).reset_index(drop=True), spec, seed=0)
        removed = _keys(real.iloc[[i]], spec)[0]
        in_train = removed in _keys(base.train, spec)
        train, holdout = _keys(base.train, spec), _keys(base.holdout, spec)
        (train if in_train else holdout).remove(removed)
        assert (_keys(other.train, spec), _keys(other.holdout, spec)) == (train, holdout), f"removing patient {i}"
    added = split_data(pd.concat([real, real.iloc[[5]]], ignore_index=True), spec, seed=0)
    assert len(added.train) + len(added.holdout) == len(real) + 1
    assert {len(added.train) - len(base.train), len(added.holdout) - len(base.holdout)} == {0, 1}


def test_a_rows_side_depends_on_that_row_alone(cirrhosis):
    spec, real, _ = cirrhosis
    sides = row_sides(real, spec, seed=0)
    shuffled = real.sample(frac=1.0, random_state=1)
    np.testing.assert_array_equal(row_sides(shuffled, spec, seed=0), sides[shuffled.index])
    np.testing.assert_array_equal(row_sides(real.iloc[:10], spec, seed=0), sides[:10])  # no other row matters


def test_the_split_key_separates_seeds_and_fractions():
    assert split_key(0, 0.2) == split_key(0, 0.2)
    assert len({split_key(0, 0.2), split_key(1, 0.2), split_key(0, 0.5)}) == 3


def test_a_split_of_the_holdout_is_not_degenerate(cirrhosis):
    """The reference halves split the holdout at 0.5 with the same seed: a key without the fraction in it
    would put every holdout row on one side (all its hashes are below 0.2)."""
    spec, _, split = cirrhosis
    halves = split_data(split.holdout, spec, seed=0, holdout_fraction=0.5)
    assert 0.3 < len(halves.holdout) / len(split.holdout) < 0.7


def test_a_split_that_leaves_a_side_empty_is_an_error(cirrhosis):
    spec, real, _ = cirrhosis
    small = real.iloc[:10]
    empty = next(s for s in range(200) if not row_sides(small, spec, seed=s, holdout_fraction=0.1).any())
    with pytest.raises(DataError, match=r"left holdout empty .*use more rows, another seed"):
        split_data(small, spec, seed=empty, holdout_fraction=0.1)
