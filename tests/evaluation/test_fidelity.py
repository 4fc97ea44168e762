import math

import numpy as np
import pandas as pd
import pytest
from evaluation_tables import SPEC, simulate

from synllm_mlops.evaluation._column_pair_trends import ColumnPairTrends
from synllm_mlops.evaluation._column_shapes import ColumnShapes, ks_with_missing, tv_with_missing
from synllm_mlops.evaluation._detection import DetectionAUC
from synllm_mlops.evaluation._holdout_pairs import HoldoutPairTables
from synllm_mlops.evaluation._marginals import (CategoryCoverage, JensenShannonDistance, RangeCoverage,
                                                RelativeMeanError, WassersteinDistance)
from synllm_mlops.evaluation._three_way import ThreeWayMarginals

TRAIN, HOLD = simulate(600, 1), simulate(300, 2)
BEST = {ColumnShapes: 1.0, ColumnPairTrends: 1.0, RelativeMeanError: 0.0, WassersteinDistance: 0.0,
        JensenShannonDistance: 0.0, RangeCoverage: 1.0, CategoryCoverage: 1.0}


def disjoint(df: pd.DataFrame) -> pd.DataFrame:
    """Numbers in another part of the range, other categories, no missing values."""
    out = df.copy()
    out["x"] = 99.0
    out["y"] = 9.5
    out["c"] = "c"
    out["t"] = np.where(df["t"] == "0", "1", "0")
    return out


@pytest.mark.parametrize("cls", list(BEST))
def test_identical_tables_score_best(cls):
    assert cls().compute(TRAIN, HOLD, TRAIN.copy(), SPEC) == pytest.approx(BEST[cls], abs=1e-12)


def test_disjoint_tables_score_worst_on_shapes_coverage_and_distance():
    syn = disjoint(TRAIN.dropna().iloc[:50])
    shapes = ColumnShapes().compute_breakdown(TRAIN, HOLD, syn, SPEC)
    assert shapes["columns"]["x"]["score"] == pytest.approx(0.0)
    assert shapes["columns"]["c"]["score"] < 0.5
    cover = CategoryCoverage().compute_breakdown(TRAIN, HOLD, syn, SPEC)
    assert cover["columns"]["c"] == pytest.approx(1 / 3)  # only "c" of a, b, c
    assert cover["columns"]["t"] == 1.0
    assert RangeCoverage().compute(TRAIN, HOLD, syn, SPEC) < 0.1
    assert WassersteinDistance().compute(TRAIN, HOLD, syn, SPEC) > 0.3
    js = JensenShannonDistance().compute_breakdown(TRAIN, HOLD, syn, SPEC)["columns"]
    assert js["x"] > 0.95 and js["y"] > 0.9  # all mass in one bin the real data barely touches


def test_ks_and_tv_treat_missing_as_a_category():
    real = pd.Series([1.0, 2.0, np.nan, np.nan])
    assert ks_with_missing(real, pd.Series([1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.5)  # the missing-rate gap
    assert ks_with_missing(real, real) == 0.0
    cats = pd.Series(["a", None, "b", "b"], dtype=object)
    assert tv_with_missing(cats, pd.Series(["a", "a", "b", "b"], dtype=object), ["a", "b"]) == pytest.approx(0.25)


def test_wasserstein_uses_the_spec_range_not_each_sides_own_scale():
    # synthetic shifted by 10 units of a 0..100 range: 0.1 on the common scale (per-side scaling would give 0)
    syn = TRAIN.copy()
    syn["x"] = TRAIN["x"] + 10
    out = WassersteinDistance().compute_breakdown(TRAIN, HOLD, syn, SPEC)
    assert out["columns"]["x"] == pytest.approx(0.1, abs=1e-9)


def test_pair_trends_sees_a_broken_correlation_that_marginals_miss():
    syn = TRAIN.copy()
    syn["y"] = TRAIN["y"].sample(frac=1.0, random_state=0).to_numpy()  # same marginal, no relation to x
    assert ColumnShapes().compute(TRAIN, HOLD, syn, SPEC) == pytest.approx(1.0)
    pairs = ColumnPairTrends().compute_breakdown(TRAIN, HOLD, syn, SPEC)["pairs"]
    assert pairs["x|y"]["real"] > 0.7 and abs(pairs["x|y"]["synthetic"]) < 0.15
    assert pairs["x|y"]["score"] < 0.7


def test_detection_auc_near_half_for_same_distribution_and_near_one_for_shifted():
    fresh = simulate(600, 3)
    assert abs(DetectionAUC().compute(TRAIN, HOLD, fresh, SPEC) - 0.5) < 0.1
    shifted = fresh.copy()
    shifted["x"] = np.clip(fresh["x"] + 25, 0, 100)
    assert DetectionAUC().compute(TRAIN, HOLD, shifted, SPEC) > 0.9


def test_detection_skips_tiny_tables_with_a_reason():
    out = DetectionAUC().compute_breakdown(TRAIN, HOLD, TRAIN.iloc[:3], SPEC)
    assert math.isnan(out["score"]) and "at least 10" in out["skipped"]


def _xor_table(parity: int) -> pd.DataFrame:
    """Every (x, c) combination equally often; t = parity of (x high, c == a): pairwise uniform, 3-way determined."""
    x = np.repeat([10.0, 90.0], 40)
    c = np.tile(np.repeat(["a", "b"], 20), 2).astype(object)
    t = (((x > 50) ^ (c == "a")).astype(int) ^ parity).astype(str).astype(object)
    return pd.DataFrame({"x": x, "y": 5.0, "c": c, "t": t})


def test_three_way_sees_structure_that_every_pair_table_misses():
    # README "Fidelity": fidelity/three_way and fidelity/holdout_pair_tables, against the holdout on holdout terciles
    hold, flipped = _xor_table(0), _xor_table(1)
    assert HoldoutPairTables().compute(TRAIN, hold, flipped, SPEC) == pytest.approx(1.0)
    out = ThreeWayMarginals().compute_breakdown(TRAIN, hold, flipped, SPEC)
    # 4 triples of (x, y, c, t); only (x, c, t) holds the parity, and there the supports are disjoint
    assert out["n_triples"] == 4 and out["score"] == pytest.approx(0.75)
    assert ThreeWayMarginals().compute(TRAIN, hold, hold.copy(), SPEC) == pytest.approx(1.0)


def test_unoptimised_measures_compare_with_the_holdout_and_report_train_as_reference():
    fresh, broken = simulate(600, 3), simulate(600, 3)
    rng = np.random.default_rng(0)
    for col in broken.columns:  # independent columns: every marginal kept, every relation lost
        broken[col] = broken[col].to_numpy()[rng.permutation(len(broken))]
    for metric in (HoldoutPairTables(), ThreeWayMarginals()):
        good, bad = (metric.compute_breakdown(TRAIN, HOLD, t, SPEC, seed=0) for t in (fresh, broken))
        assert bad["score"] + 0.03 < good["score"] <= 1.0
        assert good["reference"] == pytest.approx(metric.compute(TRAIN, HOLD, TRAIN, SPEC, seed=0))


def test_three_way_samples_triples_when_there_are_many():
    out = ThreeWayMarginals(max_triples=2).compute_breakdown(TRAIN, HOLD, simulate(100, 4), SPEC, seed=0)
    assert out["n_triples"] == 2 and out["n_triples_all"] == 4
    assert "holdout rows" in ThreeWayMarginals().compute_breakdown(TRAIN, HOLD.iloc[:5], TRAIN, SPEC)["skipped"]
