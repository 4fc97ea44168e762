"""DP prompt statistics: one budget, every number post-processing of its releases, noise not from the seed."""

import numpy as np
import pytest

import synllm_mlops.privacy._histograms as histograms
from synllm_mlops.errors import PrivacyBudgetError
from synllm_mlops.privacy import PrivacyBudget, exact_histogram, noisy_histogram
from synllm_mlops.prompts import PromptOptions
from synllm_mlops.release import make_release, quantile_bins, spec_bins
from synllm_mlops.release._stats import ALL_STATS, CORRELATION_BINS, MARGINAL_BINS, TARGET_BINS, _plan, describe_statistics


def _labels(text):
    return [line.split(":")[0] for line in text.splitlines()]


@pytest.mark.parametrize("eps", [0.1, 1.0, 7.5])
def test_the_ledger_sums_to_the_epsilon_given(cirrhosis, eps):
    spec, _, split = cirrhosis
    budget = PrivacyBudget(eps)
    describe_statistics(split.train, spec, budget=budget)
    assert budget.spent == pytest.approx(eps) and budget.remaining == pytest.approx(0, abs=1e-12)
    assert len(budget.ledger) == len(_plan(spec, ALL_STATS, 5))
    assert {e.mechanism for e in budget.ledger} == {"discrete_laplace"} and {e.sensitivity for e in budget.ledger} == {1.0}


def test_a_shared_budget_pays_the_prompt_share_and_keeps_the_rest(cirrhosis):
    spec, _, split = cirrhosis
    budget = PrivacyBudget(2.0)
    describe_statistics(split.train, spec, dp_epsilon=0.5, budget=budget)
    assert budget.spent == pytest.approx(0.5)
    # what the lead's calibration targets will do next, with the same budget
    bins = spec_bins(spec.column("Age"))
    noisy_histogram(bins.total_codes(split.train["Age"]), bins.n_bins, budget.remaining, budget, "calibration:Age")
    assert budget.spent == pytest.approx(2.0)
    with pytest.raises(PrivacyBudgetError):
        describe_statistics(split.train, spec, dp_epsilon=0.1, budget=budget)


def test_overspending_is_refused_before_anything_is_released(cirrhosis):
    spec, _, split = cirrhosis
    budget = PrivacyBudget(1.0)
    with pytest.raises(PrivacyBudgetError, match="need epsilon 2 but only 1 of the run's budget 1 remains"):
        describe_statistics(split.train, spec, dp_epsilon=2.0, budget=budget)
    assert budget.ledger == []


def test_every_number_is_post_processing_of_the_released_counts(cirrhosis, monkeypatch):
    """Two tables with the same counts in every released bin give the same DP prompt (noise set to 0)."""
    spec, _, split = cirrhosis
    monkeypatch.setattr(histograms, "discrete_laplace", lambda eps, sens, size: np.zeros(size, dtype=np.int64))
    snapped = split.train.copy()
    for col in spec.columns:
        if col.is_numeric:  # move every value to the middle of its cell in the refinement of all binnings
            marginal = spec_bins(col, MARGINAL_BINS)
            counts = exact_histogram(marginal.total_codes(split.train[col.name]), marginal.n_bins)  # released, at zero noise
            edges = np.unique(np.concatenate([spec_bins(col, k).edges for k in (MARGINAL_BINS, TARGET_BINS, CORRELATION_BINS)]
                                             + [quantile_bins(marginal, counts, k).edges for k in (TARGET_BINS, CORRELATION_BINS)]))
            x = snapped[col.name].to_numpy(dtype=float)
            i = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
            snapped[col.name] = np.where(np.isnan(x), np.nan, (edges[i] + edges[i + 1]) / 2)
    snapped = snapped.sample(frac=1.0, random_state=0)  # row order is not released either
    assert describe_statistics(snapped, spec) != describe_statistics(split.train, spec)  # exact stats do differ
    dp = [describe_statistics(t, spec, dp_epsilon=1.0) for t in (split.train, snapped)]
    assert dp[0] == dp[1]


def test_dp_statistics_keep_the_exact_format_and_stay_in_range(cirrhosis):
    spec, _, split = cirrhosis
    exact = describe_statistics(split.train, spec)
    noisy = describe_statistics(split.train, spec, dp_epsilon=0.3, seed=7)  # the old seed keyword is accepted, unused
    assert _labels(noisy)[1:len(spec.columns) + 1] == _labels(exact)[1:len(spec.columns) + 1]
    for col in spec.columns:
        if col.is_numeric:
            line = next(ln for ln in noisy.splitlines() if ln.startswith(f"- {col.name}:"))
            mean = float(line.split("mean ")[1].split()[0].rstrip(","))
            assert col.min <= mean <= col.max


def test_large_epsilon_recovers_the_binned_statistics(cirrhosis):
    spec, _, split = cirrhosis
    noisy = describe_statistics(split.train, spec, dp_epsilon=1e4, include=("frequencies", "missing"))
    assert noisy == describe_statistics(split.train, spec, include=("frequencies", "missing"))


def test_the_run_seed_does_not_determine_the_prompt_noise(render, cirrhosis):
    spec, _, split = cirrhosis
    opts = PromptOptions(dp_epsilon=1.0)
    a, b = (render("statguide", spec, split.train, opts, seed=5) for _ in range(2))
    assert a.variables["statistics"] != b.variables["statistics"]


def test_a_release_carries_its_ledger(cirrhosis):
    spec, _, split = cirrhosis
    r = make_release(spec, split.train, dp_epsilon=0.8)
    entries = r.ledger["releases"]
    assert sum(e["epsilon"] for e in entries) == pytest.approx(0.8) and r.ledger["epsilon"] == 0.8
    # prompt statistics and calibration targets share the one budget, half each (the planner's part weights)
    prompt = sum(e["epsilon"] for e in entries if not e["release"].startswith("calibration:"))
    assert prompt == pytest.approx(0.4) and r.targets.source == "dp"
    assert make_release(spec, split.train).ledger is None
    only_prompt = make_release(spec, split.train, targets=False, dp_epsilon=1.0)
    assert only_prompt.epsilon_spent == pytest.approx(1.0) and only_prompt.targets is None


def test_only_the_patient_count_is_released_when_no_statistic_is_asked(cirrhosis):
    spec, _, split = cirrhosis
    budget = PrivacyBudget(1.0)
    text = describe_statistics(split.train, spec, include=(), budget=budget)
    assert text.startswith("Statistics of the real table (") and len(budget.ledger) == 1


def test_a_huge_epsilon_releases_the_noise_free_statistics_instead_of_dividing_by_zero(cirrhosis):
    """At epsilon 1e6 the noise variance underflows to 0; the patient count's weighting must not divide by it."""
    from synllm_mlops.release import public_count

    spec, _, split = cirrhosis
    r = make_release(spec, split.train, dp_epsilon=1e6)
    assert r.statistics.startswith(f"Statistics of the real table ({int(public_count(len(split.train)))} patients")
