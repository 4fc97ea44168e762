"""Differential privacy for releases derived from real data: an accountant, bins, noisy counts, estimators.

One :class:`PrivacyBudget` per run. Everything released from real data is a histogram or 2-way
table over fixed spec bins (:func:`spec_bins`), released by :func:`noisy_histogram` /
:func:`noisy_table2d` (discrete Laplace noise from the OS CSPRNG, L1 sensitivity 1 for
add/remove-one-row neighbours) and charged to the budget; statistics are read off the noisy counts
by the estimators (post-processing, no extra cost). The budget's ledger is the run artifact
``privacy/dp_ledger.json``.

Example:
    >>> import pandas as pd
    >>> from synllm_mlops.spec import ColumnSpec
    >>> budget = PrivacyBudget(1.0)
    >>> bins = spec_bins(ColumnSpec(name="age", type="numeric", min=0, max=100), n_bins=10)
    >>> counts = noisy_histogram(bins.codes(pd.Series([31, 45, 52, None])), bins.n_bins, 1.0, budget, "histogram:age")
    >>> 0 <= binned_mean(bins, counts) <= 100, budget.remaining
    (True, 0.0)
"""

from synllm_mlops.privacy._accountant import COMPOSITION, NEIGHBOURS, LedgerEntry, PrivacyBudget
from synllm_mlops.privacy._bins import DEFAULT_BINS, Bins, numeric_bins, spec_bins
from synllm_mlops.privacy._estimates import (
    binned_mean,
    binned_quantiles,
    binned_sd,
    missing_share,
    quantile_bins,
    table_spearman,
    value_weights,
)
from synllm_mlops.privacy._histograms import (
    MECHANISM,
    exact_histogram,
    exact_table2d,
    noisy_histogram,
    noisy_table2d,
)
from synllm_mlops.privacy._mechanisms import discrete_laplace, discrete_laplace_variance

__all__ = [
    "COMPOSITION", "DEFAULT_BINS", "MECHANISM", "NEIGHBOURS", "Bins", "LedgerEntry", "PrivacyBudget",
    "binned_mean", "binned_quantiles", "binned_sd", "discrete_laplace", "discrete_laplace_variance",
    "exact_histogram", "exact_table2d", "missing_share", "noisy_histogram", "noisy_table2d", "numeric_bins",
    "quantile_bins", "spec_bins",
    "table_spearman", "value_weights",
]
