"""Diversity of the synthetic table itself: repeated rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._encoding import row_keys


class DuplicateRate(Metric):
    """Share of synthetic rows that repeat an earlier synthetic row (after normalisation)."""

    name = "diversity/duplicate_rate"
    group = "diversity"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.0
    description = "share of synthetic rows repeating an earlier synthetic row (1 - unique/rows)"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if len(data.synthetic) == 0:
            return skipped("the synthetic table has no rows")
        n_unique = len(np.unique(row_keys(data.synthetic, data.spec)))
        return {"score": 1.0 - n_unique / len(data.synthetic), "n_rows": len(data.synthetic), "n_unique": n_unique}


class UniqueRows(Metric):
    """Number of distinct synthetic rows (after normalisation)."""

    name = "diversity/unique_rows"
    group = "diversity"
    goal = "maximize"
    min_value, max_value = 0.0, float("inf")
    description = "number of distinct synthetic rows"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        return {"score": float(len(np.unique(row_keys(data.synthetic, data.spec)))), "n_rows": len(data.synthetic)}
