"""Per-column marginal statistics of the SynLLM seed study, done on common, fixed scales."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._encoding import category_codes, scaled
from synllm_mlops.spec import ColumnSpec

JS_BINS = 20


def _per_column(data: EvalData, columns: list[ColumnSpec], fn: Callable[[pd.Series, pd.Series, ColumnSpec], float | str],
                ) -> dict[str, Any]:
    """Apply ``fn(real, synthetic, col)`` per column; a string result is a skip reason; mean of the rest."""
    if len(data.synthetic) == 0 or len(data.train) == 0:
        return skipped("needs at least one real and one synthetic row")
    if not columns:
        return skipped("the spec has no column of the kind this metric needs")
    per: dict[str, Any] = {}
    for col in columns:
        v = fn(data.train[col.name], data.synthetic[col.name], col)
        per[col.name] = {"skipped": v} if isinstance(v, str) else float(v)
    vals = [v for v in per.values() if isinstance(v, float)]
    if not vals:
        return skipped("no column could be scored", columns=per)
    return {"score": float(np.mean(vals)), "columns": per}


def _numeric(data: EvalData) -> list[ColumnSpec]:
    return [c for c in data.spec.columns if c.is_numeric]


def _categorical(data: EvalData) -> list[ColumnSpec]:
    return [c for c in data.spec.columns if not c.is_numeric]


class RelativeMeanError(Metric):
    """Mean over numeric columns of ``|mean_syn - mean_real| / |mean_real|`` (missing values ignored).

    Where the real mean is 0 the spec range width is the denominator instead.
    """

    name = "fidelity/relative_mean_error"
    group = "fidelity"
    goal = "minimize"
    min_value, max_value = 0.0, float("inf")
    description = "mean over numeric columns of |mean_syn-mean_real|/|mean_real|"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        def one(r: pd.Series, s: pd.Series, col: ColumnSpec) -> float | str:
            if s.notna().sum() == 0 or r.notna().sum() == 0:
                return "no non-missing values on one side"
            mr, ms = r.mean(), s.mean()
            denom = abs(mr) if mr != 0 else float(col.max - col.min) or 1.0  # type: ignore[operator]
            return abs(ms - mr) / denom
        return _per_column(data, _numeric(data), one)


class WassersteinDistance(Metric):
    """Mean over numeric columns of the 1-Wasserstein distance after scaling BOTH sides by the spec range.

    A common fixed scale keeps the value comparable across runs: 0.1 means the synthetic values sit, on
    average, 10 % of the plausible range away from the real ones.
    """

    name = "fidelity/wasserstein"
    group = "fidelity"
    goal = "minimize"
    min_value, max_value = 0.0, float("inf")
    description = "mean 1-Wasserstein distance on values scaled by the spec [min, max] (1 = a full range apart)"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        from scipy.stats import wasserstein_distance

        def one(r: pd.Series, s: pd.Series, col: ColumnSpec) -> float | str:
            a, b = scaled(r, col.min, col.max), scaled(s, col.min, col.max)  # type: ignore[arg-type]
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            if len(a) == 0 or len(b) == 0:
                return "no non-missing values on one side"
            return wasserstein_distance(a, b)
        return _per_column(data, _numeric(data), one)


def _histogram(s: pd.Series, col: ColumnSpec) -> np.ndarray:
    """Frequencies on bins fixed by the spec: categories or JS_BINS equal-width bins on [min, max] plus
    below-range, above-range and missing bins."""
    if col.is_numeric:
        x = scaled(s, col.min, col.max)  # type: ignore[arg-type]
        codes = np.where(np.isnan(x), JS_BINS + 2,
                         np.where(x < 0, 0, np.where(x > 1, JS_BINS + 1, 1 + np.minimum(x * JS_BINS, JS_BINS - 1))))
        counts = np.bincount(codes.astype(np.int64), minlength=JS_BINS + 3)
    else:
        counts = np.bincount(category_codes(s, col.categories or []), minlength=len(col.categories or []) + 1)
    return counts / counts.sum()


class JensenShannonDistance(Metric):
    """Mean over all columns of the Jensen–Shannon distance (base 2, in [0, 1]) on common fixed bins."""

    name = "fidelity/jensen_shannon"
    group = "fidelity"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    description = f"mean Jensen-Shannon distance (base 2) on {JS_BINS} spec-range bins / categories, missing as a bin"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        from scipy.spatial.distance import jensenshannon

        def one(r: pd.Series, s: pd.Series, col: ColumnSpec) -> float:
            return float(np.clip(jensenshannon(_histogram(r, col), _histogram(s, col), base=2), 0.0, 1.0))
        return _per_column(data, list(data.spec.columns), one)


class RangeCoverage(Metric):
    """Mean over numeric columns of the share of the real train range ``[min, max]`` the synthetic values span."""

    name = "fidelity/range_coverage"
    group = "fidelity"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    description = "mean share of the real [min, max] range covered by the synthetic [min, max]"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        def one(r: pd.Series, s: pd.Series, col: ColumnSpec) -> float | str:
            if s.notna().sum() == 0 or r.notna().sum() == 0:
                return "no non-missing values on one side"
            lo, hi = r.min(), r.max()
            if hi == lo:
                return "the real column is constant"
            gap = max(s.min() - lo, 0.0) + max(hi - s.max(), 0.0)
            return float(np.clip(1.0 - gap / (hi - lo), 0.0, 1.0))
        return _per_column(data, _numeric(data), one)


class CategoryCoverage(Metric):
    """Mean over categorical columns of the share of the categories seen in real train that synthetic uses."""

    name = "fidelity/category_coverage"
    group = "fidelity"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    description = "mean share of real train categories present in synthetic"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        def one(r: pd.Series, s: pd.Series, col: ColumnSpec) -> float | str:
            seen = set(r.dropna())
            if not seen:
                return "the real column has no non-missing value"
            return len(seen & set(s.dropna())) / len(seen)
        return _per_column(data, _categorical(data), one)
