"""Bins of one column: the unit in which calibration targets are released and generated rows counted.

A numeric column is cut at edges aligned to its precision (``decimals``): bin ``k`` holds the values
``edges[k-1] <= x < edges[k]`` (the first bin starts at the column's minimum, the last ends at its
maximum, inclusive). A categorical column has one bin per category. A nullable column (or one with
missing values) adds a last bin for ``NA``. Every bin holds at least one writable value, so a
sampler can always be steered into it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synllm_mlops.spec import NA_TOKEN, ColumnSpec


@dataclass(frozen=True)
class ColumnBins:
    """How one column's values map to bins.

    Attributes:
        column: the column name.
        numeric: numeric (``edges``) or categorical (``labels``).
        edges: interior cut points of a numeric column, strictly increasing, at the column's precision.
        labels: the categories of a categorical column, in spec order.
        has_missing: whether the last bin is ``NA``.
        decimals: the column's precision (numeric only).
    """

    column: str
    numeric: bool
    edges: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()
    has_missing: bool = False
    decimals: int = 0
    lo: float = -math.inf
    hi: float = math.inf

    @property
    def n_values(self) -> int:
        """Bins for present values (without the missing bin)."""
        return len(self.edges) + 1 if self.numeric else len(self.labels)

    @property
    def n_bins(self) -> int:
        return self.n_values + int(self.has_missing)

    @property
    def missing_bin(self) -> int | None:
        return self.n_values if self.has_missing else None

    @classmethod
    def from_values(cls, col: ColumnSpec, values: pd.Series, n_bins: int) -> "ColumnBins":
        """Quantile bins of ``values`` (numeric) or the spec's categories; ``NA`` bin where nullable."""
        has_missing = bool(col.nullable or values.isna().any())
        if not col.is_numeric:
            return cls(col.name, False, labels=tuple(col.categories), has_missing=has_missing)
        x = values.dropna().astype(float).to_numpy()
        qs = np.quantile(x, np.linspace(0, 1, n_bins + 1)[1:-1]) if len(x) else np.array([])
        return cls._numeric(col, qs, has_missing)

    @classmethod
    def from_spec(cls, col: ColumnSpec, n_bins: int) -> "ColumnBins":
        """Data-independent bins (the DP package's spec bins, at the column's precision), for DP releases."""
        from synllm_mlops.privacy import spec_bins

        if not col.is_numeric:
            return cls(col.name, False, labels=tuple(col.categories), has_missing=col.nullable)
        return cls._numeric(col, np.asarray(spec_bins(col, n_bins).edges[1:-1]), col.nullable)

    @classmethod
    def _numeric(cls, col: ColumnSpec, cuts: np.ndarray, has_missing: bool) -> "ColumnBins":
        scale = 10**col.decimals
        lo, hi = float(col.min), float(col.max)
        units = sorted({int(math.ceil(round(c * scale, 6))) for c in cuts})
        lo_u, hi_u = math.ceil(round(lo * scale, 6)), math.floor(round(hi * scale, 6))
        # every bin must hold a writable value: edges strictly inside (lo, hi]
        edges = tuple(u / scale for u in units if lo_u < u <= hi_u)
        return cls(col.name, True, edges=edges, has_missing=has_missing, decimals=col.decimals, lo=lo, hi=hi)

    def codes(self, values: pd.Series) -> np.ndarray:
        """Bin index of every value (missing -> the NA bin; a missing value without one -> -1)."""
        miss = values.isna().to_numpy()
        out = np.full(len(values), -1, dtype=np.int64)
        if self.numeric:
            x = values.astype(float).to_numpy()
            out[~miss] = np.searchsorted(np.asarray(self.edges, dtype=float), x[~miss], side="right")
        else:
            index = {c: i for i, c in enumerate(self.labels)}
            out[~miss] = [index.get(str(v), -1) for v in values[~miss]]
        if self.has_missing:
            out[miss] = self.n_values
        return out

    def code_text(self, text: str) -> int:
        """Bin of one field as written in the CSV (``NA`` for missing); -1 when it fits no bin."""
        if text == NA_TOKEN:
            return self.n_values if self.has_missing else -1
        if not self.numeric:
            try:
                return self.labels.index(text)
            except ValueError:
                return -1
        try:
            x = float(text)
        except ValueError:
            return -1
        return int(np.searchsorted(np.asarray(self.edges, dtype=float), x, side="right"))

    def bounds(self, k: int) -> tuple[float, float]:
        """``[lo, hi)`` of numeric bin ``k`` (the last bin is closed at the column maximum)."""
        lo = self.edges[k - 1] if k > 0 else self.lo
        hi = self.edges[k] if k < len(self.edges) else math.inf
        return lo, hi

    def label(self, k: int) -> str:
        """A human-readable name of bin ``k``."""
        if k == self.missing_bin:
            return NA_TOKEN
        if not self.numeric:
            return self.labels[k]
        lo, hi = self.bounds(k)
        return f"[{lo:g}, {hi:g})" if math.isfinite(hi) else f"[{lo:g}, {self.hi:g}]"

    def coarse(self, n_coarse: int) -> np.ndarray:
        """Map from each bin to one of at most ``n_coarse`` value groups (+ NA kept apart): adjacent numeric bins merge."""
        if not self.numeric or self.n_values <= n_coarse:
            return np.arange(self.n_bins)
        groups = (np.arange(self.n_values) * n_coarse) // self.n_values
        if self.has_missing:
            groups = np.append(groups, n_coarse)
        return groups

    def to_dict(self) -> dict:
        d = {"column": self.column, "kind": "numeric" if self.numeric else "categorical",
             "has_missing": self.has_missing}
        if self.numeric:
            d.update(edges=list(self.edges), decimals=self.decimals, min=self.lo, max=self.hi)
        else:
            d["labels"] = list(self.labels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ColumnBins":
        if d["kind"] == "numeric":
            return cls(d["column"], True, edges=tuple(d["edges"]), has_missing=d["has_missing"],
                       decimals=d["decimals"], lo=d["min"], hi=d["max"])
        return cls(d["column"], False, labels=tuple(d["labels"]), has_missing=d["has_missing"])
