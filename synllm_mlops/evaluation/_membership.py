"""Membership inference: worst case over an ensemble of attacks (see ``_mia_attacks``), as AUC and TPR at low FPR.

Every figure compares training members with held-out non-members (the control): 0.5 AUC and a TPR equal
to the FPR mean the synthetic table reveals nothing about who was in train. The headline is the worst
(highest) figure over the attacks; each attack's own figures are in the breakdown. Taking the maximum of
several noisy estimates leans high when there is no leak (a conservative bias, by design).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._mia_attacks import ATTACKS, AttackScores, run_attacks
from synllm_mlops.evaluation._roc import auc, auc_ci, tpr_at_fpr

RARE_SHARE = 0.10
MIN_RARE = 5


def _per_attack(s: AttackScores, mask: np.ndarray, fpr: float) -> dict[str, dict[str, Any]]:
    out = {}
    for name in ATTACKS:
        m, n = s.scores[name][mask & s.is_member], s.scores[name][mask & ~s.is_member]
        a = auc(m, n)
        out[name] = {"auc": a, "auc_ci": auc_ci(a, len(m), len(n)), f"tpr_at_{fpr:g}_fpr": tpr_at_fpr(m, n, fpr),
                     "note": s.notes[name]}
    return out


def _worst(per: dict[str, dict[str, Any]], key: str, pick=lambda v: v) -> tuple[float, str]:
    vals = {k: pick(v[key]) for k, v in per.items() if not math.isnan(pick(v[key]))}
    if not vals:
        return math.nan, ""
    name = max(vals, key=vals.__getitem__)
    return float(vals[name]), name


class _Membership(Metric):
    group = "privacy"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0

    def __init__(self, cap: int = 10_000) -> None:
        self.cap = cap

    def _scores(self, data: EvalData) -> AttackScores | str:
        return run_attacks(data, self.cap)


class MembershipInferenceAUC(_Membership):
    """Worst AUC over the attack ensemble (distance to closest record, DOMIAS density ratio, classifier).

    Members are train rows, non-members holdout rows (seeded samples of at most ``cap`` each, cross-fitted
    so that no attack is fitted on a record it scores). 0.5 = no leak; 1 = membership is certain.
    """

    name = "privacy/mia_auc"
    baseline = 0.5
    description = "worst AUC over membership attacks (DCR, DOMIAS density ratio, classifier), train vs holdout (0.5 = no leak)"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        s = self._scores(data)
        if isinstance(s, str):
            return skipped(s)
        per = _per_attack(s, np.ones(len(s.is_member), bool), 0.01)
        score, worst = _worst(per, "auc")
        return {"score": score, "worst_attack": worst, "attacks": per, "n_members": int(s.is_member.sum()),
                "n_non_members": int((~s.is_member).sum()), "design": s.notes["design"]}


class MembershipTPRAtFPR(_Membership):
    """Worst TPR over the attack ensemble at a low FPR (1 % or 0.1 %), the threshold set on non-members.

    At the nominal FPR a leak-free table gives a TPR about equal to that FPR. With fewer than ``1/fpr``
    non-members the FPR cannot be resolved: the TPR is then the one at FPR 0 (the breakdown says so and
    gives the number of non-members the threshold rests on, and the chance TPR at that threshold).
    """

    def __init__(self, fpr: float = 0.01, cap: int = 10_000) -> None:
        if not 0 < fpr < 1:
            raise ValueError(f"fpr must be in (0, 1), got {fpr}")
        super().__init__(cap)
        self.fpr = fpr
        self.name = "privacy/mia_tpr_at_" + f"{fpr * 100:g}".replace(".", "_") + "pct_fpr"  # type: ignore[misc]
        self.baseline = fpr  # type: ignore[misc]
        self.description = (f"worst TPR over membership attacks at FPR <= {fpr:g} on holdout non-members "  # type: ignore[misc]
                            f"(about {fpr:g} = no leak)")

    def _compute(self, data: EvalData) -> dict[str, Any]:
        s = self._scores(data)
        if isinstance(s, str):
            return skipped(s)
        per = _per_attack(s, np.ones(len(s.is_member), bool), self.fpr)
        key = f"tpr_at_{self.fpr:g}_fpr"
        score, worst = _worst(per, key, lambda v: v["tpr"])
        if not worst:
            return skipped("no attack could score both members and non-members", attacks=per)
        return {"score": score, "worst_attack": worst, "chance_tpr": per[worst][key]["chance_tpr"],
                "attacks": {k: v[key] for k, v in per.items()}, "n_members": int(s.is_member.sum()),
                "n_non_members": int((~s.is_member).sum()), **({"note": n} if (n := per[worst][key].get("note")) else {})}


class RareClassMembershipAUC(_Membership):
    """Worst attack AUC restricted to records of rare target classes (under 10 % of train).

    The same attack scores, read only on members and non-members whose target class is rare: patients
    in small groups stand out more. NaN (with the reason) when the target has no rare class or fewer
    than 5 such members or non-members were sampled.
    """

    name = "privacy/mia_rare_auc"
    baseline = 0.5
    description = "worst membership-attack AUC on records of target classes under 10 % of train (0.5 = no leak)"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if not data.spec.target_is_categorical:
            return skipped(f"target {data.spec.target!r} is numeric: no classes")
        shares = data.train[data.spec.target].value_counts(normalize=True)
        rare = sorted(str(c) for c, p in shares.items() if p < RARE_SHARE)
        if not rare:
            return skipped(f"no target class under {RARE_SHARE:.0%} of train", class_shares=shares.round(4).to_dict())
        s = self._scores(data)
        if isinstance(s, str):
            return skipped(s)
        mask = np.isin(s.target.astype(str), rare)
        n1, n0 = int((mask & s.is_member).sum()), int((mask & ~s.is_member).sum())
        per_class = {c: {"n_members": int(((s.target.astype(str) == c) & s.is_member).sum()),
                         "n_non_members": int(((s.target.astype(str) == c) & ~s.is_member).sum()),
                         "attacks": {k: v["auc"] for k, v in _per_attack(s, s.target.astype(str) == c, 0.01).items()}}
                     for c in rare}
        if min(n1, n0) < MIN_RARE:
            return skipped(f"too few rare-class records to estimate: {n1} members and {n0} non-members "
                           f"(need {MIN_RARE} each)", rare_classes=rare, per_class=per_class)
        per = _per_attack(s, mask, 0.01)
        score, worst = _worst(per, "auc")
        return {"score": score, "worst_attack": worst, "rare_classes": rare, "n_members": n1, "n_non_members": n0,
                "attacks": per, "per_class": per_class}
