"""Bins of one column: the one unit in which everything released about real data is counted.

A numeric column is cut at interior ``cuts``: bin ``k`` holds ``cuts[k-1] <= x < cuts[k]`` (the first bin
starts at ``lo``, the last ends at ``hi``, inclusive; a release bounds them by a released quantile,
:meth:`Bins.bounded`, so steering never offers values beyond it). A categorical column has one bin per category. A
column with ``has_missing`` adds a last bin for ``NA``.

Two ways to count a value, for two purposes:

* :meth:`Bins.codes` — calibration and selection: a value that fits no bin (a category the spec does not
  list, a missing value without an NA bin) is ``-1`` and counted nowhere;
* :meth:`Bins.total_codes` — DP releases: every value falls in exactly one bin (out-of-range numbers in
  the end bins, anything unreadable in the NA bin), so one row more or less changes one count by one.

Bins come from the spec (:func:`spec_bins`, :meth:`Bins.from_spec`: data-independent), from an earlier DP
release (:func:`~synllm_mlops.release.quantile_bins`), or from train's quantiles (:meth:`Bins.from_values`:
exact, non-private runs only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from synllm_mlops.spec import NA_TOKEN, ColumnSpec, normalise_category

DEFAULT_BINS = 16
LOG_DECADES = 1.5  # a numeric range wider than this many decades (and min > 0) gets log-spaced bins


@dataclass(frozen=True)
class Bins:
    """How one column's values map to bins.

    Attributes:
        column: the column name.
        numeric: numeric (``cuts``) or categorical (``labels``).
        cuts: interior cut points of a numeric column, ascending.
        labels: the categories of a categorical column, in spec order (the NA bin is not among them).
        has_missing: whether the last bin is ``NA``.
        decimals: the column's precision when the cuts are aligned to it (every bin then holds a value
            the column can be written as), else ``None``.
        lo: the first bin's lower end; hi: the last bin's upper end (numeric).
        log: whether spec cuts are log-spaced.
    """

    column: str
    numeric: bool
    cuts: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()
    has_missing: bool = False
    decimals: int | None = None
    lo: float = -math.inf
    hi: float = math.inf
    log: bool = False

    @property
    def n_values(self) -> int:
        """Bins for present values (without the NA bin)."""
        return len(self.cuts) + 1 if self.numeric else len(self.labels)

    @property
    def n_bins(self) -> int:
        return self.n_values + int(self.has_missing)

    @property
    def missing_bin(self) -> int | None:
        return self.n_values if self.has_missing else None

    @property
    def edges(self) -> tuple[float, ...]:
        """All edges of a numeric column, ``(lo, *cuts, hi)``."""
        return (self.lo, *self.cuts, self.hi)

    @property
    def categories(self) -> tuple[str, ...]:
        """The value bins' labels (every bin but NA)."""
        return tuple(self.label(k) for k in range(self.n_values))

    @classmethod
    def from_values(cls, col: ColumnSpec, values: pd.Series, n_bins: int) -> "Bins":
        """Bins at the quantiles of ``values`` (numeric) or the spec's categories; NA bin where nullable. Not private."""
        has_missing = bool(col.nullable or values.isna().any())
        if not col.is_numeric:
            return cls(col.name, False, labels=tuple(col.categories), has_missing=has_missing)
        x = values.dropna().astype(float).to_numpy()
        qs = np.quantile(x, np.linspace(0, 1, n_bins + 1)[1:-1]) if len(x) else np.array([])
        return cls._aligned(col, qs, has_missing)

    @classmethod
    def from_spec(cls, col: ColumnSpec, n_bins: int) -> "Bins":
        """:func:`spec_bins` aligned to the column's precision, NA bin only where nullable (data-independent)."""
        if not col.is_numeric:
            return cls(col.name, False, labels=tuple(col.categories), has_missing=col.nullable)
        return cls._aligned(col, np.asarray(spec_bins(col, n_bins).cuts), col.nullable)

    @classmethod
    def _aligned(cls, col: ColumnSpec, cuts: np.ndarray, has_missing: bool) -> "Bins":
        scale = 10**col.decimals
        lo, hi = float(col.min), float(col.max)
        units = sorted({int(math.ceil(round(c * scale, 6))) for c in cuts})
        lo_u, hi_u = math.ceil(round(lo * scale, 6)), math.floor(round(hi * scale, 6))
        # every bin must hold a writable value: cuts strictly inside (lo, hi]
        cuts = tuple(u / scale for u in units if lo_u < u <= hi_u)
        return cls(col.name, True, cuts=cuts, has_missing=has_missing, decimals=col.decimals, lo=lo, hi=hi)

    def codes(self, values: pd.Series) -> np.ndarray:
        """Bin index of every value (missing -> the NA bin; a value that fits no bin -> -1)."""
        values = pd.Series(values)
        miss = values.isna().to_numpy()
        out = np.full(len(values), -1, dtype=np.int64)
        if self.numeric:
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            ok = ~miss & ~np.isnan(x)
            out[ok] = np.searchsorted(np.asarray(self.cuts, dtype=float), x[ok], side="right")
        else:
            index = {c: i for i, c in enumerate(self.labels)}
            out[~miss] = [index.get(normalise_category(v), -1) for v in values[~miss]]
        if self.has_missing:
            out[miss] = self.n_values
        return out

    def total_codes(self, values: pd.Series) -> np.ndarray:
        """The bin of every value such that each falls in exactly one bin (needs ``has_missing``).

        Numbers below ``lo`` (above ``hi``) fall in the first (last) bin; missing or unreadable values and
        categories the spec does not list fall in the NA bin. So a row added to or removed from a table
        changes exactly one count of a histogram over these bins: L1 sensitivity 1.
        """
        if not self.has_missing:
            raise ValueError(f"bins of {self.column!r} have no NA bin: DP counts need one for unreadable values")
        codes = self.codes(values)
        return np.where(codes < 0, self.n_values, codes).astype(np.int64)

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
        return int(np.searchsorted(np.asarray(self.cuts, dtype=float), x, side="right"))

    def bounds(self, k: int) -> tuple[float, float]:
        """``[lo, hi)`` of numeric bin ``k``; the last bin is closed, ``[cuts[-1], hi]`` (see :meth:`closed`)."""
        lo = self.cuts[k - 1] if k > 0 else self.lo
        hi = self.cuts[k] if k < len(self.cuts) else self.hi
        return lo, hi

    def closed(self, k: int) -> bool:
        """Whether numeric bin ``k`` includes its upper bound (the last value bin does)."""
        return k >= len(self.cuts)

    def bounded(self, lo: float, hi: float) -> "Bins":
        """These bins with the first bin starting at ``lo`` and the last ending at ``hi``, rounded outward to the precision.

        Steering draws a value inside its bin, so an end bin that runs to the spec's limit lets the generator
        write values no patient has (a model forced into the top bin writes its upper bound). The ends come
        from a released quantile. Cuts and counts stay as they are: each end bin keeps at least one value the
        column can write, and the ends stay inside the spec range.
        """
        if not self.numeric:
            return self
        lo, hi = max(lo, self.lo), min(hi, self.hi)  # never beyond the spec range (an infinite end: no bound)
        scale = 10 ** (self.decimals or 0)
        lo_v = math.floor(round(lo * scale, 6)) / scale if self.decimals is not None else lo
        hi_v = math.ceil(round(hi * scale, 6)) / scale if self.decimals is not None else hi
        unit = 1 / scale if self.decimals is not None else 0.0
        if self.cuts:
            lo_v, hi_v = min(lo_v, self.cuts[0] - unit), max(hi_v, self.cuts[-1])
        lo_v, hi_v = max(lo_v, self.lo), min(hi_v, self.hi)
        if self.decimals is not None:  # cuts[0] - unit in binary floating point: 0.3 - 0.1 = 0.19999999999999998
            lo_v, hi_v = round(lo_v, self.decimals), round(hi_v, self.decimals)
        return replace(self, lo=float(lo_v), hi=float(max(hi_v, lo_v)))

    def label(self, k: int) -> str:
        """A human-readable name of bin ``k``."""
        if k == self.missing_bin:
            return NA_TOKEN
        if not self.numeric:
            return self.labels[k]
        lo, hi = self.bounds(k)
        return f"[{lo:.4g}, {hi:.4g}]" if self.closed(k) else f"[{lo:.4g}, {hi:.4g})"

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
            d.update(cuts=list(self.cuts), decimals=self.decimals, min=self.lo, max=self.hi, log=self.log)
        else:
            d["labels"] = list(self.labels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Bins":
        if d["kind"] == "numeric":
            cuts = d["cuts"] if "cuts" in d else d["edges"]  # "edges": targets logged before the release stage
            return cls(d["column"], True, cuts=tuple(cuts), has_missing=d["has_missing"],
                       decimals=d["decimals"], lo=d["min"], hi=d["max"], log=d.get("log", False))
        return cls(d["column"], False, labels=tuple(d["labels"]), has_missing=d["has_missing"])


def spec_bins(column: ColumnSpec, n_bins: int = DEFAULT_BINS) -> Bins:
    """Fixed bins of ``column`` from its spec, for DP releases: ``n_bins`` value bins over [min, max] + NA.

    Numeric bins are equal-width, or log-spaced when ``min > 0`` and the range spans more than
    :data:`LOG_DECADES` decades (lab values such as bilirubin). Nothing here reads data, so the bins
    themselves release nothing. Categorical: the spec's categories + NA.

    Example:
        >>> from synllm_mlops.spec import ColumnSpec
        >>> b = spec_bins(ColumnSpec(name="age", type="numeric", min=0, max=100), n_bins=4)
        >>> [b.label(k) for k in range(b.n_bins)], b.total_codes(pd.Series([5, 99, None])).tolist()
        (['[0, 25)', '[25, 50)', '[50, 75)', '[75, 100]', 'NA'], [0, 3, 4])
    """
    if not column.is_numeric:
        return Bins(column.name, False, labels=tuple(column.categories), has_missing=True)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    lo, hi = float(column.min), float(column.max)
    n_bins = n_bins if hi > lo else 1
    log = lo > 0 and math.log10(hi / lo) > LOG_DECADES
    edges = np.geomspace(lo, hi, n_bins + 1) if log else np.linspace(lo, hi, n_bins + 1)
    edges[0], edges[-1] = lo, hi  # exact ends despite rounding in geomspace
    return numeric_bins(column.name, edges, log)


def numeric_bins(column: str, edges: np.ndarray | list[float], log: bool = False) -> Bins:
    """Bins ``[edges[i], edges[i+1])`` (the last one closed) + NA, from ascending ``edges``."""
    edges = [float(e) for e in edges]
    return Bins(column, True, cuts=tuple(edges[1:-1]), has_missing=True, lo=edges[0], hi=edges[-1], log=log)
