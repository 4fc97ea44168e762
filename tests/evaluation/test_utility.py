import math

import numpy as np
import pytest
from evaluation_tables import SPEC, simulate

from synllm_mlops.evaluation import EvalData
from synllm_mlops.evaluation._utility import TRTRAUC, TSTRAUC, macro_ovr_auc, utility_results
from synllm_mlops.spec import load_data, load_spec, split_data


@pytest.fixture(scope="module")
def cirrhosis():
    spec = load_spec("cirrhosis")
    split = split_data(load_data(spec), spec, seed=0)
    return spec, split.train, split.holdout


def test_trtr_on_cirrhosis_is_well_above_chance(cirrhosis):
    spec, train, holdout = cirrhosis
    out = TRTRAUC().compute_breakdown(train, holdout, train.iloc[:50], spec, seed=0)
    assert out["score"] > 0.7
    assert set(out["models"]) == {"gradient_boosting", "logistic_regression"}
    assert out["average"].startswith("macro one-vs-rest") and out["classes"] == ["C", "CL", "D"]


def test_tstr_on_a_copy_of_train_equals_trtr(cirrhosis):
    spec, train, holdout = cirrhosis
    res = utility_results(EvalData(train, holdout, train.copy(), spec, seed=0))
    assert res["tstr"]["score"] == pytest.approx(res["trtr"]["score"])


def test_single_class_synthetic_target_gives_nan_and_reason_not_a_crash():
    train, hold = simulate(300, 1), simulate(200, 2)
    syn = train[train["t"] == "1"].head(40)
    out = TSTRAUC().compute_breakdown(train, hold, syn, SPEC)
    assert math.isnan(out["score"]) and "1 class(es) ['1']" in out["skipped"]
    assert TRTRAUC().compute(train, hold, syn, SPEC) > 0.7  # the real side still runs


def test_missing_target_rows_are_dropped_and_noise_scores_near_chance():
    train, hold = simulate(400, 1), simulate(400, 2)
    noise = simulate(400, 3)
    noise["t"] = np.random.default_rng(0).permutation(noise["t"].to_numpy())  # labels unrelated to features
    noise.loc[:9, "t"] = np.nan
    out = TSTRAUC().compute_breakdown(train, hold, noise, SPEC)
    assert out["n_train"] == 390
    assert abs(out["score"] - 0.5) < 0.1


def test_holdout_class_missing_from_training_scores_half():
    y = np.array(["a", "b", "c", "a"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.7, 0.3]])
    per = macro_ovr_auc(y, proba, ["a", "b"], ["a", "b", "c"])
    assert per["c"] == 0.5 and per["a"] == 1.0


def test_numeric_target_is_skipped_with_a_reason():
    spec = SPEC.model_copy(update={"target": "x"})
    train = simulate(100, 1)
    assert "numeric" in TSTRAUC().compute_breakdown(train, train, train, spec)["skipped"]


def test_a_categorical_column_all_missing_in_the_synthetic_table_still_scores(cirrhosis):
    # a small synthetic table can leave a nullable category column entirely NA (seen in a tuning trial);
    # the one-hot pipeline must keep its width instead of failing with a shape mismatch
    spec, train, holdout = cirrhosis
    syn = train.sample(40, random_state=0).copy()
    syn["Drug"] = None
    out = TSTRAUC().compute_breakdown(train, holdout, syn, spec, seed=0)
    assert 0.0 <= out["score"] <= 1.0 and "skipped" not in out


def test_a_numeric_column_all_missing_in_the_synthetic_table_still_scores(cirrhosis):
    # sklearn's gradient-boosting binning fails on a feature with no observed value (seen in a tuning trial)
    spec, train, holdout = cirrhosis
    syn = train.sample(40, random_state=1).copy()
    syn["Copper"] = np.nan
    out = TSTRAUC().compute_breakdown(train, holdout, syn, spec, seed=0)
    assert 0.0 <= out["score"] <= 1.0 and set(out["models"]) == {"gradient_boosting", "logistic_regression"}
