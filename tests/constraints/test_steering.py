"""Steering in the decoder: a drawn bin becomes a token-level constraint, intersected with hard rules."""

import random

import numpy as np
import pandas as pd
import pytest
from test_rules import _spec, _values, _walk

from synllm_mlops.constraints import (FieldConstraint, FieldSteer, RowGuide, RowTracker, Steering, admissible,
                                     bin_constraint, within_release)
from synllm_mlops.release import Bins as ColumnBins, CalibrationTargets
from synllm_mlops.spec import ColumnSpec

COL = ColumnSpec(name="a", type="numeric", min=0, max=50, decimals=1, nullable=True)


def _bins() -> ColumnBins:
    return ColumnBins.from_values(COL, pd.Series(np.linspace(0, 50, 200)), 4)


@pytest.mark.parametrize("k", range(4))
def test_walk_inside_a_numeric_bin_always_ends_in_that_bin(k):
    bins, rng = _bins(), random.Random(k)
    values = _values(COL) + ["NA"]
    c = bin_constraint(bins, COL, k, None)
    for _ in range(30):
        v = _walk(c, values, rng)
        assert bins.code_text(v) == k, (k, v)


def test_missing_bin_writes_na_and_value_bins_never_do():
    bins, rng = _bins(), random.Random(0)
    values = _values(COL) + ["NA"]
    assert {_walk(bin_constraint(bins, COL, bins.missing_bin, None), values, rng) for _ in range(5)} == {"NA"}
    c = bin_constraint(bins, COL, 0, None)
    assert not c.allows_value("NA") and not c.allows_prefix("N")


def test_categorical_bin_with_a_category_that_starts_like_na():
    col = ColumnSpec(name="g", type="categorical", categories=["N", "Y"], nullable=True)
    bins = ColumnBins.from_values(col, pd.Series(["N", "Y", None]), 10)
    c = bin_constraint(bins, col, 0, None)
    assert c.allows_prefix("N") and c.allows_value("N") and not c.allows_value("NA") and not c.allows_value("Y")
    na = bin_constraint(bins, col, bins.missing_bin, None)
    assert na.allows_prefix("N") and na.allows_value("NA") and not na.allows_value("N")


def test_a_bin_intersects_the_rule_constraint_and_excluded_bins_are_not_admissible():
    bins = _bins()  # edges 12.5 / 25.0 / 37.5
    rule = FieldConstraint(COL)
    rule.add(">=", 30.0)
    ok = admissible(bins, COL, rule)
    assert list(ok) == [False, False, True, True, True]  # the NA bin is never excluded by a numeric bound
    c = bin_constraint(bins, COL, 2, rule)  # [25, 37.5) and >= 30
    assert c.allows_value("30.0") and not c.allows_value("29.9") and not c.allows_value("37.5")


def test_bounded_end_bins_reach_the_decoder_and_so_does_the_released_range_of_an_undrawn_field():
    bins = _bins().bounded(3.0, 45.0)  # the release's 1st / 99th percentiles: the spec's 0 and 50 are no patient's
    first, last = bin_constraint(bins, COL, 0, None), bin_constraint(bins, COL, 3, None)
    assert first.allows_value("3.0") and not first.allows_value("2.9") and not first.allows_value("0.0")
    assert last.allows_value("45.0") and not last.allows_value("45.1") and not last.allows_value("50.0")
    rule = FieldConstraint(COL)
    rule.add("<=", 40.0)
    assert list(admissible(bins, COL, rule)) == [True, True, True, True, True]
    free = within_release(bins, COL, rule)  # a field the steering left to the model: released range and rule
    assert free.allows_value("NA") and free.allows_value("3.0") and not free.allows_value("2.9")
    assert not free.allows_value("40.1") and within_release(_bins(), COL, rule) is rule  # spec-wide bins: unchanged


def test_the_tracker_draws_at_field_start_and_counts_each_finished_field():
    spec = _spec([])
    frame = pd.DataFrame({"y": ["0", "1"] * 50, "a": np.linspace(0, 50, 100), "g": ["low", "high"] * 50,
                          "b": np.linspace(0, 50, 100)})
    targets = CalibrationTargets.from_table(frame, spec, n_bins=4)
    steering = Steering(targets, 1.0)
    guide = RowGuide.for_spec(spec, steering)
    assert guide is not None  # no hard rule, but steering alone makes a guide
    steer = FieldSteer(steering, spec.columns, np.random.default_rng(0))
    tracker = RowTracker(steer)
    first = tracker.constraint(guide)
    assert first is not None and first.allowed in ({"0"}, {"1"})
    tracker.feed(sorted(first.allowed)[0] + ",12.0,")
    assert steering.counts[0].sum() == 1 and steering.counts[1].sum() == 1
    assert steer.forced == 1 and tracker.constraint(guide) is not None and steer.forced == 2


def test_hf_rule_processor_builds_a_steer_per_batch():
    from synllm_mlops.constraints import RuleLogitsProcessor

    spec = _spec([])
    frame = pd.DataFrame({"y": ["0", "1"] * 5, "a": np.linspace(0, 50, 10), "g": ["low"] * 10, "b": np.zeros(10)})
    guide = RowGuide.for_spec(spec, Steering(CalibrationTargets.from_table(frame, spec), 1.0))
    proc = RuleLogitsProcessor(guide, lambda t: str(t), prompt_len=3, batch_size=2, seed=5)
    assert proc.steer is not None and all(r.steer is proc.steer for r in proc.rows)
