"""Intervals for results over seeds: the t-interval of a mean and the smallest difference a comparison detects."""

from __future__ import annotations

import math

import numpy as np


def t_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the two-sided t confidence interval; NaNs are dropped.

    The half-width is NaN with fewer than two values (no spread to estimate).

    Example:
        >>> m, h = t_interval([1.0, 2.0, 3.0])
        >>> round(m, 3), round(h, 3)
        (2.0, 2.484)
    """
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan
    if len(x) < 2:
        return float(x[0]), math.nan
    sem = x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * sem)


def min_detectable(sd: float, n_control: int, n_model: int = 1, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true difference a two-sample t comparison of these sizes detects with ``power``.

    ``(t_{1-α/2, df} + t_{power, df}) · sd · sqrt(1/n_control + 1/n_model)``, df = n_control − 1 (the
    spread is estimated from the control alone when ``n_model`` is 1).

    Example:
        >>> round(min_detectable(0.02, 5), 4)
        0.0814
    """
    from scipy import stats

    if n_control < 2 or math.isnan(sd):
        return math.nan
    df = n_control - 1 if n_model < 2 else n_control + n_model - 2
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * sd
                 * math.sqrt(1 / n_control + 1 / n_model))


def paired_min_detectable(sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean difference a paired t comparison over ``n`` pairs detects with ``power``.

    ``(t_{1-α/2, n-1} + t_{power, n-1}) · sd / sqrt(n)``, ``sd`` the spread of the paired differences.

    Example:
        >>> round(paired_min_detectable(0.02, 10), 4)
        0.0199
    """
    from scipy import stats

    if n < 2 or math.isnan(sd):
        return math.nan
    return float((stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1)) * sd / math.sqrt(n))

