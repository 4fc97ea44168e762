"""The fidelity/in_bin_* diagnostics on hand-built tables with known answers."""

import numpy as np
import pandas as pd
import pytest
from evaluation_tables import SPEC, simulate

from synllm_mlops.evaluation import EvalData, default_metrics
from synllm_mlops.evaluation._column_detection import ColumnDetectionAUC, column_detection_auc
from synllm_mlops.evaluation._in_bin import binning, weighted_ks
from synllm_mlops.evaluation._in_bin_edge_share import InBinEdgeShare
from synllm_mlops.evaluation._in_bin_ks import InBinKS
from synllm_mlops.evaluation._in_bin_limit_share import InBinLimitShare

TRAIN, HOLD = simulate(600, 1), simulate(300, 2)


def on_lower_edges(df: pd.DataFrame) -> pd.DataFrame:
    """Every x moved to the lower edge of its train-decile bin: the right bins, the wrong digits."""
    b = binning(EvalData(TRAIN, HOLD, df, SPEC), SPEC.column("x"))
    out = df.copy()
    k, _ = b.place(df["x"].to_numpy(float))
    out["x"] = b.edges[k]
    return out


def test_identical_tables_are_clean():
    syn = TRAIN.copy()
    assert InBinKS().compute(TRAIN, HOLD, syn, SPEC) == pytest.approx(0.0)
    assert InBinLimitShare().compute(TRAIN, HOLD, syn, SPEC) == 0.0
    assert InBinEdgeShare().compute(TRAIN, HOLD, syn, SPEC) == pytest.approx(0.0)
    assert ColumnDetectionAUC().compute(TRAIN, HOLD, syn, SPEC) < 0.6


def test_values_on_bin_edges_are_found_by_ks_edge_share_and_the_column_detector():
    syn = on_lower_edges(TRAIN)
    ks = InBinKS().compute_breakdown(TRAIN, HOLD, syn, SPEC)
    assert ks["columns"]["x"]["score"] > 0.5 and ks["columns"]["y"]["score"] == pytest.approx(0.0)
    edge = InBinEdgeShare().compute_breakdown(TRAIN, HOLD, syn, SPEC)["columns"]["x"]
    assert edge["synthetic_share"] > 0.85 and edge["train_share"] < 0.1  # the first bin's lower end is train's min, no cut
    auc = ColumnDetectionAUC().compute_breakdown(TRAIN, HOLD, syn, SPEC)
    assert auc["worst"] == "x" and auc["columns"]["x"] > 0.7


def test_in_bin_ks_ignores_how_much_mass_each_bin_gets():
    # the upper half of x's bins twice as often, same shape inside each bin: no within-bin difference
    cut = binning(EvalData(TRAIN, HOLD, TRAIN, SPEC), SPEC.column("x")).cuts[4]
    syn = pd.concat([TRAIN, TRAIN[TRAIN["x"] >= cut]], ignore_index=True)
    assert InBinKS().compute_breakdown(TRAIN, HOLD, syn, SPEC)["columns"]["x"]["score"] == pytest.approx(0.0, abs=1e-9)


def test_limit_share_counts_only_limits_train_never_reaches():
    syn = TRAIN.copy()
    syn.loc[:59, "x"] = 100.0  # 10 % at the spec max, which train (normal around 50) never reaches
    train = TRAIN.copy()
    train.loc[0, "y"] = 0.0  # train reaches y's spec min: synthetic values there are not counted
    syn.loc[:29, "y"] = 0.0
    out = InBinLimitShare().compute_breakdown(train, HOLD, syn, SPEC)
    assert out["score"] == pytest.approx(0.1)
    assert out["columns"]["x"]["share_at_max"] == pytest.approx(0.1) and not out["columns"]["x"]["train_reaches_max"]
    assert out["columns"]["y"]["train_reaches_min"] and out["columns"]["y"]["score"] == 0.0


def test_weighted_ks_known_answers():
    a, b = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    assert weighted_ks(a, np.array([1.0, 1.0]), b, np.array([1.0, 3.0])) == pytest.approx(0.25)
    assert weighted_ks(a, np.ones(2), np.array([2.0]), np.ones(1)) == pytest.approx(1.0)


def test_column_detection_auc_separates_a_shifted_column_and_not_a_resample():
    rng = np.random.default_rng(0)
    real = pd.Series(rng.normal(0, 1, 2000))
    assert column_detection_auc(real, pd.Series(rng.normal(2, 1, 2000)), np.random.default_rng(1)) > 0.8
    assert abs(column_detection_auc(real, pd.Series(rng.normal(0, 1, 2000)), np.random.default_rng(1)) - 0.5) < 0.05


def test_the_in_bin_metrics_run_in_evaluate_and_stay_out_of_the_scores():
    from synllm_mlops.evaluation import COMPONENT_METRICS

    names = {m.name for m in default_metrics()["fidelity"]}
    assert {"fidelity/in_bin_ks", "fidelity/in_bin_limit_share", "fidelity/in_bin_edge_share",
            "fidelity/in_bin_column_auc"} <= names
    assert not any(v.startswith("fidelity/in_bin") for v in COMPONENT_METRICS.values())
