"""Statistics read off (noisy) counts on fixed bins: post-processing, so they cost no extra epsilon.

Every estimator takes counts over :class:`~synllm_mlops.release.Bins` with an NA bin (last), clips
negative counts to 0 and treats a numeric column as uniform within each value bin
``[a_j, b_j]`` with weight ``p_j = max(c_j, 0) / sum_k max(c_k, 0)`` over the value bins:

- mean ``= sum_j p_j (a_j + b_j) / 2``
- sd ``= sqrt(E[x^2] - mean^2)`` with ``E[x^2] = sum_j p_j (a_j^2 + a_j b_j + b_j^2) / 3``
- quantile q: the x where the piecewise-linear CDF through ``(b_j, sum_{k<=j} p_k)`` reaches q
- category share ``= p_j``; missing share ``= max(c_NA, 0) / sum_k max(c_k, 0)`` over all bins
- Spearman's rho of a 2-way table: the weighted Pearson correlation of the bins' mid-ranks
  (tied ranks within a bin), on the value cells of both columns.

When every clipped value count is 0 (all noise), the weights fall back to uniform: a data-independent
answer rather than an error. Exact counts give the binned (not the raw) statistics.
"""

from __future__ import annotations

import numpy as np

from synllm_mlops.release._bins import Bins, numeric_bins


def value_weights(counts: np.ndarray) -> np.ndarray:
    """Shares ``p_j`` of the value bins (all bins but the last, missing one) after clipping negatives."""
    c = np.maximum(np.asarray(counts, dtype=float)[:-1], 0.0)
    total = c.sum()
    return c / total if total > 0 else np.full(len(c), 1.0 / max(len(c), 1))


def missing_share(counts: np.ndarray) -> float:
    """Share of the missing bin among all clipped counts (0 when every clipped count is 0)."""
    c = np.maximum(np.asarray(counts, dtype=float), 0.0)
    return float(c[-1] / c.sum()) if c.sum() > 0 else 0.0


def _bounds(bins: Bins) -> tuple[np.ndarray, np.ndarray]:
    if not bins.numeric:
        raise ValueError(f"column {bins.column!r} is categorical: means, sds and quantiles need numeric bins")
    e = np.asarray(bins.edges)
    return e[:-1], e[1:]


def binned_mean(bins: Bins, counts: np.ndarray) -> float:
    """Mean of the piecewise-uniform distribution the value counts describe."""
    a, b = _bounds(bins)
    return float(value_weights(counts) @ ((a + b) / 2))


def binned_sd(bins: Bins, counts: np.ndarray) -> float:
    """Standard deviation (population) of the piecewise-uniform distribution the value counts describe."""
    a, b = _bounds(bins)
    p = value_weights(counts)
    mean = p @ ((a + b) / 2)
    return float(np.sqrt(max(p @ ((a * a + a * b + b * b) / 3) - mean * mean, 0.0)))


def binned_quantiles(bins: Bins, counts: np.ndarray, qs: list[float] | tuple[float, ...]) -> list[float]:
    """Quantiles ``qs`` (each in [0, 1]) by linear interpolation within the bin where the CDF crosses q."""
    a, b = _bounds(bins)
    p = value_weights(counts)
    cum = np.concatenate([[0.0], np.cumsum(p)])
    out = []
    for q in qs:
        j = int(np.clip(np.searchsorted(cum, q, side="left") - 1, 0, len(p) - 1))
        frac = (q - cum[j]) / p[j] if p[j] > 0 else 0.5
        out.append(float(a[j] + np.clip(frac, 0.0, 1.0) * (b[j] - a[j])))
    return out


def table_spearman(table: np.ndarray) -> float:
    """Spearman's rho from a 2-way table of counts (missing row and column last, ignored); NaN if undefined."""
    w = np.maximum(np.asarray(table, dtype=float)[:-1, :-1], 0.0)
    n = w.sum()
    if n <= 0:
        return float("nan")
    r, c = w.sum(axis=1), w.sum(axis=0)
    rank_r = np.cumsum(r) - r / 2  # mid-rank of each row bin (ties share it)
    rank_c = np.cumsum(c) - c / 2
    dr, dc = rank_r - (r @ rank_r) / n, rank_c - (c @ rank_c) / n
    denom = np.sqrt((r @ dr**2) * (c @ dc**2))
    return float(dr @ w @ dc / denom) if denom > 0 else float("nan")


def quantile_bins(bins: Bins, counts: np.ndarray, n_bins: int) -> Bins:
    """Value bins at the ``n_bins``-quantiles that released ``counts`` describe (+ missing), within the spec range.

    Bins chosen from a DP release are post-processing: a later release on them composes (adaptively)
    with the first, and one row still falls in exactly one of them. Roughly equal-mass bins keep more
    signal per cell than equal-width ones over a wide spec range. Coinciding quantiles merge, so the
    result may have fewer than ``n_bins`` value bins.
    """
    lo, hi = bins.edges[0], bins.edges[-1]
    inner = binned_quantiles(bins, counts, [i / n_bins for i in range(1, n_bins)])
    edges = np.unique(np.clip([lo, *inner, hi], lo, hi))
    if len(edges) < 2:
        edges = np.array([lo, hi])
    return numeric_bins(bins.column, edges, bins.log)
