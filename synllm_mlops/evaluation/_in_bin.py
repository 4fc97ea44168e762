"""What the ``fidelity/in_bin_*`` metrics share: one fixed binning per numeric column and each value's place in its bin.

Steering and selection match *which* bin a value falls in; the digits inside the bin are the generator's own.
These diagnostics look only at those digits. The binning is train's deciles aligned to the column's precision
(:meth:`~synllm_mlops.release.Bins.from_values`: the cuts an exact run steers on), the end bins closed at
train's minimum and maximum, so a synthetic value beyond train's range sits outside ``[0, 1]`` in its bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData
from synllm_mlops.release import Bins
from synllm_mlops.spec import ColumnSpec

DECILES = 10


@dataclass(frozen=True)
class ColumnBinning:
    """A numeric column's fixed bins: interior ``cuts`` and ``edges = (train min, *cuts, train max)``."""

    cuts: np.ndarray
    edges: np.ndarray
    unit: float

    def place(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each value's bin and its position in the bin (0 at the lower edge; outside [0, 1] beyond train's range)."""
        k = np.searchsorted(self.cuts, x, side="right")
        lo, hi = self.edges[k], self.edges[k + 1]
        width = hi - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = np.where(width > 0, (x - lo) / np.where(width > 0, width, 1.0), 0.5)
        return k, pos

    def on_edge(self, x: np.ndarray) -> np.ndarray:
        """Whether a value is the lowest or the highest value its column can write inside its bin (at an interior cut)."""
        if not len(self.cuts):
            return np.zeros(len(x), dtype=bool)
        tol = self.unit / 2
        lower = np.abs(self.cuts[np.clip(np.searchsorted(self.cuts, x + tol) - 1, 0, None)] - x) < tol
        upper = np.abs(self.cuts[np.clip(np.searchsorted(self.cuts, x + self.unit - tol), None, len(self.cuts) - 1)]
                       - self.unit - x) < tol
        return lower | upper


def present(values: pd.Series) -> np.ndarray:
    """The non-missing values of a column as floats."""
    return pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)


def numeric_columns(data: EvalData) -> list[ColumnSpec]:
    """Numeric columns with at least two distinct train values (a binning needs a range)."""
    return [c for c in data.spec.columns if c.is_numeric and len(np.unique(present(data.train[c.name]))) >= 2]


def binning(data: EvalData, col: ColumnSpec) -> ColumnBinning:
    """The fixed binning of ``col`` (cached on ``data``)."""
    def build() -> ColumnBinning:
        x = present(data.train[col.name])
        cuts = np.asarray(Bins.from_values(col, data.train[col.name], DECILES).cuts, dtype=float)
        cuts = cuts[(cuts > x.min()) & (cuts <= x.max())]
        return ColumnBinning(cuts, np.concatenate([[x.min()], cuts, [x.max()]]), 10.0 ** -col.decimals)
    return data.cached(f"in_bin.{col.name}", build)


def weighted_ks(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance between two weighted samples (each side's weights normalised to 1)."""
    if not len(a) or not len(b) or wa.sum() <= 0 or wb.sum() <= 0:
        return float("nan")
    grid = np.unique(np.concatenate([a, b]))

    def cdf(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        cum = np.concatenate([[0.0], np.cumsum(w[order])]) / w.sum()
        return cum[np.searchsorted(x[order], grid, side="right")]
    return float(np.max(np.abs(cdf(a, wa) - cdf(b, wb))))
