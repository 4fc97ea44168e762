"""Edge share: does the generator pile values on bin edges (the first or last value a bin allows) more than train?"""

from __future__ import annotations

from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._in_bin import binning, numeric_columns, present


class InBinEdgeShare(Metric):
    """Max over numeric columns of (synthetic share − train share) of values on a bin edge.

    A value is on an edge when it is the lowest or the highest value its column can write inside its bin
    of the fixed binning (train deciles at the column's precision; the cuts an exact run steers on): a
    model forced into a bin tends to write the bound it was given. Positive: more on edges than train;
    0: as train. Per column, both shares are in the breakdown.
    """

    name = "fidelity/in_bin_edge_share"
    group = "fidelity"
    goal = "minimize"
    min_value, max_value = -1.0, 1.0
    baseline = 0.0
    description = "max over numeric columns of synthetic minus train share of values on a train-decile bin edge"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        cols = numeric_columns(data)
        if not cols or len(data.synthetic) == 0:
            return skipped("needs a numeric column with a range in train and at least one synthetic row")
        per: dict[str, Any] = {}
        for col in cols:
            b = binning(data, col)
            s = present(data.synthetic[col.name])
            if not len(s):
                continue
            syn, real = float(np.mean(b.on_edge(s))), float(np.mean(b.on_edge(present(data.train[col.name]))))
            per[col.name] = {"score": syn - real, "synthetic_share": syn, "train_share": real}
        if not per:
            return skipped("no numeric column has synthetic values")
        return {"score": float(max(v["score"] for v in per.values())), "columns": per}
