"""Post-processing of counts: known answers on tiny histograms, sane noisy statistics at large n."""

import numpy as np
import pandas as pd
import pytest

from synllm_mlops.privacy import PrivacyBudget, exact_table2d, noisy_histogram, noisy_table2d
from synllm_mlops.release import (
    binned_mean,
    binned_quantiles,
    binned_sd,
    missing_share,
    quantile_bins,
    spec_bins,
    table_spearman,
    value_weights,
)
from synllm_mlops.spec import ColumnSpec

BINS = spec_bins(ColumnSpec(name="x", type="numeric", min=0, max=40), n_bins=4)  # [0,10) [10,20) [20,30) [30,40] NA


def test_known_answers_of_a_piecewise_uniform_histogram():
    counts = np.array([10, 0, 0, 10, 5])  # half uniform on [0, 10), half on [30, 40], 5 missing
    assert binned_mean(BINS, counts) == pytest.approx(20.0)
    # E[x^2] = (100/3 + 3700/3) / 2 = 633.3; var = 633.3 - 400
    assert binned_sd(BINS, counts) == pytest.approx(np.sqrt(700 / 3))
    assert binned_quantiles(BINS, counts, (0.25, 0.5, 0.75)) == pytest.approx([5.0, 10.0, 35.0])
    assert missing_share(counts) == pytest.approx(0.2)


def test_negative_noisy_counts_are_clipped_and_pure_noise_falls_back_to_uniform():
    assert value_weights(np.array([-3, 1, 3, 0, -2])).tolist() == [0.0, 0.25, 0.75, 0.0]
    assert missing_share(np.array([-3, 1, 3, 0, -2])) == 0.0
    assert binned_mean(BINS, np.array([-1, -5, 0, -2, 7])) == pytest.approx(20.0)


def test_spearman_of_known_tables():
    diag = np.diag([5, 5, 5, 0])  # 3 value bins each + a missing row/column (ignored)
    diag[3, 0] = 50
    assert table_spearman(diag) == pytest.approx(1.0)
    anti = np.zeros((4, 4))
    anti[0, 2] = anti[1, 1] = anti[2, 0] = 5
    assert table_spearman(anti) == pytest.approx(-1.0)
    independent = np.zeros((4, 4))
    independent[:3, :3] = np.outer([1, 2, 3], [4, 1, 2])
    assert table_spearman(independent) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(table_spearman(np.zeros((4, 4))))


def test_noisy_statistics_are_close_at_large_n():
    rng = np.random.default_rng(0)
    col = ColumnSpec(name="x", type="numeric", min=0, max=100, nullable=True)
    x = pd.Series(np.where(rng.random(20_000) < 0.1, np.nan, rng.normal(50, 10, 20_000)))
    bins = spec_bins(col, n_bins=16)
    budget = PrivacyBudget(1.0)
    noisy = noisy_histogram(bins.total_codes(x), bins.n_bins, 1.0, budget, "histogram:x")
    v = x.dropna()
    assert binned_mean(bins, noisy) == pytest.approx(v.mean(), abs=0.3)
    assert binned_sd(bins, noisy) == pytest.approx(v.std(ddof=0), abs=0.5)  # + bin width**2/12 of blur
    assert binned_quantiles(bins, noisy, (0.25, 0.5, 0.75)) == pytest.approx(list(v.quantile([.25, .5, .75])), abs=0.6)
    assert missing_share(noisy) == pytest.approx(x.isna().mean(), abs=0.01)


def test_noisy_spearman_tracks_the_binned_one_at_large_n():
    rng = np.random.default_rng(1)
    z = rng.multivariate_normal([0, 0], [[1, 0.7], [0.7, 1]], 20_000)
    col = ColumnSpec(name="z", type="numeric", min=-4, max=4)
    b = spec_bins(col, n_bins=5)
    ca, cb = b.total_codes(pd.Series(z[:, 0])), b.total_codes(pd.Series(z[:, 1]))
    exact = table_spearman(exact_table2d(ca, cb, (b.n_bins, b.n_bins)))
    noisy = table_spearman(noisy_table2d(ca, cb, (b.n_bins, b.n_bins), 1.0, PrivacyBudget(1.0), "t"))
    raw = pd.Series(z[:, 0]).corr(pd.Series(z[:, 1]), method="spearman")
    assert 0.5 < exact < raw  # coarse bins attenuate rho (ties), never flip it
    assert noisy == pytest.approx(exact, abs=0.01)


def test_quantile_bins_split_the_released_mass_evenly_within_the_spec_range():
    counts = np.array([10, 0, 0, 10, 5])
    q = quantile_bins(BINS, counts, 4)
    assert q.edges == (0.0, 5.0, 10.0, 35.0, 40.0) and q.label(q.missing_bin) == "NA" and q.column == "x"
    assert q.total_codes(pd.Series([-1, 7, 20, 39, None])).tolist() == [0, 1, 2, 3, 4]
    assert quantile_bins(BINS, np.array([0, 0, 9, 0, 0]), 4).edges == (0.0, 22.5, 25.0, 27.5, 40.0)
    point = spec_bins(ColumnSpec(name="x", type="numeric", min=3, max=3))
    assert quantile_bins(point, np.array([7, 0]), 4).edges == (3.0, 3.0)  # coinciding quantiles merge
