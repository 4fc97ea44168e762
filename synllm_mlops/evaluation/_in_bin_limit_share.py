"""Limit share: how often a synthetic column sits on a spec limit that no real train value reaches."""

from __future__ import annotations

from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._in_bin import present


class InBinLimitShare(Metric):
    """Max over numeric columns of the share of synthetic values equal to a spec min/max that train never reaches.

    A generator that writes the spec's range limits (a model pushed to the end of an open-ended top bin, a
    grammar bound copied as a value) piles values there; real data that does reach a limit is not counted.
    0 is best; the per-column shares and which limits train reaches are in the breakdown.
    """

    name = "fidelity/in_bin_limit_share"
    group = "fidelity"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.0
    description = "max over numeric columns of the share of synthetic values at a spec min/max that train never reaches"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        cols = [c for c in data.spec.columns if c.is_numeric]
        if not cols or len(data.synthetic) == 0:
            return skipped("needs a numeric column and at least one synthetic row")
        per: dict[str, Any] = {}
        for col in cols:
            r, s = present(data.train[col.name]), present(data.synthetic[col.name])
            if not len(s):
                continue
            tol = 10.0 ** -col.decimals / 2
            out = {}
            for end, limit in (("min", float(col.min)), ("max", float(col.max))):
                reached = bool(len(r)) and bool(np.any(np.abs(r - limit) < tol))
                out[f"share_at_{end}"] = float(np.mean(np.abs(s - limit) < tol))
                out[f"train_reaches_{end}"] = reached
            out["score"] = sum(out[f"share_at_{e}"] for e in ("min", "max") if not out[f"train_reaches_{e}"])
            per[col.name] = out
        if not per:
            return skipped("no numeric column has synthetic values")
        return {"score": float(max(v["score"] for v in per.values())), "columns": per}
