"""Targets: known-answer marginals and pairwise tables; errors; JSON round trip."""

import numpy as np
import pytest
import pandas as pd

from synllm_mlops.release import CalibrationTargets
from synllm_mlops.spec import DatasetSpec


def _spec() -> DatasetSpec:
    return DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
        {"name": "y", "type": "categorical", "categories": ["0", "1"]},
        {"name": "x", "type": "numeric", "min": 0, "max": 100, "decimals": 0, "nullable": True}]})


def _table() -> pd.DataFrame:
    return pd.DataFrame({"y": ["0"] * 50 + ["1"] * 50, "x": list(range(0, 50)) + list(range(50, 99)) + [np.nan]})


def test_known_marginals_and_pair_table():
    t = CalibrationTargets.from_table(_table(), _spec(), n_bins=2, n_coarse=2, shrinkage=0)
    assert np.allclose(t.marginals[0], [0.5, 0.5])
    assert np.allclose(t.marginals[1], [0.49, 0.50, 0.01])  # x < 49.5 -> bin 0 ... NA bin
    pair = t.pairs[(0, 1)]
    assert pair.shape == (2, 3)
    assert np.allclose(pair, [[0.49, 0.01, 0.0], [0.0, 0.49, 0.01]])  # y=0 rows are low x, y=1 high x
    assert t.n == 100 and t.source == "exact"


def test_errors_are_zero_on_the_same_table_and_grow_when_the_joint_is_broken():
    df = _table()
    t = CalibrationTargets.from_table(df, _spec(), n_bins=4, shrinkage=0)
    assert t.errors(df) == {"marginal_tv": 0.0, "pairwise_tv": 0.0}
    shuffled = df.assign(y=df["y"].sample(frac=1, random_state=0).to_numpy())  # same marginals, no joint
    e = t.errors(shuffled)
    assert e["marginal_tv"] == 0.0 and e["pairwise_tv"] > 0.2


def test_exact_end_bins_end_at_train_tail_quantiles_not_at_the_spec_limits():
    t = CalibrationTargets.from_table(_table(), _spec(), n_bins=4)
    x = t.bins[1]
    assert (x.lo, x.hi) == (0.0, 98.0)  # 1st / 99th percentile of 0..98 (0.98, 97.02) rounded outward; spec: 0..100
    x = CalibrationTargets.from_table(_table().assign(x=lambda d: d["x"] + 1), _spec(), n_bins=4).bins[1]
    assert (x.lo, x.hi) == (1.0, 99.0) and x.bounds(0)[0] == 1.0 and x.bounds(x.n_values - 1)[1] == 99.0


def test_a_release_without_pair_tables_has_no_pairwise_error_rather_than_a_perfect_one():
    df = _table()
    t = CalibrationTargets.from_table(df, _spec(), n_bins=4, shrinkage=0, level="marginals")
    e = t.errors(df)
    assert e["marginal_tv"] == 0.0 and np.isnan(e["pairwise_tv"])
    assert not np.isnan(CalibrationTargets.from_table(df, _spec(), n_bins=4, shrinkage=0).errors(df)["pairwise_tv"])


def test_json_round_trip_keeps_everything():
    t = CalibrationTargets.from_table(_table(), _spec(), n_bins=3)
    back = CalibrationTargets.from_json(t.to_json())
    assert back.bins == t.bins and back.n == t.n
    assert all(np.allclose(a, b) for a, b in zip(back.marginals, t.marginals))
    assert all(np.allclose(back.pairs[k], t.pairs[k]) for k in t.pairs)
    assert back.to_json() == t.to_json()


def test_targets_hold_no_rows():
    df = _table()
    text = CalibrationTargets.from_table(df, _spec(), n_bins=4, shrinkage=0).to_json()
    assert '"rows"' not in text and len(text) < 4000


def test_dp_release_charges_the_budget_and_uses_data_independent_bins():
    from synllm_mlops.privacy import PrivacyBudget

    df, spec = _table(), _spec()
    budget = PrivacyBudget(2.0)
    t = CalibrationTargets.release_dp(df, spec, 1.0, budget)
    assert t.source == "dp" and budget.spent == pytest.approx(1.0)
    assert [e.release for e in budget.ledger] == ["calibration:histogram:y", "calibration:histogram:x",
                                                  "calibration:table:yxx"]
    assert all(e.sensitivity == 1 for e in budget.ledger)
    other = CalibrationTargets.release_dp(df.iloc[:10], spec, 1.0, budget)
    assert [b.cuts for b in other.bins] == [b.cuts for b in t.bins]  # cuts come from the spec, not from the rows
    assert 0 <= t.bins[1].lo <= t.bins[1].cuts[0] and t.bins[1].cuts[-1] <= t.bins[1].hi <= 100  # ends: noisy quantiles
    assert all(np.isclose(m.sum(), 1) for m in t.marginals)


def test_dp_release_noise_is_not_fixed_by_the_seed():
    from synllm_mlops.privacy import PrivacyBudget

    df, spec = _table(), _spec()
    np.random.seed(0)
    a = CalibrationTargets.release_dp(df, spec, 0.5, PrivacyBudget(0.5))
    np.random.seed(0)
    b = CalibrationTargets.release_dp(df, spec, 0.5, PrivacyBudget(0.5))
    assert any(not np.allclose(x, y) for x, y in zip(a.marginals, b.marginals))


def test_shrinkage_mixes_pair_tables_with_independence_and_keeps_marginals():
    exact = CalibrationTargets.from_table(_table(), _spec(), n_bins=2, n_coarse=2, shrinkage=0)
    shrunk = CalibrationTargets.from_table(_table(), _spec(), n_bins=2, n_coarse=2, shrinkage=0.5)
    indep = np.outer([0.5, 0.5], [0.49, 0.50, 0.01])
    assert np.allclose(shrunk.pairs[(0, 1)], 0.5 * exact.pairs[(0, 1)] + 0.5 * indep)
    assert all(np.allclose(a, b) for a, b in zip(shrunk.marginals, exact.marginals))
    assert shrunk.meta["shrinkage"] == 0.5 and np.isclose(shrunk.pairs[(0, 1)].sum(), 1)
    with pytest.raises(ValueError, match=r"shrinkage must be in \[0, 1\], got 2"):
        exact.shrunk(2)


def test_dp_end_bins_use_a_noisy_quantile_only_inside_the_end_bin():
    from synllm_mlops.release import Bins
    from synllm_mlops.release._targets import _dp_bounded
    from synllm_mlops.spec import ColumnSpec

    bins = Bins.from_spec(ColumnSpec(name="x", type="numeric", min=0, max=100, decimals=0), 4)  # cuts 25 / 50 / 75
    inside = _dp_bounded(bins, np.array([50.0, 100, 100, 50]), epsilon=50.0)  # 1 % of 300: 3 of bin 0's 50 -> x = 1.5
    assert (inside.lo, inside.hi) == (1.0, 99.0) and inside.cuts == bins.cuts  # 1.5 and 98.5 rounded outward
    empty_ends = _dp_bounded(bins, np.array([1.0, 100, 100, 1]), epsilon=1.0)  # end counts within the noise: spec limits
    assert (empty_ends.lo, empty_ends.hi) == (0.0, 100.0)


def test_dp_end_bins_that_hold_only_noise_release_no_mass(monkeypatch):
    """Noise in the empty end bins of a wide spec range must not become values at the spec limit (issue 21)."""
    from synllm_mlops.privacy import PrivacyBudget, discrete_laplace_variance
    from synllm_mlops.release import _targets
    from synllm_mlops.spec import ColumnSpec

    spec = DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
        {"name": "y", "type": "categorical", "categories": ["0", "1"]},
        {"name": "x", "type": "numeric", "min": 0, "max": 1000, "decimals": 0}]})
    df = pd.DataFrame({"y": ["0", "1"] * 50, "x": [300 + (k % 20) * 10 for k in range(100)]})  # x in 300..490
    bins = _targets.Bins.from_spec(ColumnSpec(name="x", type="numeric", min=0, max=1000, decimals=0), 10)

    def noisy_histogram(codes, n_bins, epsilon, budget, label):  # exact counts, plus noise-sized 5 in every bin
        budget.charge(label, "test", 1, epsilon)
        return np.bincount(codes, minlength=n_bins).astype(float) + 5.0

    monkeypatch.setattr(_targets, "noisy_histogram", noisy_histogram)
    eps = {"calibration:histogram:y": 0.5, "calibration:histogram:x": 0.5}
    assert 2 * np.sqrt(discrete_laplace_variance(0.5, 1)) > 5  # the 5s are within the noise, yet at the k-floor
    t = CalibrationTargets.release_dp(df, spec, eps, PrivacyBudget(1.0), n_bins=10, level="marginals")
    x = t.marginals[1][:bins.n_values]
    data_bins = {bins.code_text(str(v)) for v in df["x"]}
    assert data_bins == {3, 4}
    assert x[0] == 0 and x[9] == 0  # the outermost bins, noise only: no values at the spec limits 0 and 1000
    assert np.all(x[[1, 2, 3, 4, 5, 6, 7, 8]] > 0)  # inner bins keep their counts, noise-sized ones too
    assert np.isclose(t.marginals[1].sum(), 1)


def test_trimming_keeps_interior_bins_and_a_column_all_noise():
    from synllm_mlops.release._targets import Bins, _trim_tails
    from synllm_mlops.spec import ColumnSpec

    bins = Bins.from_spec(ColumnSpec(name="x", type="numeric", min=0, max=100, nullable=True), 5)
    counts = np.array([0.0, 30, 5, 30, 5, 7])  # last: NA, never trimmed
    assert _trim_tails(bins, counts, 0.5).tolist() == [0.0, 30, 5, 30, 0, 7]  # interior 5 kept, outer 5 dropped
    assert _trim_tails(bins, np.array([5.0, 5, 30, 30, 30, 0]), 0.5).tolist() == [0.0, 5, 30, 30, 30, 0]
    assert _trim_tails(bins, np.array([5.0, 5, 5, 5, 5, 5]), 0.5).tolist() == [5.0] * 6  # nothing stands out
    cat = Bins.from_spec(ColumnSpec(name="c", type="categorical", categories=["a", "b"]), 5)
    assert _trim_tails(cat, np.array([5.0, 50, 0]), 0.5).tolist() == [5.0, 50, 0]
