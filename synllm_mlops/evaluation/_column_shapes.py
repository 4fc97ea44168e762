"""Column shapes: how well each column's marginal distribution (missingness included) is reproduced."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._encoding import category_codes


def ks_with_missing(real: pd.Series, synthetic: pd.Series) -> float:
    """Two-sample Kolmogorov–Smirnov statistic, missing values placed below every number.

    Missingness is thus its own category: the statistic is at least the gap in missing rates.
    """
    a = np.sort(np.nan_to_num(pd.to_numeric(real).to_numpy(float), nan=-np.inf))
    b = np.sort(np.nan_to_num(pd.to_numeric(synthetic).to_numpy(float), nan=-np.inf))
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def tv_with_missing(real: pd.Series, synthetic: pd.Series, categories: list[str]) -> float:
    """Total-variation distance between category frequencies, missing (or unknown) as one more level."""
    k = len(categories) + 1
    p = np.bincount(category_codes(real, categories), minlength=k) / len(real)
    q = np.bincount(category_codes(synthetic, categories), minlength=k) / len(synthetic)
    return float(0.5 * np.abs(p - q).sum())


class ColumnShapes(Metric):
    """Mean over columns of 1 - KS (numeric) or 1 - TV distance (categorical), real train vs synthetic.

    1 means every marginal (and every missing rate) matches; 0 means disjoint supports.
    """

    name = "fidelity/column_shapes"
    group = "fidelity"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    description = "mean per-column 1-KS (numeric) / 1-TV (categorical); missing is its own category"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if len(data.synthetic) == 0 or len(data.train) == 0:
            return skipped("needs at least one real and one synthetic row")
        cols: dict[str, dict[str, Any]] = {}
        for col in data.spec.columns:
            r, s = data.train[col.name], data.synthetic[col.name]
            if col.is_numeric:
                score, kind = 1.0 - ks_with_missing(r, s), "ks_complement"
            else:
                score, kind = 1.0 - tv_with_missing(r, s, col.categories or []), "tv_complement"
            cols[col.name] = {"score": score, "method": kind,
                              "missing_rate_real": float(r.isna().mean()), "missing_rate_synthetic": float(s.isna().mean())}
        return {"score": float(np.mean([c["score"] for c in cols.values()])), "columns": cols}
