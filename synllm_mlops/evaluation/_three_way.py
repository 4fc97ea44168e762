"""Three-way marginals against the holdout on holdout-tercile bins: structure no released table holds."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._joint import holdout_bin_codes, joint_similarity, too_small


class ThreeWayMarginals(Metric):
    """Mean over column triples of 1 - TV between the synthetic and holdout 3-way tables, on holdout terciles.

    The release holds one- and two-way tables only, so three-way structure is something a generator
    reproduces or not on its own. Numbers are cut at holdout terciles, categories kept, missing a level.
    With more than ``max_triples`` triples a seeded sample is scored. The breakdown's ``reference`` is
    the same measure with real train in place of the synthetic table.
    """

    name = "fidelity/three_way"
    group = "fidelity"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    description = "mean over column triples of 1-TV of 3-way tables, synthetic vs holdout, numbers at holdout terciles (not optimised)"

    def __init__(self, max_triples: int = 1000) -> None:
        self.max_triples = max_triples

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if (why := too_small(data)) is not None:
            return skipped(why)
        if len(data.spec.columns) < 3:
            return skipped("needs at least three columns")
        codes = holdout_bin_codes(data)
        hold = codes["holdout"]
        triples = list(combinations(data.spec.column_names, 3))
        n_all = len(triples)
        if n_all > self.max_triples:
            pick = np.sort(data.rng("three_way").choice(n_all, self.max_triples, replace=False))
            triples = [triples[i] for i in pick]

        def score(role: str) -> float:
            return float(np.mean([joint_similarity([hold[c] for c in t], [codes[role][c] for c in t]) for t in triples]))
        return {"score": score("synthetic"), "n_triples": len(triples), "n_triples_all": n_all,
                "reference": score("train") if len(data.train) else None,
                "reference_note": "the same measure with real train in place of the synthetic table"}
