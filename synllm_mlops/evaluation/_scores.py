"""Summary scores on fixed absolute scales, built from the metrics by fixed formulas (never rescaled)."""

from __future__ import annotations

import math
from typing import Any

SCORE_INFO = {
    "score/quality": {"group": "score", "goal": "maximize", "min_value": 0.0, "max_value": 1.0, "baseline": None,
                      "description": "mean of fidelity, clinical and utility components, each in [0, 1]"},
    "score/privacy": {"group": "score", "goal": "maximize", "min_value": 0.0, "max_value": 1.0, "baseline": None,
                      "description": "mean of privacy components, each in [0, 1] (1 = no measurable risk)"},
    "score/harmonic": {"group": "score", "goal": "maximize", "min_value": 0.0, "max_value": 1.0, "baseline": None,
                       "description": "harmonic mean 2PQ/(P+Q) of score/privacy and score/quality"},
}


def _clip(x: float) -> float:
    return x if math.isnan(x) else min(1.0, max(0.0, x))


def _pos(x: float) -> float:  # max(0, x) that keeps NaN (the builtin max(0.0, nan) returns 0.0)
    return x if math.isnan(x) else max(0.0, x)


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
        "detection": _clip(1.0 - 2.0 * abs(m.get("fidelity/detection_auc", math.nan) - 0.5)),
        "rule_adherence": m.get("clinical/rule_adherence", math.nan),
        "utility": utility,
    }


def privacy_components(m: dict[str, float]) -> dict[str, float]:
    """Each component maps one privacy metric to [0, 1] with 1 = no measurable risk; NaN when missing."""
    def excess(name: str) -> float:  # distance of an AUC-like share above its 0.5 baseline, doubled
        return _clip(1.0 - 2.0 * _pos(m.get(name, math.nan) - 0.5))
    return {
        "exact_match": _clip(1.0 - m.get("privacy/exact_match_rate", math.nan)),
        "dcr_share": excess("privacy/dcr_share_closer_to_train"),
        "mia": excess("privacy/mia_auc"),
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


def summary_scores(metrics: dict[str, float]) -> dict[str, dict[str, Any]]:
    """``score/quality``, ``score/privacy`` and ``score/harmonic`` with their components.

    NaN components are left out of a mean (and listed); ``score/harmonic`` is NaN if either score is.
    """
    q = _mean(quality_components(metrics))
    p = _mean(privacy_components(metrics))
    P, Q = p["score"], q["score"]
    h = math.nan if math.isnan(P) or math.isnan(Q) else (0.0 if P + Q == 0 else 2 * P * Q / (P + Q))
    return {"score/quality": q, "score/privacy": p, "score/harmonic": {"score": h, "privacy": P, "quality": Q}}
