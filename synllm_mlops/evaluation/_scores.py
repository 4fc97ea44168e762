"""Summary scores on fixed absolute scales, built from the metrics by fixed formulas (never rescaled)."""

from __future__ import annotations

import math
from typing import Any

SCORE_INFO = {
    "score/quality": {"group": "score", "goal": "maximize", "min_value": 0.0, "max_value": 1.0, "baseline": None,
                      "description": "mean of fidelity (optimised and not), clinical and utility components, "
                                     "each in [0, 1]"},
    "score/privacy": {"group": "score", "goal": "maximize", "min_value": 0.0, "max_value": 1.0, "baseline": None,
                      "description": "(mean + worst)/2 of privacy components, each in [0, 1] (1 = no measurable "
                                     "risk): one leaking channel pulls the score halfway to its own level"},
    "score/harmonic": {"group": "score", "goal": "maximize", "min_value": 0.0, "max_value": 1.0, "baseline": None,
                       "description": "harmonic mean 2PQ/(P+Q) of score/privacy and score/quality"},
}


def _clip(x: float) -> float:
    return x if math.isnan(x) else min(1.0, max(0.0, x))


def _pos(x: float) -> float:  # max(0, x) that keeps NaN (the builtin max(0.0, nan) returns 0.0)
    return x if math.isnan(x) else max(0.0, x)


#: excess copies at which the exact-match component reaches 0: a table in which one row in ten is a real
#: patient's full record protects nobody, whatever its other components say
COPIES_AT_ZERO = 0.10


def one_sided_auc(auc: float) -> float:
    """``1 - 2·max(0, auc - 0.5)`` clipped to [0, 1]: an AUC below chance counts as chance.

    A detector or attacker that does worse than a coin (0.44) has learnt nothing usable; scoring
    ``|auc - 0.5|`` would reward such anti-learning (e.g. copies of train, which flip a detector's
    labels across folds) as much as it punishes real separation.
    """
    return _clip(1.0 - 2.0 * _pos(auc - 0.5))


#: quality components the release and selection fit directly (train-quintile marginals and pair tables);
#: the others are not fitted (``three_way``: holdout-tercile 3-way tables no release holds; detection; utility)
#: or enforced (``rule_adherence``: hard rules)
OPTIMISED = ("column_shapes", "column_pair_trends")


COMPONENT_METRICS = {
    "column_shapes": "fidelity/column_shapes", "column_pair_trends": "fidelity/column_pair_trends",
    "three_way": "fidelity/three_way", "detection": "fidelity/detection_auc", "rule_adherence": "clinical/rule_adherence",
    "utility": "utility/tstr_auc", "exact_match": "privacy/exact_match_excess",
    "dcr_share": "privacy/dcr_share_closer_to_train", "mia": "privacy/mia_auc",
    "mia_tpr_at_1pct_fpr": "privacy/mia_tpr_at_1pct_fpr", "singling_out": "privacy/singling_out_risk",
    "linkability": "privacy/linkability_risk", "inference": "privacy/inference_risk",
}
"""Score component -> the metric it is computed from (a component is that metric mapped to [0, 1], 1 best)."""


def quality_components(m: dict[str, float]) -> dict[str, float]:
    """Each component maps one metric to [0, 1] with 1 best; NaN when the metric is NaN."""
    tstr, trtr = m.get("utility/tstr_auc", math.nan), m.get("utility/trtr_auc", math.nan)
    if math.isnan(trtr) or trtr <= 0.5:
        utility = math.nan  # no real signal to reproduce: utility cannot be judged
    elif math.isnan(tstr):
        utility = 0.0  # the synthetic table cannot even train a classifier (e.g. a single class)
    else:
        utility = _clip((tstr - 0.5) / (trtr - 0.5))
    return {
        "column_shapes": m.get("fidelity/column_shapes", math.nan),
        "column_pair_trends": m.get("fidelity/column_pair_trends", math.nan),
        "three_way": m.get("fidelity/three_way", math.nan),
        "detection": one_sided_auc(m.get("fidelity/detection_auc", math.nan)),
        "rule_adherence": m.get("clinical/rule_adherence", math.nan),
        "utility": utility,
    }


def privacy_components(m: dict[str, float]) -> dict[str, float]:
    """Each component maps one privacy metric to [0, 1] with 1 = no measurable risk; NaN when missing."""
    # copies beyond the natural rate (holdout rows equal to train rows); the raw rate where only it is known
    copies = m.get("privacy/exact_match_excess", m.get("privacy/exact_match_rate", math.nan))
    return {
        "exact_match": _clip(1.0 - _pos(copies) / COPIES_AT_ZERO),
        "dcr_share": one_sided_auc(m.get("privacy/dcr_share_closer_to_train", math.nan)),
        "mia": one_sided_auc(m.get("privacy/mia_auc", math.nan)),
        # TPR at 1 % FPR: 0.01 is chance, 1 is every member caught; 0.1 % FPR and the rare-class AUC stay out
        # (they rest on too few non-members at usual holdout sizes to sit on a fixed scale)
        "mia_tpr_at_1pct_fpr": _clip(1.0 - _pos(m.get("privacy/mia_tpr_at_1pct_fpr", math.nan) - 0.01) / 0.99),
        "singling_out": _clip(1.0 - _pos(m.get("privacy/singling_out_risk", math.nan))),
        "linkability": _clip(1.0 - _pos(m.get("privacy/linkability_risk", math.nan))),
        "inference": _clip(1.0 - _pos(m.get("privacy/inference_risk", math.nan))),
    }


def _mean(parts: dict[str, float]) -> dict[str, Any]:
    used = {k: v for k, v in parts.items() if not math.isnan(v)}
    return {"score": sum(used.values()) / len(used) if used else math.nan, "components": parts,
            "not_available": sorted(set(parts) - set(used))}


def _weakest_link(parts: dict[str, float]) -> dict[str, Any]:
    # privacy fails through its weakest channel, which a plain mean hides behind the clean ones; the mean
    # still counts half so that one noisy component does not decide alone
    out = _mean(parts)
    used = [v for v in parts.values() if not math.isnan(v)]
    if used:
        out["mean"], out["worst"] = out["score"], min(used)
        out["score"] = 0.5 * (out["mean"] + out["worst"])
    return out


def summary_scores(metrics: dict[str, float]) -> dict[str, dict[str, Any]]:
    """``score/quality``, ``score/privacy`` and ``score/harmonic`` with their components.

    Q is the mean of the quality components; P is ``(mean + worst) / 2`` of the privacy components.
    NaN components are left out (and listed); ``score/harmonic`` is NaN if either score is.
    """
    q = _mean(quality_components(metrics))
    q["optimised_by_release"] = list(OPTIMISED)
    p = _weakest_link(privacy_components(metrics))
    P, Q = p["score"], q["score"]
    h = math.nan if math.isnan(P) or math.isnan(Q) else (0.0 if P + Q == 0 else 2 * P * Q / (P + Q))
    return {"score/quality": q, "score/privacy": p, "score/harmonic": {"score": h, "privacy": P, "quality": Q}}
