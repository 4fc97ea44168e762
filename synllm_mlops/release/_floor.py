"""The k-floor of every release: no published count of 1 to :data:`MIN_CELL` - 1 patients.

A cell held by one or two patients singles them out: joined with the other tables of the same release it
gives such a patient's group in every other column. So every histogram and 2-way table a run releases, exact
or noisy, has its counts of 1 to ``MIN_CELL - 1`` set to 0 *before* shares are taken or tables are shrunk,
and the released row count is rounded (:func:`public_count`). On DP counts the floor is post-processing (it
reads only the noisy counts), so it costs no epsilon; on exact counts it is what makes a non-private release
publish nothing invertible to a small cell.
"""

from __future__ import annotations

import numpy as np

MIN_CELL = 5
"""The smallest count a release publishes (k = 5, the usual small-cell rule of health statistics offices)."""

COUNT_ROUNDING = 10
"""A released row count is rounded to this (the count scales shares into counts: exact, it inverts them)."""


def floor_counts(counts: np.ndarray, min_cell: int = MIN_CELL) -> np.ndarray:
    """``counts`` (float, negatives clipped to 0) with every cell below ``min_cell`` set to 0.

    Example:
        >>> floor_counts(np.array([0, 1, 4, 5, 12.6, -3]))
        array([ 0. ,  0. ,  0. ,  5. , 12.6,  0. ])
    """
    c = np.clip(np.asarray(counts, dtype=float), 0, None)
    return np.where(c >= min_cell, c, 0.0)


def public_count(n: float) -> float:
    """A row count as a release publishes it: rounded to the nearest :data:`COUNT_ROUNDING` (334 -> 330).

    Example:
        >>> public_count(334), public_count(336), public_count(3)
        (330.0, 340.0, 0.0)
    """
    return float(COUNT_ROUNDING * round(float(n) / COUNT_ROUNDING))
