"""Small hand-built spec and simulated tables shared by the evaluation tests (not a test module)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synllm_mlops.spec import DatasetSpec

SPEC = DatasetSpec.model_validate({
    "name": "toy", "target": "t",
    "columns": [
        {"name": "x", "type": "numeric", "min": 0, "max": 100, "decimals": 2},
        {"name": "y", "type": "numeric", "min": 0, "max": 10, "decimals": 2, "nullable": True},
        {"name": "c", "type": "categorical", "categories": ["a", "b", "c"], "nullable": True},
        {"name": "t", "type": "categorical", "categories": ["0", "1"]},
    ],
    "rules": [
        {"id": "y_max", "kind": "range", "column": "y", "max": 9, "note": "test rule"},
        {"id": "c_then_x", "kind": "implication", "if": {"column": "c", "op": "==", "value": "c"},
         "then": {"column": "x", "op": ">=", "value": 40}, "note": "test rule"},
    ],
})


def simulate(n: int, seed: int) -> pd.DataFrame:
    """IID rows with dependencies between all columns and some missing values."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(50, 15, n), 0, 100)
    y = np.clip(x / 12 + rng.normal(0, 1, n), 0, 10)
    y[rng.random(n) < 0.1] = np.nan
    c = np.where(x < 40, "a", np.where(rng.random(n) < 0.5, "b", "c")).astype(object)
    c[rng.random(n) < 0.05] = np.nan
    t = (rng.random(n) < 1 / (1 + np.exp(-(x - 50) / 8))).astype(int).astype(str).astype(object)
    return pd.DataFrame({"x": x.round(2), "y": np.round(y, 2), "c": c, "t": t})
