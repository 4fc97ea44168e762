import math

import numpy as np
import pandas as pd
import pytest
from evaluation_tables import SPEC

from synllm_mlops.evaluation._rule_adherence import RowsWithoutViolation, RuleAdherence


def frame(x, y, c):
    return pd.DataFrame({"x": np.asarray(x, float), "y": np.asarray(y, float), "c": c, "t": ["0"] * len(x)})


def test_rule_rates_on_synthetic_and_real_train():
    train = frame([50, 50, 50, 50], [1, 1, 1, 9.5], ["a", "a", "a", "a"])  # y_max broken once in real data
    # synthetic: y_max broken in rows 0, 1; c_then_x broken in row 1; missing y never violates
    syn = frame([50, 10, 50, 50], [9.5, 9.5, np.nan, 1], ["a", "c", "c", np.nan])
    out = RuleAdherence().compute_breakdown(train, train, syn, SPEC)
    assert out["rules"]["y_max"]["synthetic_rate"] == 0.5 and out["rules"]["y_max"]["train_rate"] == 0.25
    assert out["rules"]["c_then_x"]["synthetic_rate"] == 0.25 and out["rules"]["c_then_x"]["train_rate"] == 0.0
    assert out["score"] == pytest.approx(1 - (0.5 + 0.25) / 2)
    assert out["rules"]["c_then_x"]["rule"] == "if c == c then x >= 40" and out["rules"]["y_max"]["note"]
    assert RowsWithoutViolation().compute(train, train, syn, SPEC) == 0.5


def test_spec_without_rules_is_skipped():
    spec = SPEC.model_copy(update={"rules": []})
    t = frame([1], [1], ["a"])
    assert math.isnan(RuleAdherence().compute(t, t, t, spec))
