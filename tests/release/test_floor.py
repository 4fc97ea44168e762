"""The k-floor (MIN_CELL = 5): known answers on a tiny table, exact and noisy paths."""

import numpy as np
import pandas as pd

from synllm_mlops.privacy import PrivacyBudget
from synllm_mlops.release import (
    MIN_CELL,
    CalibrationTargets,
    describe_statistics,
    floor_counts,
    make_release,
    public_count,
)
from synllm_mlops.spec import DatasetSpec

SPEC = DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
    {"name": "y", "type": "categorical", "categories": ["0", "1"]},
    {"name": "g", "type": "categorical", "categories": ["a", "b", "c"], "nullable": True}]})


def _table() -> pd.DataFrame:
    # g: 30 a, 3 b (a small cell), 0 c, 2 missing; y: 33 "0", 2 "1" (a small target group)
    g = ["a"] * 30 + ["b"] * 3 + [None] * 2
    y = ["0"] * 33 + ["1"] * 2
    return pd.DataFrame({"y": y, "g": g})


def test_floor_counts_and_public_count():
    assert floor_counts(np.array([0, 1, 4, 5, 9, -2])).tolist() == [0, 0, 0, 5, 9, 0]
    assert floor_counts(np.array([1, 4]), min_cell=0).tolist() == [1, 4]  # 0: no floor
    assert MIN_CELL == 5 and public_count(35) == 40 and public_count(334) == 330


def test_exact_targets_zero_every_small_cell_before_shares_and_round_n():
    t = CalibrationTargets.from_table(_table(), SPEC, shrinkage=0, min_cell=MIN_CELL)
    g = t.marginals[1]  # bins a, b, c, NA
    assert g.tolist() == [1.0, 0.0, 0.0, 0.0] and t.n == 40.0 and t.meta["min_cell"] == MIN_CELL
    assert np.allclose(t.marginals[0], [1.0, 0.0])  # y=1 held by 2 patients
    assert (t.pairs[(0, 1)][1] == 0).all()  # the pair table's y=1 row: 2 patients
    unfloored = CalibrationTargets.from_table(_table(), SPEC, shrinkage=0)
    assert unfloored.n == 35.0 and unfloored.marginals[1][1] == 3 / 35  # the old release: exact


def test_exact_prompt_statistics_say_only_that_a_cell_is_small():
    text = describe_statistics(_table(), SPEC)
    assert "(40 patients)" in text  # 35, rounded
    assert "- g: a 100%, b fewer than 5 patients, c 0%; missing (NA) in fewer than 5 patients" in text
    assert "- y=1 (fewer than 5 patients)" in text and "6%" not in text


def test_noisy_counts_are_floored_too():
    r = make_release(SPEC, _table(), statistics=None, dp_epsilon=200.0)  # nearly no noise: the floor shows
    assert r.targets.marginals[1].tolist() == [1.0, 0.0, 0.0, 0.0] and r.targets.meta["min_cell"] == MIN_CELL
    budget = PrivacyBudget(200.0)
    text = describe_statistics(_table(), SPEC, dp_epsilon=200.0, budget=budget, include=("frequencies", "missing"))
    assert "b fewer than 5 patients" in text and "missing (NA) in fewer than 5 patients" in text
