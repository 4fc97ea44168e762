"""Differential privacy mechanics: an accountant, the noise mechanism and noisy counts on bin codes.

One :class:`PrivacyBudget` per run. Everything released from real data is a histogram or 2-way
table over fixed bins (the release stage's ``Bins``), released by :func:`noisy_histogram` /
:func:`noisy_table2d` (discrete Laplace noise from the OS CSPRNG, L1 sensitivity 1 for one
row more or less in train, which is what one patient more or less in the CSV does under
``spec.split_data``) and charged to the budget *before* the noisy counts exist. The budget's ledger
is part of the run's release artifact.

Example:
    >>> import numpy as np
    >>> budget = PrivacyBudget(1.0)
    >>> counts = noisy_histogram(np.array([0, 1, 1, 2]), 3, 1.0, budget, "histogram:age")
    >>> counts.shape, budget.remaining
    ((3,), 0.0)
"""

from synllm_mlops.privacy._accountant import COMPOSITION, NEIGHBOURS, LedgerEntry, PrivacyBudget
from synllm_mlops.privacy._histograms import (
    MECHANISM,
    exact_histogram,
    exact_table2d,
    noisy_histogram,
    noisy_table2d,
)
from synllm_mlops.privacy._mechanisms import discrete_laplace, discrete_laplace_variance

__all__ = [
    "COMPOSITION", "MECHANISM", "NEIGHBOURS", "LedgerEntry", "PrivacyBudget", "discrete_laplace",
    "discrete_laplace_variance", "exact_histogram", "exact_table2d", "noisy_histogram", "noisy_table2d",
]
