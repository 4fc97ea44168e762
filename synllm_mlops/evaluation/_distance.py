"""Record-level closeness of synthetic rows to real ones: exact copies, DCR, nearest-neighbour ratio.

Every quantity is compared with the same quantity against the holdout, which the generator never saw:
synthetic rows that are closer to train than to holdout signal memorisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._encoding import row_keys


def _quantiles(x: np.ndarray) -> dict[str, float]:
    return {f"p{int(q * 100):02d}": float(np.quantile(x, q)) for q in (0.01, 0.05, 0.25, 0.5)} if len(x) else {}


class ExactMatchRate(Metric):
    """Share of synthetic rows equal to some train row after normalisation (numbers rounded to the
    spec's decimals, text stripped; missing equals missing)."""

    name = "privacy/exact_match_rate"
    group = "privacy"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.0
    description = "share of synthetic rows identical to a train row (reference: the same share for holdout rows)"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if len(data.synthetic) == 0:
            return skipped("the synthetic table has no rows")
        train = row_keys(data.train, data.spec)
        syn = row_keys(data.synthetic, data.spec)
        hold = row_keys(data.holdout, data.spec)
        hit = np.isin(syn, train)
        return {"score": float(hit.mean()), "n_matches": int(hit.sum()), "n_rows": len(syn),
                "synthetic_to_holdout_rate": float(np.isin(syn, hold).mean()),
                "reference": float(np.isin(hold, train).mean()) if len(hold) else None,
                "reference_note": "share of real holdout rows that equal a train row (natural duplicates)"}


class ExactMatchExcess(Metric):
    """Share of synthetic rows equal to a train row, beyond the natural rate (what ``score/privacy`` uses).

    The natural rate is the share of real holdout rows equal to some train row: a fresh real patient
    matches a train row that often by coincidence (tables of few, coarse columns), so a synthetic table
    that does the same reveals nothing. 0 when the holdout is empty (no natural rate can be measured).
    """

    name = "privacy/exact_match_excess"
    group = "privacy"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.0
    description = "max(0, exact_match_rate - share of holdout rows equal to a train row): copies beyond chance"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if len(data.synthetic) == 0:
            return skipped("the synthetic table has no rows")
        train = row_keys(data.train, data.spec)
        rate = float(np.isin(row_keys(data.synthetic, data.spec), train).mean())
        hold = row_keys(data.holdout, data.spec)
        natural = float(np.isin(hold, train).mean()) if len(hold) else 0.0
        return {"score": max(0.0, rate - natural), "exact_match_rate": rate, "natural_rate": natural,
                "natural_note": "share of real holdout rows equal to a train row (0 when the holdout is empty)"}


def _dcr_ready(data: EvalData) -> str | None:
    if len(data.synthetic) == 0:
        return "the synthetic table has no rows"
    if min(len(data.train), len(data.holdout)) == 0:
        return "needs non-empty train and holdout tables"
    return None


class DCRShareCloserToTrain(Metric):
    """Share of synthetic rows whose closest train row is closer than their closest holdout row.

    Train and holdout references have equal size (the larger one is subsampled, seeded); ties count
    half. 0.5 = no memorisation signal; 1 = every synthetic row sits nearer the training data.
    """

    name = "privacy/dcr_share_closer_to_train"
    group = "privacy"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.5
    description = "share of synthetic rows nearer to train than to an equal-size holdout (ties half; 0.5 = no signal)"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if (why := _dcr_ready(data)) is not None:
            return skipped(why)
        dt, dh = data.dcr("train")[0][:, 0], data.dcr("holdout")[0][:, 0]
        closer, ties = float((dt < dh).mean()), float((dt == dh).mean())
        return {"score": closer + 0.5 * ties, "share_strictly_closer": closer, "share_ties": ties,
                "n_synthetic": len(dt), "n_reference_each": int(len(data.reference_index("train"))),
                "dcr_train": _quantiles(dt), "dcr_holdout": _quantiles(dh),
                "encoding": "numeric scaled by spec range, categorical one-hot/sqrt2, missing indicators; Euclidean"}


class DCRQuantile(Metric):
    """A low quantile of the synthetic-to-train distance to closest record (reference: same to holdout).

    A p05 far below its holdout reference means some synthetic rows are near-copies of training rows.
    """

    group = "privacy"
    goal = "maximize"
    min_value, max_value = 0.0, float("inf")

    def __init__(self, q: float = 0.05) -> None:
        if not 0 <= q <= 1:
            raise ValueError(f"q must be in [0, 1], got {q}")
        self.q = q
        self.name = f"privacy/dcr_train_p{int(round(q * 100)):02d}"  # type: ignore[misc]
        self.description = (f"{q:.0%} quantile of synthetic->train DCR (reference: synthetic->holdout)")  # type: ignore[misc]

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if (why := _dcr_ready(data)) is not None:
            return skipped(why)
        dt, dh = data.dcr("train")[0][:, 0], data.dcr("holdout")[0][:, 0]
        return {"score": float(np.quantile(dt, self.q)), "reference": float(np.quantile(dh, self.q)),
                "reference_note": "same quantile of synthetic->holdout distances", "n_synthetic": len(dt)}


def nndr(dist: np.ndarray) -> np.ndarray:
    """Nearest / second-nearest distance ratio per row; 0/0 (a copy of a duplicated record) counts 0."""
    d1, d2 = dist[:, 0], dist[:, 1]
    return np.divide(d1, d2, out=np.zeros_like(d1), where=d2 > 0)


class NNDRQuantile(Metric):
    """A low quantile of the nearest-neighbour distance ratio to train (reference: the same to holdout).

    A ratio near 0 means the synthetic row points at one particular training record.
    """

    group = "privacy"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0

    def __init__(self, q: float = 0.05) -> None:
        if not 0 <= q <= 1:
            raise ValueError(f"q must be in [0, 1], got {q}")
        self.q = q
        self.name = f"privacy/nndr_train_p{int(round(q * 100)):02d}"  # type: ignore[misc]
        self.description = f"{q:.0%} quantile of nearest/second-nearest train distance ratio (reference: holdout)"  # type: ignore[misc]

    def _compute(self, data: EvalData) -> dict[str, Any]:
        if (why := _dcr_ready(data)) is not None:
            return skipped(why)
        dt, dh = data.dcr("train")[0], data.dcr("holdout")[0]
        if dt.shape[1] < 2:
            return skipped("needs at least 2 rows in each reference set")
        return {"score": float(np.quantile(nndr(dt), self.q)), "reference": float(np.quantile(nndr(dh), self.q)),
                "reference_note": "same quantile against holdout", "n_synthetic": len(dt)}
