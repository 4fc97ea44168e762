"""Counts on fixed bins, exact or released under epsilon-DP and charged to a budget.

A histogram over disjoint bins has L1 sensitivity 1 for add/remove-one-row neighbours: the added
or removed row changes exactly one count by exactly 1. The same holds for a 2-way table over the
product of two columns' bins. Released counts are integers (noise is discrete Laplace) and may be
negative: estimators clip them (see ``_estimates``), which is post-processing.
"""

from __future__ import annotations

import numpy as np

from synllm_mlops.privacy._accountant import PrivacyBudget
from synllm_mlops.privacy._mechanisms import discrete_laplace

MECHANISM = "discrete_laplace"
_DISJOINT = "disjoint cells: one row changes one count by 1 (parallel composition over cells)"


def _checked(codes: np.ndarray, n: int, what: str) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim != 1 or (codes.size and (codes.min() < 0 or codes.max() >= n)):
        raise ValueError(f"{what} must be a 1-d array of bin codes in [0, {n}), got range "
                         f"[{codes.min() if codes.size else '-'}, {codes.max() if codes.size else '-'}]")
    return codes


def exact_histogram(codes: np.ndarray, n_bins: int) -> np.ndarray:
    """Counts of each bin code (``Bins.codes`` output): int64 array of length ``n_bins``. No privacy."""
    return np.bincount(_checked(codes, n_bins, "codes"), minlength=n_bins).astype(np.int64)


def exact_table2d(codes_a: np.ndarray, codes_b: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Counts of each pair of bin codes (rows aligned): int64 array of ``shape``. No privacy."""
    a, b = _checked(codes_a, shape[0], "codes_a"), _checked(codes_b, shape[1], "codes_b")
    if len(a) != len(b):
        raise ValueError(f"codes_a and codes_b must have one code per row each, got {len(a)} and {len(b)}")
    return np.bincount(a * shape[1] + b, minlength=shape[0] * shape[1]).reshape(shape).astype(np.int64)


def _release(counts: np.ndarray, epsilon: float, budget: PrivacyBudget, label: str) -> np.ndarray:
    """Charge ``budget`` for ``label`` and return ``counts`` + discrete Laplace noise (scale 1/epsilon).

    ``counts`` must be a histogram or contingency table over disjoint, data-independent cells (L1
    sensitivity 1); use :func:`noisy_histogram` / :func:`noisy_table2d` unless you already hold one.
    The charge happens first: a refused charge releases nothing.
    """
    budget.charge(label, MECHANISM, sensitivity=1, epsilon=epsilon, note=_DISJOINT)
    counts = np.asarray(counts, dtype=np.int64)
    return counts + discrete_laplace(epsilon, 1, counts.size).reshape(counts.shape)


def noisy_histogram(codes: np.ndarray, n_bins: int, epsilon: float, budget: PrivacyBudget, label: str) -> np.ndarray:
    """:func:`exact_histogram` released under ``epsilon``-DP, charged to ``budget`` as ``label``.

    Example:
        >>> from synllm_mlops.privacy import PrivacyBudget
        >>> budget = PrivacyBudget(1.0)
        >>> noisy = noisy_histogram(np.array([0, 0, 1]), 3, 0.5, budget, "histogram:x")
        >>> noisy.shape, budget.spent
        ((3,), 0.5)
    """
    return _release(exact_histogram(codes, n_bins), epsilon, budget, label)


def noisy_table2d(codes_a: np.ndarray, codes_b: np.ndarray, shape: tuple[int, int], epsilon: float,
                  budget: PrivacyBudget, label: str) -> np.ndarray:
    """:func:`exact_table2d` released under ``epsilon``-DP, charged to ``budget`` as ``label``."""
    return _release(exact_table2d(codes_a, codes_b, shape), epsilon, budget, label)
