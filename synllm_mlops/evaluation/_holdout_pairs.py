"""Pair tables against the holdout on holdout-tercile bins: pairwise fidelity the generator did not optimise."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._joint import holdout_bin_codes, joint_similarity, too_small


class HoldoutPairTables(Metric):
    """Mean over column pairs of 1 - TV between the synthetic and holdout joint tables, on holdout terciles.

    Unlike ``fidelity/column_pair_trends`` (train quintiles, the cells selection matches) the bins come
    from rows the generator never saw and the comparison is with those rows. Missing values are a level.
    The breakdown's ``reference`` is the same measure with real train in place of the synthetic table.
    """

    name = "fidelity/holdout_pair_tables"
    group = "fidelity"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    description = "mean over pairs of 1-TV of joint tables, synthetic vs holdout, numbers at holdout terciles (not optimised)"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if (why := too_small(data)) is not None:
            return skipped(why)
        if len(data.spec.columns) < 2:
            return skipped("needs at least two columns")
        codes = holdout_bin_codes(data)
        hold = codes["holdout"]
        pairs = list(combinations(data.spec.column_names, 2))

        def score(role: str) -> list[float]:
            return [joint_similarity([hold[a], hold[b]], [codes[role][a], codes[role][b]]) for a, b in pairs]
        per_pair = score("synthetic")
        return {"score": float(np.mean(per_pair)), "n_pairs": len(pairs),
                "worst_pairs": {f"{a}|{b}": v for (a, b), v in sorted(zip(pairs, per_pair), key=lambda t: t[1])[:5]},
                "reference": float(np.mean(score("train"))) if len(data.train) else None,
                "reference_note": "the same measure with real train in place of the synthetic table"}
