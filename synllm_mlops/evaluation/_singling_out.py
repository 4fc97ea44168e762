"""Singling-out risk (anonymeter's univariate attack): predicates built from synthetic data that
isolate exactly one real record."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._encoding import normalised
from synllm_mlops.evaluation._risk import risk_breakdown

Predicate = tuple[str, str, Any]  # (column, op, value) with op in {"==", "<=", ">=", "isna"}


def univariate_predicates(syn: pd.DataFrame, numeric: set[str], n: int, rng: np.random.Generator) -> list[Predicate]:
    """Anonymeter's univariate queries: rare values (seen once), numeric extremes, a lone missing value."""
    out: list[Predicate] = []
    for col in syn.columns:
        s = syn[col]
        if s.isna().sum() == 1:
            out.append((col, "isna", None))
        present = s.dropna()
        if col in numeric and len(present):
            out += [(col, "<=", float(present.min())), (col, ">=", float(present.max()))]
        counts = present.value_counts()
        out += [(col, "==", v) for v in counts.index[counts.to_numpy() == 1]]
    order = rng.permutation(len(out))[:n]
    return [out[i] for i in order]


def random_predicates(syn: pd.DataFrame, numeric: set[str], n: int, rng: np.random.Generator) -> list[Predicate]:
    """The naive baseline: a random column, a random operator and a random value from that column."""
    cols = [c for c in syn.columns if syn[c].notna().any()]
    out: list[Predicate] = []
    for _ in range(n if cols else 0):
        col = cols[rng.integers(len(cols))]
        vals = syn[col].dropna().to_numpy()
        op = ("==", "<=", ">=")[rng.integers(3)] if col in numeric else "=="
        out.append((col, op, vals[rng.integers(len(vals))]))
    return out


def count_matches(df: pd.DataFrame, predicates: list[Predicate], numeric: set[str]) -> np.ndarray:
    """How many rows of ``df`` each predicate selects (vectorised per column with sorted values)."""
    counts = np.zeros(len(predicates), dtype=np.int64)
    sorted_vals = {c: np.sort(df[c].dropna().to_numpy(float)) for c in numeric}
    freq = {c: df[c].value_counts() for c in df.columns if c not in numeric}
    for i, (col, op, v) in enumerate(predicates):
        if op == "isna":
            counts[i] = int(df[col].isna().sum())
        elif col in numeric:
            a = sorted_vals[col]
            lo, hi = np.searchsorted(a, v, "left"), np.searchsorted(a, v, "right")
            counts[i] = {"==": hi - lo, "<=": hi, ">=": len(a) - lo}[op]
        else:
            counts[i] = int(freq[col].get(v, 0))
    return counts


class SinglingOutRisk(Metric):
    """Residual risk that predicates learnt from the synthetic table single out one training record.

    Attack: univariate predicates from synthetic data (rare values, extremes). Success on a predicate:
    it matches exactly one row of the target set. Targets are train rows; the control is the same
    attack on an equal-size holdout; the baseline uses random predicates.
    risk = (attack_rate - control_rate) / (1 - control_rate), Wilson 95 % interval.
    """

    name = "privacy/singling_out_risk"
    group = "privacy"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.0
    description = "anonymeter-style univariate singling-out risk, train vs holdout control (0 = no risk)"

    def __init__(self, n_attacks: int = 2000) -> None:
        self.n_attacks = n_attacks

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if len(data.synthetic) == 0 or min(len(data.train), len(data.holdout)) == 0:
            return skipped("needs synthetic rows and non-empty train and holdout tables")
        spec, rng = data.spec, data.rng("singling_out")
        numeric = set(spec.numeric_columns)
        syn = normalised(data.synthetic, spec)
        target = normalised(data.train.iloc[data.reference_index("train")], spec)
        control = normalised(data.holdout.iloc[data.reference_index("holdout")], spec)
        queries = univariate_predicates(syn, numeric, self.n_attacks, rng)
        if not queries:
            return skipped("the synthetic table yields no singling-out predicate (no rare values)")
        base = random_predicates(syn, numeric, len(queries), rng)
        n_att = int((count_matches(target, queries, numeric) == 1).sum())
        n_ctl = int((count_matches(control, queries, numeric) == 1).sum())
        n_base = int((count_matches(target, base, numeric) == 1).sum())
        out = risk_breakdown(n_att, n_ctl, n_base, len(queries), len(base))
        out.update(mode="univariate", n_target_rows=len(target), n_control_rows=len(control))
        return out
