"""Detection: can a classifier tell real train rows from synthetic ones?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._features import feature_frame, gradient_boosting, single_thread

MIN_ROWS = 10


class DetectionAUC(Metric):
    """Out-of-fold AUC of gradient boosting separating real train rows from synthetic rows.

    Both sides are subsampled (seeded) to the same size, at most ``cap`` rows each; the AUC is computed on
    the pooled out-of-fold predictions of a stratified k-fold. 0.5 means indistinguishable; 1 means
    every synthetic row is recognisable.
    """

    name = "fidelity/detection_auc"
    group = "fidelity"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.5
    description = "cross-validated AUC of HistGradientBoosting telling real train from synthetic (0.5 = indistinguishable)"

    def __init__(self, cap: int = 5000, folds: int = 5) -> None:
        self.cap, self.folds = cap, folds

    def _compute(self, data: EvalData) -> dict[str, Any]:
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        n = min(len(data.train), len(data.synthetic), self.cap)
        if n < MIN_ROWS:
            return skipped(f"needs at least {MIN_ROWS} real and {MIN_ROWS} synthetic rows, got "
                           f"{len(data.train)} and {len(data.synthetic)}", n_per_side=n)
        rng = data.rng("detection")
        real = data.train.iloc[np.sort(rng.choice(len(data.train), n, replace=False))]
        syn = data.synthetic.iloc[np.sort(rng.choice(len(data.synthetic), n, replace=False))]
        X = feature_frame(pd.concat([real, syn], ignore_index=True), data.spec, data.spec.column_names)
        y = np.r_[np.zeros(n), np.ones(n)]
        folds = min(self.folds, n)
        oof = np.zeros(2 * n)
        fold_auc = []
        for k, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=data.seed).split(X, y)):
            with single_thread():
                model = gradient_boosting(data.seed + k).fit(X.iloc[tr], y[tr])
                oof[te] = model.predict_proba(X.iloc[te])[:, 1]
            fold_auc.append(float(roc_auc_score(y[te], oof[te])))
        return {"score": float(roc_auc_score(y, oof)), "fold_auc": fold_auc, "n_per_side": n, "folds": folds,
                "classifier": "HistGradientBoostingClassifier(max_iter=100)"}
