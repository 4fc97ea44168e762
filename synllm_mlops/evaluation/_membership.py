"""Distance-based membership inference: are training rows closer to the synthetic table than unseen rows?"""

from __future__ import annotations

from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._neighbours import nearest


class MembershipInferenceAUC(Metric):
    """AUC of the attack "the closer a real record is to some synthetic row, the likelier it was in train".

    Members are train rows, non-members holdout rows, equally many of each (seeded subsample, at most
    ``cap`` each); each is scored by minus its distance to the closest synthetic row. 0.5 = the synthetic
    table reveals nothing about membership; 1 = membership is certain.
    """

    name = "privacy.mia_auc"
    group = "privacy"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.5
    description = "AUC of a closest-synthetic-distance attack, train members vs holdout non-members (0.5 = no leak)"

    def __init__(self, cap: int = 10_000) -> None:
        self.cap = cap

    def _compute(self, data: EvalData) -> dict[str, Any]:
        from sklearn.metrics import roc_auc_score

        n = min(len(data.train), len(data.holdout), self.cap)
        if len(data.synthetic) == 0 or n == 0:
            return skipped("needs synthetic rows and non-empty train and holdout tables")
        rng = data.rng("mia")
        mem = rng.choice(len(data.train), n, replace=False)
        non = rng.choice(len(data.holdout), n, replace=False)
        syn = data.encoded("synthetic")
        d_mem = nearest(data.encoded("train")[mem], syn, k=1)[0][:, 0]
        d_non = nearest(data.encoded("holdout")[non], syn, k=1)[0][:, 0]
        y = np.r_[np.ones(n), np.zeros(n)]
        auc = float(roc_auc_score(y, -np.r_[d_mem, d_non])) if n else float("nan")
        return {"score": auc, "n_members": n, "n_non_members": n,
                "median_distance_members": float(np.median(d_mem)),
                "median_distance_non_members": float(np.median(d_non)),
                "share_members_at_distance_0": float((d_mem == 0).mean())}
