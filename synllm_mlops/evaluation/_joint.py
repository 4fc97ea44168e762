"""Joint frequency tables on bins the release never used: the shared part of the unoptimised fidelity checks.

The release bins numeric columns at train deciles (merged into train quintiles for its pair tables) and
selection matches those cells, so measures on those bins grade the generator's own objective. These
checks use *holdout terciles* instead (cut points computed from rows the generator never saw) and
compare with the holdout: a generator that only fitted the released cells gains nothing here.
"""

from __future__ import annotations

import numpy as np

from synllm_mlops.evaluation._base import EvalData
from synllm_mlops.evaluation._column_pair_trends import pair_codes, quantile_edges

N_BINS = 3
MIN_HOLDOUT_ROWS = 10


def holdout_bin_codes(data: EvalData) -> dict[str, dict[str, np.ndarray]]:
    """Codes per role (holdout, synthetic, train) and column: holdout terciles for numbers, categories as is."""
    def build() -> dict[str, dict[str, np.ndarray]]:
        edges = quantile_edges(data.holdout, data.spec, N_BINS)
        return {role: pair_codes(getattr(data, role), data.spec, edges) for role in ("holdout", "synthetic", "train")}
    return data.cached("joint.holdout_terciles", build)


def joint_similarity(real: list[np.ndarray], syn: list[np.ndarray]) -> float:
    """1 - total-variation distance between the joint frequency tables of the columns in ``real`` / ``syn``."""
    index_r, index_s = np.zeros(len(real[0]), np.int64), np.zeros(len(syn[0]), np.int64)
    size = 1
    for r, s in zip(real, syn):
        width = int(max(r.max(initial=0), s.max(initial=0))) + 1
        index_r, index_s, size = index_r * width + r, index_s * width + s, size * width
    p = np.bincount(index_r, minlength=size) / len(index_r)
    q = np.bincount(index_s, minlength=size) / len(index_s)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def too_small(data: EvalData) -> str | None:
    """The skip reason when the tables cannot support holdout-bin tables, else None."""
    if len(data.synthetic) == 0:
        return "the synthetic table has no rows"
    if len(data.holdout) < MIN_HOLDOUT_ROWS:
        return f"needs at least {MIN_HOLDOUT_ROWS} holdout rows to cut terciles, got {len(data.holdout)}"
    return None
