"""Known-answer tables for the anonymeter-style attacks (singling out, linkability, inference)."""

import math

import numpy as np
import pandas as pd
import pytest
from evaluation_tables import SPEC

from synllm_mlops.evaluation._inference import InferenceRisk, correct_guesses
from synllm_mlops.evaluation._linkability import LinkabilityRisk, count_links
from synllm_mlops.evaluation._risk import SuccessRate, residual_risk
from synllm_mlops.evaluation._singling_out import SinglingOutRisk


def table(x, y, c="a", t="0") -> pd.DataFrame:
    n = len(x)
    return pd.DataFrame({"x": np.asarray(x, float), "y": np.asarray(y, float),
                         "c": [c] * n if isinstance(c, str) else c, "t": [t] * n if isinstance(t, str) else t})


def test_wilson_rate_and_residual_risk_match_anonymeter_formulas():
    r = SuccessRate.wilson(0, 10)
    z2 = 1.959963984540054 ** 2
    assert r.value == pytest.approx(0.5 * z2 / (10 + z2))
    assert r.error == pytest.approx(1.959963984540054 / (10 + z2) * math.sqrt(0.25 * z2))
    same = SuccessRate.wilson(5, 10)
    assert residual_risk(same, same).value == 0.0
    assert math.isnan(residual_risk(same, SuccessRate(1.0, 0.0)).value)


def test_singling_out_known_answer():
    train = table(np.arange(1, 11), [5] * 10)
    control = table([50] * 10, [5] * 10)
    # predicates from a copy of train: x == 1..10, x <= 1, x >= 10 (12 single out a train row, none a control
    # row) and y <= 5, y >= 5 (match all ten rows: no singling out)
    out = SinglingOutRisk().compute_breakdown(train, control, train.copy(), SPEC)
    assert out["n_attacks"] == 14 and out["n_success"] == 12 and out["n_control_success"] == 0
    assert out["score"] > 0.7 and out["ci"][0] > 0.4


def test_singling_out_is_zero_when_train_and_control_are_alike():
    train = table(np.arange(1, 11), [5] * 10)
    out = SinglingOutRisk().compute_breakdown(train, train.copy(), train.copy(), SPEC)
    assert out["n_success"] == out["n_control_success"] == 12 and out["residual_risk"] == 0.0 and out["score"] == 0.0


def test_linkability_known_answer():
    i = np.arange(20)
    train = table(4 * i, 0.4 * i)
    control = table(4 * i + 1, 0.4 * (19 - i) + 0.01)  # x points at synthetic row i, y at row 19 - i: never linked
    out = LinkabilityRisk(aux_cols=(["x"], ["y"])).compute_breakdown(train, control, train.copy(), SPEC)
    assert out["n_success"] == 20 and out["n_control_success"] == 0
    assert out["score"] > 0.8


def test_count_links_with_several_neighbours():
    a = np.array([[0, 1], [2, 3], [4, 5]])
    b = np.array([[1, 9], [7, 8], [5, 4]])
    assert count_links(a, b) == 2


def test_inference_known_answer():
    i = np.arange(30)
    t = np.where(i % 2 == 0, "0", "1").astype(object)
    train = table(3 * i, 0.3 * i, t=t)
    control = table(3 * i, 0.3 * i, t=np.where(t == "0", "1", "0").astype(object))  # same people, other secret
    out = InferenceRisk(secrets=["t"]).compute_breakdown(train, control, train.copy(), SPEC)
    assert out["secret"] == "t"
    assert out["n_success"] == 30 and out["n_control_success"] == 0
    assert out["score"] > 0.85


def test_numeric_guesses_use_relative_tolerance_and_missing_equals_missing():
    guess = pd.Series([100.0, 100.0, np.nan, np.nan])
    truth = pd.Series([104.0, 106.0, np.nan, 1.0])
    assert correct_guesses(guess, truth, numeric=True).tolist() == [True, False, True, False]
    cats = correct_guesses(pd.Series(["a", None], dtype=object), pd.Series(["a", None], dtype=object), numeric=False)
    assert cats.tolist() == [True, True]
