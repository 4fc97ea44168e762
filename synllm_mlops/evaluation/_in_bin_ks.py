"""Within-bin KS: are the digits inside each bin written as train's are, whatever mass each bin gets?"""

from __future__ import annotations

from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._in_bin import binning, numeric_columns, present, weighted_ks


class InBinKS(Metric):
    """Mean over numeric columns of the KS distance between train's and synthetic positions inside their bins.

    Every value is rescaled to ``[0, 1]`` inside its bin of a fixed binning (train deciles at the column's
    precision, see :mod:`~synllm_mlops.evaluation._in_bin`) and the positions are pooled, each side's bins
    reweighted to train's bin shares, so only the shape inside bins counts, not how much mass each bin
    gets (what steering and selection already match). 0: the same shape in every bin as train; uniform
    draws inside bins score about the gap between uniform and train's own within-bin shape.
    """

    name = "fidelity/in_bin_ks"
    group = "fidelity"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    description = "mean over numeric columns of KS(train, synthetic) on positions inside train-decile bins, bins reweighted to train's shares"
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        cols = numeric_columns(data)
        if not cols or len(data.synthetic) == 0:
            return skipped("needs a numeric column with a range in train and at least one synthetic row")
        per: dict[str, Any] = {}
        for col in cols:
            b = binning(data, col)
            kr, pr = b.place(present(data.train[col.name]))
            s = present(data.synthetic[col.name])
            if not len(s):
                per[col.name] = {"skipped": "no synthetic value"}
                continue
            ks, ps = b.place(s)
            n_bins = len(b.edges) - 1
            share = np.bincount(kr, minlength=n_bins) / len(kr)
            wr = share[kr] / np.bincount(kr, minlength=n_bins)[kr]
            n_syn = np.bincount(ks, minlength=n_bins)
            ws = share[ks] / n_syn[ks]
            per[col.name] = {"score": weighted_ks(pr, wr, ps, ws), "bins": n_bins,
                             "beyond_train_range": float(np.mean((ps < 0) | (ps > 1)))}
        scores = [v["score"] for v in per.values() if "score" in v]
        if not scores:
            return skipped("no numeric column has synthetic values", columns=per)
        return {"score": float(np.mean(scores)), "columns": per}
