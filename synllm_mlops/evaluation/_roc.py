"""Membership-attack figures from scores: AUC with a Hanley–McNeil interval, TPR at a low FPR, honestly.

Members should score higher. A threshold is set on the non-members' own scores, so the FPR an
operating point can reach is a multiple of ``1 / n_non_members``; a target below that resolution is
reported at the strictest threshold (no non-member above it) and the breakdown says so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata

from synllm_mlops.evaluation._risk import SuccessRate


def auc(members: np.ndarray, non_members: np.ndarray) -> float:
    """Probability that a random member outscores a random non-member (ties count half)."""
    n1, n0 = len(members), len(non_members)
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = rankdata(np.r_[members, non_members])
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auc_ci(a: float, n1: int, n0: int, confidence: float = 0.95) -> list[float] | None:
    """Hanley–McNeil (1982) normal interval for an AUC from ``n1`` members and ``n0`` non-members."""
    if math.isnan(a) or n1 == 0 or n0 == 0:
        return None
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    half = float(norm.ppf(0.5 * (1 + confidence))) * math.sqrt(max(var, 0.0))
    return [max(0.0, a - half), min(1.0, a + half)]


def tpr_at_fpr(members: np.ndarray, non_members: np.ndarray, target: float) -> dict[str, Any]:
    """TPR at the loosest threshold whose empirical FPR is <= ``target``, with what it rests on.

    The threshold is the ``(k+1)``-th highest non-member score, ``k = floor(target * n0)``; a record is
    called a member when it scores strictly above it, so at most ``k`` non-members are false positives.
    With ``n0 < 1 / target`` that is ``k = 0``: the TPR at FPR 0, whose true FPR is about ``1/(n0+1)``.
    """
    n1, n0 = len(members), len(non_members)
    if n1 == 0 or n0 == 0:
        return {"tpr": math.nan, "n_members": n1, "n_non_members": n0}
    k = int(math.floor(target * n0 + 1e-9))
    threshold = np.sort(non_members)[::-1][min(k, n0 - 1)] if k < n0 else -np.inf
    tp, fp = int((members > threshold).sum()), int((non_members > threshold).sum())
    w = SuccessRate.wilson(tp, n1)
    out: dict[str, Any] = {
        "tpr": tp / n1, "tpr_ci": [max(0.0, w.value - w.error), min(1.0, w.value + w.error)],
        "target_fpr": target, "achieved_fpr": fp / n0, "false_positives": fp, "true_positives": tp,
        "n_members": n1, "n_non_members": n0, "fpr_resolution": 1 / n0,
        # the chance level at this threshold: a member with no signal outranks all but k non-members
        "chance_tpr": (k + 1) / (n0 + 1),
    }
    if n0 * target < 1:
        out["note"] = (f"{n0} non-members cannot resolve an FPR of {target:g}: reported at FPR 0 (no non-member "
                       f"above the threshold); the threshold's true FPR is about 1/(n+1) = {1 / (n0 + 1):.3g}")
    return out
