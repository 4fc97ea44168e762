"""Calibration targets: binned marginals and pairwise tables of the real *train* split.

The only thing calibration ever reads about the real data. They are aggregate counts on bins —
never rows — released once per run (exactly, or under differential privacy when ``dp_epsilon`` is
set) and logged in the run's release artifact (``release/release.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from synllm_mlops.privacy import PrivacyBudget, discrete_laplace_variance, noisy_histogram, noisy_table2d
from synllm_mlops.release._bins import Bins
from synllm_mlops.release._estimates import binned_quantiles
from synllm_mlops.release._floor import MIN_CELL, floor_counts, public_count
from synllm_mlops.release._levels import DEFAULT_LEVEL, level_parts
from synllm_mlops.release._plan import PlannedRelease, allocate
from synllm_mlops.spec import DatasetSpec

SHRINKAGE = 0.3  # weight of independence in the released pairwise tables (see ``from_table``)
DP_BINS, DP_COARSE = 8, 4  # value bins and coarse groups per numeric column of a DP release
TAIL = 0.01  # the end bins are bounded at the TAIL and 1 - TAIL quantiles (see ``Bins.bounded``)


@dataclass
class CalibrationTargets:
    """Released statistics that steer and select generated rows.

    Attributes:
        bins: per spec column, its bins.
        marginals: per column, the share of rows in each bin (sums to 1).
        pairs: per column pair ``(i, j)``, ``i < j``, the joint shares on the coarse groups of both
            columns (``coarse[i]`` x ``coarse[j]``).
        coarse: per column, the map from bin to coarse group used by ``pairs``.
        n: how many rows the statistics describe (a noisy count under DP).
        source: ``exact`` or ``dp``.
        meta: how they were made; ``level`` (the release level) and ``released_pairs`` (the column-name pairs
            whose tables were released) say which of ``pairs`` are data: the others are the product of
            their released marginals and carry no dependence.
    """

    bins: list[Bins]
    marginals: list[np.ndarray]
    pairs: dict[tuple[int, int], np.ndarray]
    coarse: list[np.ndarray]
    n: float
    source: str = "exact"
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_table(cls, train: pd.DataFrame, spec: DatasetSpec, *, n_bins: int = 10, n_coarse: int = 5,
                   shrinkage: float = SHRINKAGE, level: str = "pairs", min_cell: int = 0) -> "CalibrationTargets":
        """Targets of ``train`` (numeric bins at its deciles), pairwise tables shrunk towards independence.

        ``level`` (:func:`~synllm_mlops.release.level_parts`) says which pair tables are released; the
        others are the product of the marginals, as on the DP path. Default: every pair (a full description).

        ``min_cell`` > 0 makes them releasable (``make_release`` passes :data:`MIN_CELL`): every marginal and
        pair count below it is set to 0 before shares are taken and before shrinkage (see
        :func:`~synllm_mlops.release.floor_counts`), and ``n`` is rounded (:func:`public_count`). Shrinkage alone
        does not hide a small cell: with the exact ``n`` and marginals, a shrunk table inverts exactly to its
        counts. ``min_cell=0`` keeps exact counts and ``n`` (known-answer tests on tiny frames).

        ``shrinkage`` mixes each pairwise table with the product of its marginals. A table of a few hundred
        rows has many cells held by one or two patients; matched exactly, they pull the synthetic rows
        towards those patients (measured: DCR share closer to train 0.54-0.61 unshrunk on cirrhosis, 0.49
        at 0.3, with pair trends 0.94 -> 0.93). The marginals are kept exact. The first and last numeric bins
        end at train's :data:`TAIL` and ``1 - TAIL`` quantiles rounded outward (not at its minimum and maximum,
        which are single patients' values).
        """
        bins = [_tail_bounded(Bins.from_values(c, train[c.name], n_bins), train[c.name]) for c in spec.columns]
        codes = [b.codes(train[b.column]) for b in bins]
        targets = cls.from_counts(bins, codes, n_coarse=n_coarse, min_cell=min_cell)
        return targets.only(level_parts(spec, level).pairs, level).shrunk(shrinkage)

    def only(self, released, level: str) -> "CalibrationTargets":
        """These targets with every pair table not in ``released`` replaced by the product of its marginals."""
        released = set(released)
        for (i, j), t in self.pairs.items():
            if (i, j) not in released:
                self.pairs[(i, j)] = self._independent(i, j, t.shape)
        names = [b.column for b in self.bins]
        self.meta.update(level=level, released_pairs=[[names[i], names[j]] for i, j in sorted(released)])
        return self

    def _independent(self, i: int, j: int, shape: tuple[int, int]) -> np.ndarray:
        mi = np.bincount(self.coarse[i], weights=self.marginals[i], minlength=shape[0])
        mj = np.bincount(self.coarse[j], weights=self.marginals[j], minlength=shape[1])
        return np.outer(mi, mj)

    @property
    def released_pairs(self) -> set[tuple[int, int]]:
        """The pairs ``(i, j)`` whose tables were released (targets saved before levels existed: all of them)."""
        if "released_pairs" not in self.meta:
            return set(self.pairs)
        index = {b.column: i for i, b in enumerate(self.bins)}
        return {(index[a], index[b]) for a, b in self.meta["released_pairs"]}

    @property
    def level(self) -> str | None:
        """The release level these targets were made at (``None`` for targets saved before levels existed)."""
        return self.meta.get("level")

    def shrunk(self, shrinkage: float) -> "CalibrationTargets":
        """These targets with every pairwise table mixed ``shrinkage`` : ``1 - shrinkage`` with independence."""
        if not 0 <= shrinkage <= 1:
            raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage}")
        for (i, j), t in self.pairs.items():
            self.pairs[(i, j)] = (1 - shrinkage) * t + shrinkage * self._independent(i, j, t.shape)
        self.meta["shrinkage"] = shrinkage
        return self

    @classmethod
    def release_dp(cls, train: pd.DataFrame, spec: DatasetSpec, epsilon: float | dict[str, float],
                   budget: PrivacyBudget, *, n_bins: int = DP_BINS, n_coarse: int = DP_COARSE,
                   level: str = DEFAULT_LEVEL) -> "CalibrationTargets":
        """Targets released under DP, charged to the run's ``budget``.

        Bins come from the spec (data-independent). Released (:func:`calibration_plan`), each with L1
        sensitivity 1 (one row changes one cell): every column's histogram and the coarse 2-way tables
        ``level`` releases (:func:`~synllm_mlops.release.level_parts`; by default the target's with every
        other column, every pair at ``pairs``, none at ``marginals``). ``epsilon`` is the part's
        total (split equally) or each release's share by label (the run's planner). Pairs not released
        are taken as independent (the product of their released marginals): a data-independent choice
        that keeps the number of releases, and so the noise, small. The end bins of a numeric column are
        bounded at the :data:`TAIL` quantiles read off its noisy histogram (post-processing: no extra epsilon).
        """
        plan = calibration_plan(spec, level)
        eps = allocate(plan, epsilon) if not isinstance(epsilon, dict) else epsilon
        bins = [Bins.from_spec(c, n_bins) for c in spec.columns]
        codes = [b.codes(train[b.column]) for b in bins]
        coarse = [b.coarse(n_coarse) for b in bins]
        released = level_parts(spec, level).pairs
        counts = []
        for b, c in zip(bins, codes):
            label = f"calibration:histogram:{b.column}"
            # the k-floor on noisy counts is post-processing: no count of 1-4 is published by either path
            noisy = floor_counts(noisy_histogram(c[c >= 0], b.n_bins, eps[label], budget, label))
            counts.append(_trim_tails(b, noisy, eps[label]))
        marginals = [_share(c) for c in counts]
        bins = [_dp_bounded(b, c, eps[f"calibration:histogram:{b.column}"]) for b, c in zip(bins, counts)]
        pairs = {}
        for i, j in combinations(range(len(bins)), 2):
            gi_n, gj_n = coarse[i].max() + 1, coarse[j].max() + 1
            if (i, j) in released:
                ok = (codes[i] >= 0) & (codes[j] >= 0)
                label = f"calibration:table:{bins[i].column}x{bins[j].column}"
                table = noisy_table2d(coarse[i][codes[i][ok]], coarse[j][codes[j][ok]], (gi_n, gj_n), eps[label],
                                      budget, label)
                pairs[(i, j)] = _share(floor_counts(table))
            else:
                mi = np.bincount(coarse[i], weights=marginals[i], minlength=gi_n)
                mj = np.bincount(coarse[j], weights=marginals[j], minlength=gj_n)
                pairs[(i, j)] = np.outer(mi, mj)
        n = float(np.mean([c.sum() for c in counts])) if counts else 0.0
        out = cls(bins, marginals, pairs, coarse, n, "dp",
                  {"min_cell": MIN_CELL, "epsilon": float(sum(eps[r.label] for r in plan)), "releases": len(plan),
                   "pairs_released": len(released)})
        return out.only(released, level)  # the unreleased pairs are already products: this records the level

    @classmethod
    def from_counts(cls, bins: list[Bins], codes: list[np.ndarray], *, n_coarse: int = 5,
                    source: str = "exact", meta: dict | None = None, min_cell: int = 0) -> "CalibrationTargets":
        """Targets counted from bin ``codes``; ``min_cell`` > 0 floors every count and rounds ``n`` (see ``from_table``)."""
        coarse = [b.coarse(n_coarse) for b in bins]
        marginals = [_share(floor_counts(np.bincount(c[c >= 0], minlength=b.n_bins), min_cell))
                     for b, c in zip(bins, codes)]
        pairs = {}
        for i, j in combinations(range(len(bins)), 2):
            ok = (codes[i] >= 0) & (codes[j] >= 0)
            gi, gj = coarse[i][codes[i][ok]], coarse[j][codes[j][ok]]
            shape = (coarse[i].max() + 1, coarse[j].max() + 1)
            table = np.zeros(shape)
            np.add.at(table, (gi, gj), 1)
            pairs[(i, j)] = _share(floor_counts(table, min_cell))
        n = float(len(codes[0])) if codes else 0.0
        meta = dict(meta or {}, **({"min_cell": min_cell} if min_cell else {}))
        return cls(bins, marginals, pairs, coarse, public_count(n) if min_cell else n, source, meta)

    def codes(self, df: pd.DataFrame) -> np.ndarray:
        """Bin codes of a table, one column per spec column (``-1`` where a value fits no bin)."""
        return np.stack([b.codes(df[b.column]) for b in self.bins], axis=1) if len(df) else \
            np.zeros((0, len(self.bins)), dtype=np.int64)

    def errors(self, df: pd.DataFrame) -> dict[str, float]:
        """Mean total-variation distance of ``df``'s marginals and released pairwise tables from the targets.

        ``pairwise_tv`` is NaN when the release holds no pair table (``release_level=marginals``): there is no
        released pair to be close to, and 0 would read as a perfect match (NaN metrics are not logged).
        """
        codes, released = self.codes(df), self.released_pairs
        if not len(codes):
            return {"marginal_tv": float("nan"), "pairwise_tv": float("nan")}
        m = [0.5 * np.abs(_share(np.bincount(c[c >= 0], minlength=b.n_bins)) - t).sum()
             for b, c, t in zip(self.bins, codes.T, self.marginals)]
        p = []
        for (i, j), t in self.pairs.items():
            if (i, j) not in released:
                continue
            ok = (codes[:, i] >= 0) & (codes[:, j] >= 0)
            table = np.zeros_like(t)
            np.add.at(table, (self.coarse[i][codes[ok, i]], self.coarse[j][codes[ok, j]]), 1)
            p.append(0.5 * np.abs(_share(table) - t).sum())
        return {"marginal_tv": float(np.mean(m)), "pairwise_tv": float(np.mean(p)) if p else float("nan")}

    def to_json(self) -> str:
        return json.dumps({
            "source": self.source, "n": self.n, "meta": self.meta,
            # full precision: a model registered from this artifact steers exactly as the run did
            "columns": [dict(b.to_dict(), marginal=[float(x) for x in m], coarse=c.tolist())
                        for b, m, c in zip(self.bins, self.marginals, self.coarse)],
            "pairs": [{"a": self.bins[i].column, "b": self.bins[j].column, "table": t.tolist()}
                      for (i, j), t in self.pairs.items()],
        }, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "CalibrationTargets":
        d = json.loads(text)
        bins = [Bins.from_dict(c) for c in d["columns"]]
        index = {b.column: i for i, b in enumerate(bins)}
        return cls(bins, [np.asarray(c["marginal"], dtype=float) for c in d["columns"]],
                   {(index[p["a"]], index[p["b"]]): np.asarray(p["table"], dtype=float) for p in d["pairs"]},
                   [np.asarray(c["coarse"], dtype=np.int64) for c in d["columns"]], float(d["n"]),
                   d["source"], d.get("meta", {}))


def _tail_bounded(bins: Bins, values: pd.Series) -> Bins:
    x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    return bins.bounded(*np.quantile(x, (TAIL, 1 - TAIL))) if bins.numeric and len(x) else bins


def _noise_floor(epsilon: float) -> float:
    """Two noise sds of a sensitivity-1 count at ``epsilon``: a noisy count below this is indistinguishable from 0."""
    return 2 * float(np.sqrt(discrete_laplace_variance(epsilon, 1)))


def _trim_tails(bins: Bins, counts: np.ndarray, epsilon: float) -> np.ndarray:
    """``counts`` with the numeric end bins that hold only noise set to 0: post-processing, no extra epsilon.

    Spec bins reach the spec's limits, far beyond any patient (N_Days from 1, Copper from 1), and noise gives
    such empty end bins counts above the k-floor. Sampled, that mass writes values no patient has at the spec
    limit (5-12 % of a column on the default run). The outermost value bin at each end is read as empty when
    its count is within two noise sds; every other bin keeps its count (trimming every noise-sized bin of the
    tails was measured: it drops real tails). The NA bin is left alone.

    Example:
        >>> from synllm_mlops.spec import ColumnSpec
        >>> b = Bins.from_spec(ColumnSpec(name="x", type="numeric", min=0, max=100), 6)
        >>> _trim_tails(b, np.array([5.0, 0, 40, 5, 30, 5.5]), epsilon=0.5).tolist()  # floor: 2 sd = 5.6
        [0.0, 0.0, 40.0, 5.0, 30.0, 0.0]
    """
    if not bins.numeric:
        return counts
    out = np.asarray(counts, dtype=float).copy()
    values = out[:bins.n_values]
    above = np.flatnonzero(values > _noise_floor(epsilon))
    if not len(above):
        return out  # nothing stands out of the noise: keep the k-floored counts rather than an empty column
    if above[0] > 0:
        values[0] = 0.0
    if above[-1] < len(values) - 1:
        values[-1] = 0.0
    return out


def _dp_bounded(bins: Bins, counts: np.ndarray, epsilon: float) -> Bins:
    """``bins`` bounded at the tail quantiles of noisy ``counts`` (counts within 2 noise sd read as 0).

    A quantile is used only where it falls inside its end bin: beyond the bin's cut, the end bin looks
    empty and any bound inside it would be arbitrary (a one-value bin makes a spike), so it keeps the spec limit.
    """
    if not bins.numeric or not bins.cuts:
        return bins
    floor = _noise_floor(epsilon)
    counts = np.where(counts > floor, counts, 0.0)
    # the estimators read the last count as the NA bin: a column without one gets an empty one
    counts = counts if bins.has_missing else np.append(counts, 0.0)
    lo, hi = binned_quantiles(bins, counts, (TAIL, 1 - TAIL))
    return bins.bounded(lo if lo < bins.cuts[0] else -np.inf, hi if hi > bins.cuts[-1] else np.inf)


def _share(counts: np.ndarray) -> np.ndarray:
    counts = np.clip(np.asarray(counts, dtype=float), 0, None)
    total = counts.sum()
    return counts / total if total > 0 else np.full(counts.shape, 1 / counts.size)


def calibration_plan(spec: DatasetSpec, level: str = DEFAULT_LEVEL) -> list[PlannedRelease]:
    """The DP releases of the calibration targets at ``level`` (a function of the spec and the level only)."""
    parts = level_parts(spec, level)
    if not parts.targets:
        return []
    names = spec.column_names
    return ([PlannedRelease("calibration", "histogram", f"calibration:histogram:{c}") for c in names]
            + [PlannedRelease("calibration", "table", f"calibration:table:{names[i]}x{names[j]}")
               for i, j in parts.pairs])
