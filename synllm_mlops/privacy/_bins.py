"""Fixed, data-independent bins of a spec column: every row falls in exactly one bin."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synllm_mlops.spec import NA_TOKEN, ColumnSpec, normalise_category

DEFAULT_BINS = 16
LOG_DECADES = 1.5  # a numeric range wider than this many decades (and min > 0) gets log-spaced bins


@dataclass(frozen=True)
class Bins:
    """The bins of one column, missing last, fixed before any count on them is read.

    They come from the spec (:func:`spec_bins`) or from an earlier DP release (``quantile_bins``),
    never from the raw data: the bins themselves must release nothing.

    Numeric: ``len(edges) - 1`` value bins ``[edges[i], edges[i+1])`` (the last one closed), then
    the missing bin. Categorical: one bin per spec category, then the missing bin.

    Attributes:
        column: the column name.
        labels: one label per bin, the missing bin's is ``"NA"``.
        edges: value-bin edges of a numeric column (ascending, from the spec's min to its max);
            empty for a categorical one.
        log: whether the numeric edges are log-spaced.
    """

    column: str
    labels: tuple[str, ...]
    edges: tuple[float, ...] = ()
    log: bool = False

    @property
    def numeric(self) -> bool:
        return bool(self.edges)

    @property
    def n_bins(self) -> int:
        """Number of bins, the missing bin included."""
        return len(self.labels)

    @property
    def missing(self) -> int:
        """Index of the missing bin (the last one)."""
        return len(self.labels) - 1

    @property
    def categories(self) -> tuple[str, ...]:
        """Labels of the value bins (every bin but the missing one)."""
        return self.labels[:-1]

    def codes(self, values: pd.Series) -> np.ndarray:
        """The bin of each value, as int64 in ``[0, n_bins)``: one bin per row, whatever the row holds.

        Numeric values below the spec's min (above its max) fall in the first (last) bin; missing or
        non-numeric values, and categories the spec does not list, fall in the missing bin. So a row
        added to or removed from a table changes exactly one count of a histogram over these bins.
        """
        if self.numeric:
            x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
            inner = np.asarray(self.edges[1:-1])
            codes = np.searchsorted(inner, np.nan_to_num(x, nan=0.0), side="right")
            return np.where(np.isnan(x), self.missing, codes).astype(np.int64)
        index = {c: i for i, c in enumerate(self.categories)}
        return np.fromiter((index.get(normalise_category(v), self.missing) for v in values), dtype=np.int64,
                           count=len(values))


def spec_bins(column: ColumnSpec, n_bins: int = DEFAULT_BINS) -> Bins:
    """Fixed bins of ``column`` from its spec: ``n_bins`` value bins over [min, max] + missing, or categories + missing.

    Numeric bins are equal-width, or log-spaced when ``min > 0`` and the range spans more than
    :data:`LOG_DECADES` decades (lab values such as bilirubin). Nothing here reads data, so the bins
    themselves release nothing.

    Example:
        >>> from synllm_mlops.spec import ColumnSpec
        >>> b = spec_bins(ColumnSpec(name="age", type="numeric", min=0, max=100), n_bins=4)
        >>> b.labels, b.codes(pd.Series([5, 99, None])).tolist()
        (('[0, 25)', '[25, 50)', '[50, 75)', '[75, 100]', 'NA'), [0, 3, 4])
    """
    if not column.is_numeric:
        return Bins(column.name, (*column.categories, NA_TOKEN))
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    lo, hi = float(column.min), float(column.max)
    n_bins = n_bins if hi > lo else 1
    log = lo > 0 and math.log10(hi / lo) > LOG_DECADES
    edges = np.geomspace(lo, hi, n_bins + 1) if log else np.linspace(lo, hi, n_bins + 1)
    edges[0], edges[-1] = lo, hi  # exact ends despite rounding in geomspace
    return numeric_bins(column.name, edges, log)


def numeric_bins(column: str, edges: np.ndarray | list[float], log: bool = False) -> Bins:
    """Bins ``[edges[i], edges[i+1])`` (the last one closed) + missing, from ascending ``edges``."""
    labels = [f"[{a:.4g}, {b:.4g})" for a, b in zip(edges[:-1], edges[1:])]
    labels[-1] = labels[-1][:-1] + "]"
    return Bins(column, (*labels, NA_TOKEN), tuple(float(e) for e in edges), log)
