import math

import pytest

from synllm_mlops.evaluation._scores import summary_scores

PERFECT = {"fidelity/column_shapes": 1.0, "fidelity/column_pair_trends": 1.0, "fidelity/detection_auc": 0.5,
           "clinical/rule_adherence": 1.0, "utility/tstr_auc": 0.9, "utility/trtr_auc": 0.9,
           "privacy/exact_match_rate": 0.0, "privacy/dcr_share_closer_to_train": 0.5, "privacy/mia_auc": 0.45,
           "privacy/mia_tpr_at_1pct_fpr": 0.005,
           "privacy/singling_out_risk": 0.0, "privacy/linkability_risk": 0.0, "privacy/inference_risk": 0.0}


def test_ideal_metrics_score_one():
    s = summary_scores(PERFECT)
    assert s["score/quality"]["score"] == 1.0 and s["score/privacy"]["score"] == 1.0 and s["score/harmonic"]["score"] == 1.0


def test_fixed_formulas_known_answer():
    m = dict(PERFECT, **{"fidelity/detection_auc": 0.75, "utility/tstr_auc": 0.7, "privacy/mia_auc": 0.6,
                         "privacy/mia_tpr_at_1pct_fpr": 0.505, "privacy/exact_match_rate": 0.1, "privacy/linkability_risk": 0.2})
    s = summary_scores(m)
    q = (1 + 1 + 0.5 + 1 + 0.5) / 5  # detection 1-2|0.75-0.5|; utility (0.7-0.5)/(0.9-0.5)
    p = (0.9 + 1 + 0.8 + 0.5 + 1 + 0.8 + 1) / 7  # TPR@1%FPR: 1 - (0.505-0.01)/0.99
    assert s["score/quality"]["score"] == pytest.approx(q) and s["score/privacy"]["score"] == pytest.approx(p)
    assert s["score/harmonic"]["score"] == pytest.approx(2 * p * q / (p + q))


def test_nan_components_are_left_out_and_listed():
    m = dict(PERFECT, **{"privacy/mia_auc": math.nan, "fidelity/detection_auc": math.nan})
    s = summary_scores(m)
    assert s["score/privacy"]["score"] == 1.0 and s["score/privacy"]["not_available"] == ["mia"]
    assert s["score/quality"]["not_available"] == ["detection"]
    assert math.isnan(summary_scores({})["score/harmonic"]["score"])
