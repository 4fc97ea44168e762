"""Linkability risk (anonymeter): can the synthetic table link two halves of a real record?"""

from __future__ import annotations

from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._neighbours import nearest
from synllm_mlops.evaluation._risk import risk_breakdown


def count_links(idx_a: np.ndarray, idx_b: np.ndarray) -> int:
    """Rows whose k nearest synthetic rows by columns A and by columns B share at least one row."""
    return int((idx_a[:, :, None] == idx_b[:, None, :]).any(axis=(1, 2)).sum())


class LinkabilityRisk(Metric):
    """Residual risk that an attacker holding columns A of a person and, separately, columns B, links the
    two through the synthetic table.

    For every target record the ``n_neighbors`` nearest synthetic rows are found on columns A and on
    columns B (mixed-type distance); a link succeeds when the two sets share a row. Targets: train rows
    (seeded subsample, at most ``n_attacks``); control: as many holdout rows; baseline: random rows.
    The two disjoint column sets are a seeded random halving of the spec's columns unless given.
    """

    name = "privacy/linkability_risk"
    group = "privacy"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.0
    description = "anonymeter-style linkability risk between two disjoint column sets, train vs holdout control"

    def __init__(self, n_attacks: int = 2000, n_neighbors: int = 1,
                 aux_cols: tuple[list[str], list[str]] | None = None) -> None:
        self.n_attacks, self.n_neighbors, self.aux_cols = n_attacks, n_neighbors, aux_cols

    def _compute(self, data: EvalData) -> dict[str, Any]:
        cols = data.spec.column_names
        if len(cols) < 2:
            return skipped("needs at least two columns to split into two disjoint sets")
        if len(data.synthetic) < self.n_neighbors or min(len(data.train), len(data.holdout)) == 0:
            return skipped(f"needs at least n_neighbors={self.n_neighbors} synthetic rows and non-empty train and holdout")
        rng = data.rng("linkability")
        if self.aux_cols is None:
            perm = [cols[i] for i in rng.permutation(len(cols))]
            cols_a, cols_b = sorted(perm[: len(cols) // 2], key=cols.index), sorted(perm[len(cols) // 2:], key=cols.index)
        else:
            cols_a, cols_b = list(self.aux_cols[0]), list(self.aux_cols[1])
            unknown = [c for c in cols_a + cols_b if c not in cols]
            if unknown or set(cols_a) & set(cols_b):
                raise ValueError(f"aux_cols must be two disjoint lists of spec columns; unknown {unknown}, "
                                 f"shared {sorted(set(cols_a) & set(cols_b))}")
        n = min(self.n_attacks, len(data.reference_index("train")))
        tgt = data.reference_index("train")[np.sort(rng.choice(len(data.reference_index("train")), n, replace=False))]
        ctl = data.reference_index("holdout")[np.sort(rng.choice(len(data.reference_index("holdout")), n, replace=False))]
        enc, k = data.encoder, self.n_neighbors
        da, db = enc.dims(cols_a), enc.dims(cols_b)
        syn = data.encoded("synthetic")

        def links(rows: np.ndarray) -> int:
            _, ia = nearest(rows[:, da], syn[:, da], k)
            _, ib = nearest(rows[:, db], syn[:, db], k)
            return count_links(ia, ib)

        n_att = links(data.encoded("train")[tgt])
        n_ctl = links(data.encoded("holdout")[ctl])
        n_base = count_links(rng.integers(len(syn), size=(n, k)), rng.integers(len(syn), size=(n, k)))
        out = risk_breakdown(n_att, n_ctl, n_base, n)
        out.update(columns_a=cols_a, columns_b=cols_b, n_neighbors=k, n_synthetic=len(syn))
        return out
