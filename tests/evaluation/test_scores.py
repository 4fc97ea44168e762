import math

import pytest

from synllm_mlops.evaluation._scores import one_sided_auc, summary_scores

PERFECT = {"fidelity/column_shapes": 1.0, "fidelity/column_pair_trends": 1.0, "fidelity/three_way": 1.0,
           "fidelity/detection_auc": 0.5, "clinical/rule_adherence": 1.0, "utility/tstr_auc": 0.9, "utility/trtr_auc": 0.9,
           "privacy/exact_match_rate": 0.0, "privacy/exact_match_excess": 0.0,
           "privacy/dcr_share_closer_to_train": 0.5, "privacy/mia_auc": 0.45,
           "privacy/mia_tpr_at_1pct_fpr": 0.005,
           "privacy/singling_out_risk": 0.0, "privacy/linkability_risk": 0.0, "privacy/inference_risk": 0.0}


def test_ideal_metrics_score_one():
    s = summary_scores(PERFECT)
    assert s["score/quality"]["score"] == 1.0 and s["score/privacy"]["score"] == 1.0 and s["score/harmonic"]["score"] == 1.0


def test_fixed_formulas_known_answer():
    m = dict(PERFECT, **{"fidelity/detection_auc": 0.75, "utility/tstr_auc": 0.7, "privacy/mia_auc": 0.6,
                         "fidelity/three_way": 0.7, "privacy/mia_tpr_at_1pct_fpr": 0.505,
                         "privacy/exact_match_rate": 0.03, "privacy/exact_match_excess": 0.02,
                         "privacy/linkability_risk": 0.2})
    s = summary_scores(m)
    q = (1 + 1 + 0.7 + 0.5 + 1 + 0.5) / 6  # detection 1-2(0.75-0.5); utility (0.7-0.5)/(0.9-0.5)
    parts = [0.8, 1, 0.8, 0.5, 1, 0.8, 1]  # exact match 1-0.02/0.1 (the excess); TPR@1%FPR 1-(0.505-0.01)/0.99
    p = (sum(parts) / 7 + min(parts)) / 2  # the mean pulled halfway down to the weakest component
    assert s["score/quality"]["score"] == pytest.approx(q) and s["score/privacy"]["score"] == pytest.approx(p)
    assert s["score/harmonic"]["score"] == pytest.approx(2 * p * q / (p + q))


def test_nan_components_are_left_out_and_listed():
    m = dict(PERFECT, **{"privacy/mia_auc": math.nan, "fidelity/detection_auc": math.nan})
    s = summary_scores(m)
    assert s["score/privacy"]["score"] == 1.0 and s["score/privacy"]["not_available"] == ["mia"]
    assert s["score/quality"]["not_available"] == ["detection"]
    no_three_way = dict(PERFECT, **{"fidelity/three_way": math.nan})
    assert summary_scores(no_three_way)["score/quality"]["not_available"] == ["three_way"]
    assert math.isnan(summary_scores({})["score/harmonic"]["score"])


def test_an_auc_below_chance_scores_no_better_than_chance():
    # README "Scores": detection = 1 - 2·max(0, AUC - 0.5); an anti-learning 0.44 is chance, not a reward
    at_044 = summary_scores(dict(PERFECT, **{"fidelity/detection_auc": 0.44}))
    at_050 = summary_scores(PERFECT)
    assert at_044["score/quality"]["components"]["detection"] <= at_050["score/quality"]["components"]["detection"]
    assert at_044["score/quality"]["score"] <= at_050["score/quality"]["score"]
    assert one_sided_auc(0.44) == one_sided_auc(0.5) == 1.0 and one_sided_auc(0.75) == 0.5 and one_sided_auc(1.0) == 0.0
    # every AUC-like privacy component is one-sided too (MIA AUC, DCR share)
    low = summary_scores(dict(PERFECT, **{"privacy/mia_auc": 0.3, "privacy/dcr_share_closer_to_train": 0.2}))
    assert low["score/privacy"]["components"]["mia"] == low["score/privacy"]["components"]["dcr_share"] == 1.0


def test_copies_beyond_the_natural_rate_cost_fast_and_the_worst_component_pulls_privacy_down():
    five = summary_scores(dict(PERFECT, **{"privacy/exact_match_excess": 0.05}))["score/privacy"]
    assert five["components"]["exact_match"] == pytest.approx(0.5)
    assert five["score"] == pytest.approx((6.5 / 7 + 0.5) / 2)
    half = summary_scores(dict(PERFECT, **{"privacy/exact_match_excess": 0.5, "privacy/exact_match_rate": 0.5}))
    assert half["score/privacy"]["components"]["exact_match"] == 0.0
    assert half["score/privacy"]["score"] <= 0.5  # whatever the other six components say
    # the raw rate is used when the excess is not known (a metrics dict from before the excess existed)
    raw = dict(PERFECT, **{"privacy/exact_match_rate": 0.02})
    del raw["privacy/exact_match_excess"]
    assert summary_scores(raw)["score/privacy"]["components"]["exact_match"] == pytest.approx(0.8)


def test_quality_breakdown_names_the_components_the_release_optimises():
    q = summary_scores(PERFECT)["score/quality"]
    assert set(q["optimised_by_release"]) == {"column_shapes", "column_pair_trends"}
    assert "three_way" in q["components"] and "three_way" not in q["optimised_by_release"]
