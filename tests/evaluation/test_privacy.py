import numpy as np
import pandas as pd
import pytest
from evaluation_tables import SPEC, simulate

from synllm_mlops.evaluation import EvalData, nearest
from synllm_mlops.evaluation._distance import (DCRQuantile, DCRShareCloserToTrain, ExactMatchRate, NNDRQuantile,
                                               nndr)
from synllm_mlops.evaluation._encoding import MixedEncoder
from synllm_mlops.evaluation._membership import MembershipInferenceAUC

TRAIN, HOLD = simulate(600, 1), simulate(600, 2)


def test_nearest_matches_brute_force_including_blocks_and_ties(monkeypatch):
    import synllm_mlops.evaluation._neighbours as nb

    monkeypatch.setattr(nb, "QUERY_BLOCK", 7)  # force many ragged blocks
    monkeypatch.setattr(nb, "REF_BLOCK", 11)
    rng = np.random.default_rng(0)
    q, r = rng.random((50, 5)), rng.random((40, 5))
    r[3] = q[0]
    d, i = nearest(q, r, k=2)
    full = np.sqrt(((q[:, None, :] - r[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :2], atol=1e-12)
    np.testing.assert_array_equal(i[:, 0], full.argmin(axis=1))
    assert d[0, 0] == 0.0 and i[0, 0] == 3  # exact copy: exactly zero, not float32 noise


def test_mixed_encoding_costs_one_per_mismatched_column():
    df = pd.DataFrame({"x": [0.0, 100.0, np.nan], "y": [1.0, 1.0, 1.0], "c": ["a", "b", "a"], "t": ["0", "0", "0"]},
                      dtype=object).astype({"x": float, "y": float})
    enc = MixedEncoder.fit(SPEC, [df])
    e = enc.transform(df).astype(float)
    assert np.sum((e[0] - e[1]) ** 2) == pytest.approx(2.0)  # full x range (1) + category mismatch (1)
    assert np.sum((e[0] - e[2]) ** 2) == pytest.approx(0.25 + 1.0)  # missing x: imputed 0.5 + indicator


def test_copies_of_train_are_flagged_by_exact_match_dcr_and_mia():
    syn = TRAIN.sample(300, random_state=0).reset_index(drop=True)
    data = EvalData(TRAIN, HOLD, syn, SPEC, seed=0)
    assert ExactMatchRate().compute_prepared(data)["score"] == 1.0
    dcr = DCRShareCloserToTrain().compute_prepared(data)
    assert dcr["score"] > 0.97
    assert DCRQuantile(0.5).compute_prepared(data)["score"] == 0.0
    assert NNDRQuantile(0.05).compute_prepared(data)["score"] == 0.0
    mia = MembershipInferenceAUC().compute_prepared(data)
    assert mia["score"] > 0.7  # half the members are copied (distance 0), no non-member is


def test_fresh_sample_from_the_same_population_shows_no_memorisation():
    syn = simulate(600, 3)
    data = EvalData(TRAIN, HOLD, syn, SPEC, seed=0)
    assert ExactMatchRate().compute_prepared(data)["score"] == 0.0
    assert DCRShareCloserToTrain().compute_prepared(data)["score"] == pytest.approx(0.5, abs=0.06)
    assert MembershipInferenceAUC().compute_prepared(data)["score"] == pytest.approx(0.5, abs=0.06)


def test_exact_match_normalises_rounding_whitespace_and_missing():
    train = pd.DataFrame({"x": [1.0, 2.0], "y": [np.nan, 3.0], "c": ["a", np.nan], "t": ["0", "1"]})
    syn = pd.DataFrame({"x": [1.004, 2.0, 2.0], "y": [np.nan, 3.0, 3.0], "c": [" a", np.nan, "b"], "t": ["0", "1", "1"]})
    out = ExactMatchRate().compute_breakdown(train, train, syn, SPEC)
    assert out["n_matches"] == 2 and out["score"] == pytest.approx(2 / 3)


def test_dcr_share_counts_ties_half():
    train = pd.DataFrame({"x": [10.0, 50.0], "y": [1.0] * 2, "c": ["a"] * 2, "t": ["0"] * 2})
    hold = pd.DataFrame({"x": [10.0, 90.0], "y": [1.0] * 2, "c": ["a"] * 2, "t": ["0"] * 2})
    syn = pd.DataFrame({"x": [10.0, 45.0], "y": [1.0] * 2, "c": ["a"] * 2, "t": ["0"] * 2})
    out = DCRShareCloserToTrain().compute_breakdown(train, hold, syn, SPEC, seed=0)
    # row 1: distance 0 to both (a tie, half); row 2: nearer train's 50 than holdout's 10 (one)
    assert out["share_ties"] == 0.5 and out["share_strictly_closer"] == 0.5 and out["score"] == 0.75


def test_dcr_references_have_equal_size():
    out = DCRShareCloserToTrain().compute_breakdown(TRAIN, HOLD.iloc[:50], TRAIN.iloc[:5], SPEC, seed=0)
    assert out["n_reference_each"] == 50


def test_nndr_of_a_copy_of_a_duplicated_record_is_zero():
    assert nndr(np.array([[0.0, 0.0], [1.0, 2.0]])).tolist() == [0.0, 0.5]


def test_reference_sets_are_seeded():
    a = EvalData(TRAIN, HOLD.iloc[:100], TRAIN, SPEC, seed=1).reference_index("train")
    b = EvalData(TRAIN, HOLD.iloc[:100], TRAIN, SPEC, seed=1).reference_index("train")
    c = EvalData(TRAIN, HOLD.iloc[:100], TRAIN, SPEC, seed=2).reference_index("train")
    assert len(a) == 100 and (a == b).all() and not (a == c).all()
