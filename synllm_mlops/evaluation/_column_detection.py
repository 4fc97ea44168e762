"""One-column detection: can a classifier that sees a single numeric column tell real train values from synthetic ones?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._roc import auc

MIN_ROWS = 10


def column_detection_auc(real: pd.Series, synthetic: pd.Series, rng: np.random.Generator, *, folds: int = 5,
                         cap: int = 5000, permutations: int = 8) -> float:
    """Out-of-fold AUC of a 1-D histogram classifier telling ``real`` from ``synthetic`` values (missing = one more bin).

    Both sides are subsampled to the same size (at most ``cap``). The bins are the pooled values' quantiles
    (labels unused), so a spike — many rows on one value — starts a bin at that value; each fold is scored by the
    smoothed synthetic share of its bin in the other folds; the mean AUC of the same procedure on shuffled
    labels is subtracted (plus 0.5). 0.5: this column alone does not give the table away.
    """
    n = min(len(real), len(synthetic), cap)
    r = pd.to_numeric(real, errors="coerce").to_numpy(float)[rng.choice(len(real), n, replace=False)]
    s = pd.to_numeric(synthetic, errors="coerce").to_numpy(float)[rng.choice(len(synthetic), n, replace=False)]
    x, y = np.concatenate([r, s]), np.r_[np.zeros(n), np.ones(n)]
    ok = ~np.isnan(x)
    n_bins = int(np.clip(2 * n // 20, 4, 50))
    edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, n_bins + 1)[1:-1])) if ok.any() else np.array([])
    code = np.where(ok, np.searchsorted(edges, np.nan_to_num(x), side="right"), len(edges) + 1)
    k = len(edges) + 2

    def oof_auc(labels: np.ndarray) -> float:
        fold = rng.permutation(2 * n) % folds
        oof = np.zeros(2 * n)
        for f in range(folds):
            fit = fold != f
            syn = np.bincount(code[fit & (labels == 1)], minlength=k)
            tot = np.bincount(code[fit], minlength=k)
            oof[~fit] = ((syn + 1) / (tot + 2))[code[~fit]]
        return auc(oof[labels == 1], oof[labels == 0])

    # out-of-fold scores of a histogram are biased low (a fold's excess is the other folds' deficit): the same
    # classifier on shuffled labels measures that bias, and it is removed, so no signal reads 0.5 at any n
    null = np.mean([oof_auc(rng.permutation(y)) for _ in range(permutations)])
    return float(np.clip(oof_auc(y) - null + 0.5, 0.0, 1.0))


class ColumnDetectionAUC(Metric):
    """Max over numeric columns of a one-column detection AUC (:func:`column_detection_auc`); per column in the breakdown.

    :class:`~synllm_mlops.evaluation._detection.DetectionAUC` sees whole rows; this one names the column that
    gives a table away — values piled on a limit, a bin edge or a number copied from the prompt.
    """

    name = "fidelity/in_bin_column_auc"
    group = "fidelity"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.5
    description = "max over numeric columns of the out-of-fold AUC of a 1-D histogram classifier, train vs synthetic values"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        cols = [c for c in data.spec.columns if c.is_numeric]
        if not cols or min(len(data.train), len(data.synthetic)) < MIN_ROWS:
            return skipped(f"needs a numeric column and at least {MIN_ROWS} real and {MIN_ROWS} synthetic rows")
        per = {c.name: column_detection_auc(data.train[c.name], data.synthetic[c.name], data.rng(f"column_auc.{c.name}"))
               for c in cols}
        return {"score": float(max(per.values())), "columns": per, "worst": max(per, key=per.get)}
