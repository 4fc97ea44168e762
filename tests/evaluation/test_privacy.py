import numpy as np
import pandas as pd
import pytest
from evaluation_tables import SPEC, simulate

from synllm_mlops.evaluation import EvalData, nearest
from synllm_mlops.evaluation._distance import (DCRQuantile, DCRShareCloserToTrain, ExactMatchExcess, ExactMatchRate,
                                               NNDRQuantile, nndr)
from synllm_mlops.evaluation._encoding import MixedEncoder
from synllm_mlops.evaluation._membership import MembershipInferenceAUC, MembershipTPRAtFPR, RareClassMembershipAUC
from synllm_mlops.evaluation._roc import auc, auc_ci, tpr_at_fpr

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


# -- membership-inference ensemble: known answers ------------------------------------------------------------


def _mia(syn: pd.DataFrame) -> tuple[dict, dict, dict]:
    data = EvalData(TRAIN, HOLD, syn, SPEC, seed=0)
    return (MembershipInferenceAUC().compute_prepared(data), MembershipTPRAtFPR(0.01).compute_prepared(data),
            MembershipTPRAtFPR(0.001).compute_prepared(data))


def test_a_table_of_train_copies_is_caught_at_low_fpr():
    a, t1, t01 = _mia(TRAIN.copy())
    assert a["score"] > 0.99 and a["worst_attack"] == "dcr"
    assert t1["score"] > 0.95 and t1["attacks"]["dcr"]["achieved_fpr"] <= 0.01
    assert set(a["attacks"]) == {"dcr", "density_ratio", "classifier"}
    assert a["attacks"]["density_ratio"]["auc"] > 0.6 and a["attacks"]["classifier"]["auc"] > 0.6  # weaker, not blind
    assert a["n_members"] == 600 and a["n_non_members"] == 600
    # 600 non-members cannot resolve 0.1 %: reported at FPR 0, and said so
    assert "cannot resolve" in t01["note"] and t01["attacks"]["dcr"]["false_positives"] == 0


def test_a_sample_of_unseen_rows_from_the_same_population_is_not_caught():
    a, t1, _ = _mia(simulate(600, 3))  # held out from train and from the evaluated non-members alike
    assert a["score"] == pytest.approx(0.5, abs=0.06)  # worst of three: may lean a little high
    assert t1["score"] < 0.04 and t1["chance_tpr"] == pytest.approx(0.01, abs=0.002)
    for attack in a["attacks"].values():
        lo, hi = attack["auc_ci"]
        assert lo < 0.5 < hi + 0.02


def test_half_copies_give_half_the_members_at_low_fpr():
    _, t1, _ = _mia(TRAIN.sample(300, random_state=0).reset_index(drop=True))
    assert t1["score"] == pytest.approx(0.5, abs=0.08)
    lo, hi = t1["attacks"]["dcr"]["tpr_ci"]
    assert lo < t1["score"] < hi


def test_membership_attacks_never_fit_on_the_records_they_score():
    # a synthetic table that copies the holdout: every evaluated non-member now sits in the synthetic table.
    # Had the reference density/classifier been fitted on those same rows, p_syn/p_ref would cancel for them;
    # cross-fitted, they look like members to every attack and each AUC falls well below 0.5
    out = MembershipInferenceAUC().compute_prepared(EvalData(TRAIN, HOLD, HOLD.copy(), SPEC, seed=0))
    aucs = {k: v["auc"] for k, v in out["attacks"].items()}
    assert aucs["dcr"] < 0.05 and aucs["density_ratio"] < 0.4 and aucs["classifier"] < 0.4, aucs


def test_rare_class_leakage_is_reported_on_the_rare_class():
    common, rare = TRAIN[TRAIN["t"] == "0"], TRAIN[TRAIN["t"] == "1"].head(25)
    train = pd.concat([common, rare], ignore_index=True)
    hold = pd.concat([HOLD[HOLD["t"] == "0"], HOLD[HOLD["t"] == "1"].head(25)], ignore_index=True)
    syn = pd.concat([simulate(600, 3).query("t == '0'"), rare], ignore_index=True)  # only rare patients copied
    out = RareClassMembershipAUC().compute_breakdown(train, hold, syn, SPEC, seed=0)
    assert out["rare_classes"] == ["1"] and out["score"] > 0.9
    assert MembershipInferenceAUC().compute_breakdown(train, hold, syn, SPEC, seed=0)["score"] < 0.7
    balanced = RareClassMembershipAUC().compute_breakdown(TRAIN, HOLD, TRAIN, SPEC, seed=0)
    assert np.isnan(balanced["score"]) and "no target class under 10%" in balanced["skipped"]


def test_membership_breakdowns_are_seeded_and_capped():
    data = EvalData(TRAIN, HOLD, simulate(100, 3), SPEC, seed=0)
    out = MembershipTPRAtFPR(0.01, cap=100).compute_prepared(data)
    assert out["n_members"] == 100 and out["n_non_members"] == 100
    again = MembershipTPRAtFPR(0.01, cap=100).compute_prepared(EvalData(TRAIN, HOLD, simulate(100, 3), SPEC, seed=0))
    assert out == again


def test_auc_and_tpr_at_fpr_known_answers():
    assert auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert auc(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.5  # ties count half
    lo, hi = auc_ci(0.5, 50, 50)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(2 * 1.96 * np.sqrt(1 / 12 * 101 / 2500), rel=0.05)
    non = np.arange(200.0)  # 200 non-members: 1 % FPR allows 2 false positives, the threshold is the 3rd highest
    out = tpr_at_fpr(np.array([197.5, 198.5, 199.5, 0.0]), non, 0.01)
    assert out["false_positives"] == 2 and out["tpr"] == 0.75 and out["achieved_fpr"] == 0.01
    small = tpr_at_fpr(np.array([99.5, 98.5]), np.arange(100.0), 0.001)
    assert small["false_positives"] == 0 and small["tpr"] == 0.5 and "cannot resolve" in small["note"]
    assert small["chance_tpr"] == pytest.approx(1 / 101)


def test_exact_match_normalises_rounding_whitespace_and_missing():
    train = pd.DataFrame({"x": [1.0, 2.0], "y": [np.nan, 3.0], "c": ["a", np.nan], "t": ["0", "1"]})
    syn = pd.DataFrame({"x": [1.004, 2.0, 2.0], "y": [np.nan, 3.0, 3.0], "c": [" a", np.nan, "b"], "t": ["0", "1", "1"]})
    out = ExactMatchRate().compute_breakdown(train, train, syn, SPEC)
    assert out["n_matches"] == 2 and out["score"] == pytest.approx(2 / 3)


def test_exact_match_excess_subtracts_the_rate_at_which_real_holdout_rows_equal_train_rows():
    def rows(xs):
        return pd.DataFrame({"x": xs, "y": [1.0] * len(xs), "c": ["a"] * len(xs), "t": ["0"] * len(xs)})
    train, hold = rows([1.0, 2.0, 3.0, 4.0]), rows([1.0, 5.0, 6.0, 7.0])  # one holdout row in four equals a train row
    out = ExactMatchExcess().compute_breakdown(train, hold, rows([1.0, 2.0, 8.0, 9.0]), SPEC)
    assert out["natural_rate"] == 0.25 and out["exact_match_rate"] == 0.5 and out["score"] == 0.25
    assert ExactMatchExcess().compute(train, hold, rows([1.0, 8.0, 9.0, 10.0]), SPEC) == 0.0  # chance level: no excess
    assert ExactMatchExcess().compute(train, hold.iloc[:0], rows([1.0, 8.0]), SPEC) == 0.5  # no holdout: the raw rate


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
