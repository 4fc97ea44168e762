"""The metric contract and the prepared inputs that metrics share (encodings, neighbour searches)."""

from __future__ import annotations

import math
import zlib
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, Literal

import numpy as np
import pandas as pd

from synllm_mlops.errors import ContractViolation
from synllm_mlops.errors import DataError
from synllm_mlops.evaluation._encoding import MixedEncoder
from synllm_mlops.evaluation._neighbours import nearest
from synllm_mlops.spec import DatasetSpec

Goal = Literal["maximize", "minimize"]


def skipped(reason: str, **extra: Any) -> dict[str, Any]:
    """The breakdown of a metric that cannot be computed on these inputs: NaN plus the reason."""
    return {"score": math.nan, "skipped": reason, **extra}


class EvalData:
    """One evaluation's inputs plus caches shared by metrics (encodings, DCR searches, models).

    Args:
        train: real rows the generator saw (directly or through statistics).
        holdout: real rows it never saw: the privacy control and the utility test set.
        synthetic: the table to evaluate.
        spec: the dataset spec the three frames follow.
        seed: every random draw (subsamples, CV folds, models) derives from it.
    """

    def __init__(self, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 spec: DatasetSpec, *, seed: int = 0) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {seed!r}; pass seed=0 (or any integer)")
        self.spec = spec
        self.seed = int(seed)
        self.train = self._check(train, "train")
        self.holdout = self._check(holdout, "holdout")
        self.synthetic = self._check(synthetic, "synthetic")
        self._cache: dict[str, Any] = {}

    def _check(self, df: pd.DataFrame, role: str) -> pd.DataFrame:
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"{role} must be a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in self.spec.column_names if c not in df.columns]
        if missing:
            raise DataError(f"{role} table lacks spec {self.spec.name!r} columns {missing}; "
                            "type it with synllm_mlops.spec.conform(df, spec) first")
        # id or other extra columns are dropped: they must never reach a metric
        return df[self.spec.column_names].reset_index(drop=True)

    def rng(self, tag: str) -> np.random.Generator:
        """A generator for one purpose: results do not depend on the order metrics run in."""
        return np.random.default_rng([self.seed, zlib.crc32(tag.encode())])

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def encoder(self) -> MixedEncoder:
        return self.cached("encoder", lambda: MixedEncoder.fit(self.spec, [self.train, self.holdout, self.synthetic]))

    def encoded(self, role: Literal["train", "holdout", "synthetic"]) -> np.ndarray:
        return self.cached(f"enc.{role}", lambda: self.encoder.transform(getattr(self, role)))

    def reference_index(self, role: Literal["train", "holdout"]) -> np.ndarray:
        """Rows of train / holdout forming two equal-size reference sets (the larger one subsampled)."""
        def build() -> np.ndarray:
            n = min(len(self.train), len(self.holdout))
            size = len(getattr(self, role))
            if size == n:
                return np.arange(n)
            return np.sort(self.rng(f"reference.{role}").choice(size, n, replace=False))
        return self.cached(f"ref.{role}", build)

    def dcr(self, role: Literal["train", "holdout"]) -> tuple[np.ndarray, np.ndarray]:
        """Distances (``(n_syn, k)``, k <= 2) from each synthetic row to its closest reference rows."""
        def build() -> tuple[np.ndarray, np.ndarray]:
            ref = self.encoded(role)[self.reference_index(role)]
            return nearest(self.encoded("synthetic"), ref, k=min(2, len(ref)))
        return self.cached(f"dcr.{role}", build)


class Metric(ABC):
    """A small stateless metric: it declares its direction, range and baseline and computes one float.

    ``baseline`` is the value that means "no signal" (0.5 for an AUC or a DCR share, 0 for a risk);
    ``None`` where the natural reference depends on the data, in which case the breakdown carries a
    ``"reference"``: the same metric with the real holdout in place of the synthetic table.
    """

    name: ClassVar[str]
    group: ClassVar[str]
    goal: ClassVar[Goal]
    min_value: ClassVar[float]
    max_value: ClassVar[float]
    baseline: ClassVar[float | None] = None
    description: ClassVar[str] = ""
    #: also compute the metric for holdout-vs-train as a data-dependent reference (cheap metrics only)
    holdout_reference: ClassVar[bool] = False

    def compute(self, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                spec: DatasetSpec, *, seed: int = 0) -> float:
        """The metric's value (NaN when it cannot be computed; see :meth:`compute_breakdown` for why)."""
        return self.compute_breakdown(train, holdout, synthetic, spec, seed=seed)["score"]

    def compute_breakdown(self, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                          spec: DatasetSpec, *, seed: int = 0) -> dict[str, Any]:
        """The value under ``"score"`` plus its parts (per column, per rule, sample sizes, skip reasons)."""
        return self.compute_prepared(EvalData(train, holdout, synthetic, spec, seed=seed))

    def compute_prepared(self, data: EvalData) -> dict[str, Any]:
        """:meth:`compute_breakdown` on inputs already prepared (shares caches across metrics)."""
        out = self._compute(data)
        score = float(out["score"])
        if not math.isnan(score) and not (self.min_value - 1e-9 <= score <= self.max_value + 1e-9):
            raise ContractViolation(f"{self.name} must lie in its declared range [{self.min_value}, {self.max_value}], "
                                    f"got {score}: a bug in the metric, not a property of the data")
        out["score"] = score
        return out

    @abstractmethod
    def _compute(self, data: EvalData) -> dict[str, Any]:
        """Return the breakdown dict with a float ``"score"``."""

    def info(self) -> dict[str, Any]:
        """The declaration that goes into the report next to the value."""
        return {"group": self.group, "goal": self.goal, "min_value": self.min_value, "max_value": self.max_value,
                "baseline": self.baseline, "description": self.description}
