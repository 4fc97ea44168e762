"""Reference tables every score is read against: the known-answer ladder and a cross-fitted real reference.

The ladder, from worst to best: verbatim copies of train (worst privacy), copies with a few columns
shuffled across rows (near copies: still one real patient per row, pairs with the shuffled columns
broken), independent marginals (every column's shape kept, every relation lost), and the real
reference (other real patients: the best quality a generator can honestly reach).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synllm_mlops.errors import DataError
from synllm_mlops.evaluation._evaluate import evaluate
from synllm_mlops.evaluation._result import EvaluationResult
from synllm_mlops.spec import DatasetSpec, split_data

#: columns permuted across rows in the column-shuffled rung (each row keeps all other fields of one patient)
SHUFFLED_COLUMNS = 2


def verbatim_copies(train: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` train rows (without replacement while train lasts)."""
    rng = np.random.default_rng([seed, 1])
    return train.iloc[rng.choice(len(train), n, replace=n > len(train))].reset_index(drop=True)


def independent_marginals(train: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Each column drawn independently, with replacement, from its values in ``train`` (missing included)."""
    rng = np.random.default_rng([seed, 2])
    return pd.DataFrame({c: train[c].to_numpy(object)[rng.integers(len(train), size=n)] for c in train.columns}) \
        .astype(train.dtypes.to_dict())


def column_shuffled(train: pd.DataFrame, n: int, seed: int, n_columns: int = SHUFFLED_COLUMNS) -> pd.DataFrame:
    """Verbatim copies with ``n_columns`` seeded columns each permuted across the rows: near copies."""
    rng = np.random.default_rng([seed, 3])
    out = verbatim_copies(train, n, seed)
    for c in rng.choice(out.columns, min(n_columns, out.shape[1]), replace=False):
        out[c] = out[c].to_numpy()[rng.permutation(n)]
    return out


def half_copies(train: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Half verbatim train rows, half independent marginals (the table of issue 20 that privacy must fail)."""
    return pd.concat([verbatim_copies(train, n // 2, seed), independent_marginals(train, n - n // 2, seed)],
                     ignore_index=True)


def ladder_tables(train: pd.DataFrame, n: int, seed: int) -> dict[str, pd.DataFrame]:
    """The trivial rungs of the ladder, ``n`` rows each, from worst to best privacy."""
    return {"verbatim copies": verbatim_copies(train, n, seed), "half copies": half_copies(train, n, seed),
            "column-shuffled": column_shuffled(train, n, seed),
            "independent marginals": independent_marginals(train, n, seed)}


@dataclass
class RealReference:
    """What real patients the generator never saw score, cross-fitted.

    Attributes:
        metrics: every metric and score, the mean of the two folds (NaN only where both are NaN).
        folds: the two evaluations (holdout half A scored with half B as the holdout, and B with A).
    """

    metrics: dict[str, float]
    folds: list[EvaluationResult] = field(default_factory=list)


def real_reference(train: pd.DataFrame, holdout: pd.DataFrame, spec: DatasetSpec, *, seed: int = 0) -> RealReference:
    """Score real holdout rows as if they were a synthetic table, without letting them test themselves.

    The holdout is split in two halves A and B (seeded, stratified on the target where possible). A is
    evaluated as the "synthetic" table with B as the holdout (B is the utility test set and the privacy
    control), then B with A; the metrics are averaged. Scoring the whole holdout against itself gave TSTR
    = TRTR-on-the-test-set (utility 1 by construction) and a DCR share of 0 (every row is its own nearest
    holdout row). The halves are smaller than the holdout a generator is scored with, so holdout-side
    figures (TSTR, DCR, membership) are noisier here.

    Example:
        >>> from synllm_mlops.spec import load_spec, load_data, split_data
        >>> spec = load_spec("breast_cancer"); split = split_data(load_data(spec), spec, seed=0)
        >>> ref = real_reference(split.train, split.holdout, spec, seed=0)  # doctest: +SKIP
        >>> ref.metrics["utility/tstr_auc"] < 1.0  # doctest: +SKIP
        True
    """
    if len(holdout) < 4:
        raise DataError(f"real_reference needs at least 4 holdout rows to cross-fit two halves, got {len(holdout)}; "
                        "use a larger holdout_fraction in split_data")
    halves = split_data(holdout.reset_index(drop=True), spec, seed=seed, holdout_fraction=0.5)
    a, b = halves.train, halves.holdout
    folds = [evaluate(train, b, a, spec, seed=seed), evaluate(train, a, b, spec, seed=seed)]
    metrics = {}
    for name in folds[0].metrics:
        vals = [f.metrics.get(name, math.nan) for f in folds]
        vals = [v for v in vals if not math.isnan(v)]
        metrics[name] = float(np.mean(vals)) if vals else math.nan
    return RealReference(metrics=metrics, folds=folds)
