"""Column pair trends: how well pairwise relationships (correlations, contingency tables) are reproduced."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._encoding import binned_codes, category_codes
from synllm_mlops.spec import DatasetSpec

N_BINS = 5


def pair_codes(df: pd.DataFrame, spec: DatasetSpec, edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Integer codes per column: categories (+ missing) or numeric bins on fixed real-train quantiles."""
    return {c.name: (binned_codes(df[c.name], edges[c.name]) if c.is_numeric
                     else category_codes(df[c.name], c.categories or [])) for c in spec.columns}


def quantile_edges(train: pd.DataFrame, spec: DatasetSpec, n_bins: int = N_BINS) -> dict[str, np.ndarray]:
    """Interior cut points at the real train quantiles (deduplicated), per numeric column."""
    out = {}
    for c in spec.numeric_columns:
        x = train[c].dropna().to_numpy(float)
        out[c] = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)[1:-1])) if len(x) else np.zeros(0)
    return out


def contingency_similarity(a_real: np.ndarray, b_real: np.ndarray, a_syn: np.ndarray, b_syn: np.ndarray) -> float:
    """1 - total-variation distance between the two joint frequency tables of (a, b)."""
    width = int(max(b_real.max(initial=0), b_syn.max(initial=0))) + 1
    size = (int(max(a_real.max(initial=0), a_syn.max(initial=0))) + 1) * width
    p = np.bincount(a_real * width + b_real, minlength=size) / len(a_real)
    q = np.bincount(a_syn * width + b_syn, minlength=size) / len(a_syn)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


class ColumnPairTrends(Metric):
    """Mean over column pairs of correlation similarity (numeric pairs) or contingency similarity (others).

    Numeric pairs: ``1 - |r_real - r_syn| / 2`` with Pearson r on pairwise-complete rows. Categorical and
    mixed pairs: ``1 - TV`` between joint frequency tables, numeric columns binned on real-train quantiles,
    missing as its own level. Pairs whose correlation is undefined (a constant column) are skipped.
    """

    name = "fidelity/column_pair_trends"
    group = "fidelity"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    description = "mean over pairs of 1-|r_real-r_syn|/2 (numeric) or 1-TV of the joint table (other pairs)"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        return pair_trends(data, list(combinations(data.spec.column_names, 2)))


def pair_trends(data: EvalData, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """:class:`ColumnPairTrends`' score and per-pair breakdown over the given column ``pairs`` only."""
    spec = data.spec
    if len(data.synthetic) == 0 or len(data.train) == 0:
        return skipped("needs at least one real and one synthetic row")
    if not pairs:
        return skipped("no column pair to score")
    edges = quantile_edges(data.train, spec)
    real_codes = pair_codes(data.train, spec, edges)
    syn_codes = pair_codes(data.synthetic, spec, edges)
    out: dict[str, dict[str, Any]] = {}
    for a, b in pairs:
        key = f"{a}|{b}"
        if spec.column(a).is_numeric and spec.column(b).is_numeric:
            rr = _pearson(data.train[a].to_numpy(float), data.train[b].to_numpy(float))
            rs = _pearson(data.synthetic[a].to_numpy(float), data.synthetic[b].to_numpy(float))
            if np.isnan(rr) or np.isnan(rs):
                out[key] = {"score": None, "method": "correlation", "skipped": "correlation undefined "
                            "(fewer than 2 complete rows or a constant column)"}
                continue
            out[key] = {"score": 1.0 - abs(rr - rs) / 2.0, "method": "correlation", "real": rr, "synthetic": rs}
        else:
            out[key] = {"score": contingency_similarity(real_codes[a], real_codes[b], syn_codes[a], syn_codes[b]),
                        "method": "contingency"}
    scores = [p["score"] for p in out.values() if p["score"] is not None]
    if not scores:
        return skipped("no pair could be scored", pairs=out)
    return {"score": float(np.mean(scores)), "pairs": out, "n_pairs_scored": len(scores)}
