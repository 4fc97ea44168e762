"""Feature pair trends: the column pair trend score over the pairs a ``target`` release never publishes."""

from __future__ import annotations

from itertools import combinations
from typing import Any

from synllm_mlops.evaluation._base import EvalData, Metric
from synllm_mlops.evaluation._column_pair_trends import pair_trends


class FeaturePairTrends(Metric):
    """``fidelity/column_pair_trends`` restricted to the pairs of two non-target columns.

    A release at level ``target`` holds the marginals and the target x feature tables, so steering and
    selection can fit every pair that involves the target but none of these: whatever dependence between
    two features a table shows here was written by the generator (the model, its prompt) or is chance.
    The per-pair formula is the parent metric's (``1 - |r_real - r_syn| / 2`` for numeric pairs, ``1 - TV``
    of the train-quintile joint table otherwise); the score is their mean. With no target every pair counts.
    """

    name = "fidelity/feature_pair_trends"
    group = "fidelity"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    description = ("column_pair_trends over the feature-feature pairs only (no target column): the pairs a "
                   "target-level release leaves unreleased (not optimised at that level)")
    holdout_reference = True

    def _compute(self, data: EvalData) -> dict[str, Any]:
        features = [c for c in data.spec.column_names if c != data.spec.target]
        return pair_trends(data, list(combinations(features, 2)))
