"""Success rates with Wilson intervals and the anonymeter residual risk (attack vs control)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy.stats import norm


@dataclass(frozen=True)
class SuccessRate:
    """A Wilson-corrected success rate and its half-width at the chosen confidence level."""

    value: float
    error: float

    @classmethod
    def wilson(cls, n_success: int, n_total: int, confidence: float = 0.95) -> "SuccessRate":
        """Wilson score estimate of ``n_success / n_total`` (as anonymeter's ``probability_of_success``)."""
        if n_total <= 0:
            return cls(math.nan, math.nan)
        z = float(norm.ppf(0.5 * (1.0 + confidence)))
        z2 = z * z
        denom = n_total + z2
        value = (n_success + 0.5 * z2) / denom
        error = (z / denom) * math.sqrt(n_success * (n_total - n_success) / n_total + 0.25 * z2)
        return cls(value, error)


def residual_risk(attack: SuccessRate, control: SuccessRate) -> SuccessRate:
    """``(attack - control) / (1 - control)`` with first-order error propagation (anonymeter's formula).

    The control rate is what the same attack achieves on records the generator never saw, so the
    residual is the part of the attack's success that only training membership explains.
    """
    if not control.value < 1.0:
        return SuccessRate(math.nan, math.nan)
    value = (attack.value - control.value) / (1.0 - control.value)
    d_attack = 1.0 / abs(1.0 - control.value)
    d_control = abs((attack.value - 1.0) / (1.0 - control.value) ** 2)
    return SuccessRate(value, math.sqrt((attack.error * d_attack) ** 2 + (control.error * d_control) ** 2))


def risk_breakdown(n_attack: int, n_control: int, n_baseline: int, n_total: int, n_baseline_total: int | None = None,
                   confidence: float = 0.95) -> dict[str, Any]:
    """The standard anonymeter-style result: rates, residual risk with CI, and whether the attack beats chance.

    The headline ``score`` is the residual risk clipped to [0, 1]: a negative residual means the attack
    does no better on training records than on unseen ones, i.e. no measurable risk.
    """
    attack = SuccessRate.wilson(n_attack, n_total, confidence)
    control = SuccessRate.wilson(n_control, n_total, confidence)
    baseline = SuccessRate.wilson(n_baseline, n_baseline_total or n_total, confidence)
    risk = residual_risk(attack, control)
    out: dict[str, Any] = {
        "score": float(min(1.0, max(0.0, risk.value))) if not math.isnan(risk.value) else math.nan,
        "residual_risk": risk.value,
        "ci": [max(0.0, risk.value - risk.error), min(1.0, risk.value + risk.error)] if not math.isnan(risk.value) else None,
        "attack_rate": attack.value, "attack_rate_error": attack.error,
        "control_rate": control.value, "control_rate_error": control.error,
        "baseline_rate": baseline.value, "baseline_rate_error": baseline.error,
        "n_attacks": n_total, "n_success": n_attack, "n_control_success": n_control, "n_baseline_success": n_baseline,
        "confidence": confidence,
    }
    if math.isnan(risk.value):
        out["skipped"] = "the control success rate is 1: the attack succeeds on unseen records too"
    if attack.value <= baseline.value:
        out["warning"] = "the attack is no better than the random baseline: the result is not informative"
    return out
