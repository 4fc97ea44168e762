"""Clinical rule adherence: how often synthetic rows break the spec's declarative clinical rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData, Metric, skipped


def violation_table(df: pd.DataFrame, rules: list) -> pd.DataFrame:
    """One boolean column per rule id: True where the row breaks that rule."""
    return pd.DataFrame({r.id: r.violations(df).to_numpy(bool) for r in rules}, index=df.index)


class RuleAdherence(Metric):
    """1 - mean over rules of the synthetic violation rate (each rule weighs the same).

    The breakdown lists every rule's violation rate on synthetic and on real train: a rule the real data
    also breaks is a soft tendency, not an error of the generator.
    """

    name = "clinical/rule_adherence"
    group = "clinical"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    description = "1 - mean over the spec's clinical rules of the share of synthetic rows breaking the rule"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        rules, syn = _synthetic_violations(data)
        if syn is None:
            return rules
        real = violation_table(data.train, rules)
        per = {r.id: {"synthetic_rate": float(syn[r.id].mean()),
                      "train_rate": float(real[r.id].mean()) if len(real) else None,
                      "synthetic_count": int(syn[r.id].sum()),
                      "rule": r.describe(), "hard": r.hard, "note": r.note} for r in rules}
        rows_ok = float((~syn.any(axis=1)).mean())
        return {"score": 1.0 - float(np.mean([p["synthetic_rate"] for p in per.values()])), "rules": per,
                "rows_without_violation": rows_ok, "n_rows": len(syn)}


def _synthetic_violations(data: EvalData):
    """(rules, violation table of the synthetic rows), or (skip breakdown, None) when there is nothing to check."""
    rules = list(data.spec.rules)
    if not rules:
        return skipped(f"spec {data.spec.name!r} declares no clinical rules"), None
    if len(data.synthetic) == 0:
        return skipped("the synthetic table has no rows"), None
    return rules, data.cached("violations.synthetic", lambda: violation_table(data.synthetic, rules))


class RowsWithoutViolation(Metric):
    """Share of synthetic rows that break no clinical rule at all."""

    name = "clinical/rows_without_violation"
    group = "clinical"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    description = "share of synthetic rows breaking none of the spec's clinical rules"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        rules, syn = _synthetic_violations(data)
        if syn is None:
            return rules
        return {"score": float((~syn.any(axis=1)).mean()), "n_rows": len(syn)}
