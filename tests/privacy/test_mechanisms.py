"""The noise itself: its distribution, an empirical epsilon check on neighbouring tables, its source."""

import math
import random
from collections import Counter

import numpy as np
import pytest

from synllm_mlops.privacy import PrivacyBudget, discrete_laplace, discrete_laplace_variance, noisy_histogram

DRAWS = 8_000


def test_discrete_laplace_has_its_textbook_distribution():
    eps = 0.7
    x = discrete_laplace(eps, 1, 40_000)
    a = math.exp(-eps)
    for k in range(-3, 4):  # P(k) = (1 - a) / (1 + a) * a**|k|
        p = (1 - a) / (1 + a) * a ** abs(k)
        assert abs((x == k).mean() - p) < 5 * math.sqrt(p * (1 - p) / len(x))
    assert abs(x.mean()) < 5 * math.sqrt(discrete_laplace_variance(eps, 1) / len(x))
    assert x.var() == pytest.approx(discrete_laplace_variance(eps, 1), rel=0.05)
    # sensitivity scales the noise: epsilon 1.4 at sensitivity 2 is the same distribution
    assert discrete_laplace_variance(1.4, 2) == pytest.approx(discrete_laplace_variance(eps, 1))


def _cell_outputs(codes, n_bins, cell, epsilon):
    budget = PrivacyBudget(epsilon * DRAWS)
    return Counter(int(noisy_histogram(codes, n_bins, epsilon, budget, "h")[cell]) for _ in range(DRAWS))


def _log_ratio_violations(a: Counter, b: Counter, epsilon: float, z: float = 4.5) -> list:
    """Outputs whose frequencies on the two tables differ by more than e^epsilon beyond sampling error."""
    bad = []
    for v in set(a) & set(b):
        if a[v] >= 100 and b[v] >= 100:
            lr, se = math.log(a[v] / b[v]), math.sqrt(1 / a[v] + 1 / b[v])
            if abs(lr) > epsilon + z * se:
                bad.append((v, a[v], b[v], round(lr, 3)))
    return bad


def test_histogram_releases_on_neighbouring_tables_stay_within_e_to_the_epsilon():
    eps = 1.0
    table = np.array([0, 0, 0, 1, 2, 2])  # 3 bins; the neighbour has one more row, in bin 0
    neighbour = np.append(table, 0)
    a, b = _cell_outputs(table, 3, 0, eps), _cell_outputs(neighbour, 3, 0, eps)
    assert not _log_ratio_violations(a, b, eps)
    # ...and tightly so: for outputs <= 3 the true ratio is exactly e^epsilon (the noise is not wasted)
    low_a, low_b = sum(a[v] for v in a if v <= 3), sum(b[v] for v in b if v <= 3)
    assert math.log(low_a / low_b) == pytest.approx(eps, abs=0.1)
    # the check has power: a count released with half the noise it claims (epsilon 2) is caught
    a2, b2 = (Counter((c + discrete_laplace(2 * eps, 1, DRAWS)).tolist()) for c in (3, 4))
    assert _log_ratio_violations(a2, b2, eps)


def test_the_run_seed_does_not_determine_the_noise():
    codes = np.arange(20)
    releases = []
    for _ in range(2):
        np.random.seed(0)
        random.seed(0)
        releases.append(noisy_histogram(codes, 20, 1.0, PrivacyBudget(1.0), "h"))
    assert not np.array_equal(*releases)  # equal with probability ~0.25**20


def test_tiny_and_huge_epsilons_work():
    assert np.all(discrete_laplace(50.0, 1, 100) == 0)
    assert discrete_laplace(1e-4, 1, 200).std() > 1000
