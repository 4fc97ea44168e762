"""The CSV-level audit: a likelihood-ratio attack on the default DP release of a CSV with and without one patient.

Neighbours are "one patient more or less in the user's CSV". The attacker knows everything except whether
the patient is in: the rest of the CSV, the seed (so the split), the bins, every epsilon. For each release
the default DP run makes (``make_release(spec, train, dp_epsilon=eps)``), they see the count vector plus
discrete Laplace noise of scale 1/eps_release and compute the exact log-likelihood ratio of "in" vs "out"
(the Neyman-Pearson test, the best there is). Pure eps-DP caps its power: TPR <= e^eps * FPR (and
1 - e^-eps * (1 - FPR)); at FPR 1 % the first bound binds.

The simulation is the mechanism: the count vectors and epsilons are recorded from a real ``make_release``
call (every ledger entry, the very arrays handed to the noise), and the numpy sampler is checked against
the package's own ``discrete_laplace`` draws. Coordinates where "in" and "out" agree cancel from the ratio
exactly, so only the differing ones are simulated (20,000 simulations each way in well under a second).
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synllm_mlops.privacy import _histograms, discrete_laplace
from synllm_mlops.release import _stats, make_release
from synllm_mlops.spec import NA_TOKEN, key_frame, split_data

N_SIM, FPR = 20_000, 0.01


def _recorded(spec, train, train_out, epsilon, monkeypatch):
    """Each release's (epsilon, counts with the patient, counts without) as the default DP release makes them."""
    seen, tables_out = {}, {}
    release, noisy = _histograms._release, _stats._Release.noisy

    def record(counts, eps, budget, label):
        seen[label] = (eps, np.asarray(counts, dtype=np.int64).ravel().copy())
        return release(counts, eps, budget, label)

    def prompt_release(self, train_, eps, budget):  # the prompt's tables sit on bins from released marginals:
        tables_out[self.label] = self.exact(train_out).ravel()  # the other table is counted on the same bins
        return noisy(self, train_, eps, budget)

    monkeypatch.setattr(_histograms, "_release", record)
    monkeypatch.setattr(_stats._Release, "noisy", prompt_release)
    ledger = make_release(spec, train, dp_epsilon=epsilon).ledger
    with_patient, prompt_out = dict(seen), dict(tables_out)
    seen.clear()
    make_release(spec, train_out, dp_epsilon=epsilon)  # calibration bins come from the spec alone
    monkeypatch.undo()
    assert [e["release"] for e in ledger["releases"]] == list(with_patient)  # every charged release recorded
    assert math.isclose(sum(e for e, _ in with_patient.values()), epsilon, rel_tol=1e-9)
    return [(eps, c, prompt_out[label] if label in prompt_out else seen[label][1])
            for label, (eps, c) in with_patient.items()]


def _laplace(eps: np.ndarray, shape, rng) -> np.ndarray:
    """Discrete Laplace draws, P(k) proportional to exp(-eps |k|): the difference of two geometric draws."""
    p = -np.expm1(-eps)
    return rng.geometric(p, size=shape) - rng.geometric(p, size=shape)


def attack_tpr(releases, rng, n_sim: int = N_SIM) -> float:
    """TPR at FPR 1 % of the likelihood-ratio test "patient in" vs "out" over all releases."""
    eps = np.concatenate([np.full(len(c), e) for e, c, _ in releases])
    c_in = np.concatenate([c for _, c, _ in releases])
    c_out = np.concatenate([c for _, _, c in releases])
    d = c_in != c_out  # agreeing coordinates add exactly 0 to the log-likelihood ratio
    eps, c_in, c_out = eps[d], c_in[d], c_out[d]

    def llr(counts):
        y = counts + _laplace(eps, (n_sim, len(eps)), rng)
        return (eps * (np.abs(y - c_out) - np.abs(y - c_in))).sum(axis=1)

    threshold = np.quantile(llr(c_out), 1 - FPR)
    return float((llr(c_in) > threshold).mean())  # strict: ties go to "out", so FPR <= 1 %


def _seeded_shuffle_split(df, spec, seed=0, fraction=0.2):
    """The split before issue 22: a seeded, stratified shuffle of the whole CSV (the negative control)."""
    from sklearn.model_selection import train_test_split

    tr, _ = train_test_split(df, test_size=fraction, random_state=seed, stratify=df[spec.target].fillna(NA_TOKEN))
    return tr.reset_index(drop=True)


def _a_patient_in_train(real, spec):
    train_keys = set(key_frame(split_data(real, spec, seed=0).train, spec).itertuples(index=False, name=None))
    keys = list(key_frame(real, spec).itertuples(index=False, name=None))
    return next(i for i, k in enumerate(keys) if k in train_keys and keys.count(k) == 1)


@pytest.mark.parametrize("epsilon", [1.0, 2.0])
def test_the_likelihood_ratio_attack_stays_under_the_dp_cap(cirrhosis, epsilon, monkeypatch):
    spec, real, _ = cirrhosis
    i = _a_patient_in_train(real, spec)
    out = real.drop(real.index[i]).reset_index(drop=True)
    train_in, train_out = split_data(real, spec, seed=0).train, split_data(out, spec, seed=0).train
    assert len(train_in) - len(train_out) == 1  # the patient's row, and no other, leaves train
    releases = _recorded(spec, train_in, train_out, epsilon, monkeypatch)
    moved = [int(np.abs(a - b).sum()) for _, a, b in releases]
    assert max(moved) == 1 and sum(moved) >= len(releases) - 2  # L1 <= 1 per release; nearly all move (not vacuous)
    tpr = attack_tpr(releases, np.random.default_rng(0))
    cap = math.exp(epsilon) * FPR
    assert FPR < tpr < cap, f"eps={epsilon}: TPR {tpr:.4f} at FPR {FPR} vs the DP cap {cap:.4f}"


@pytest.mark.parametrize("epsilon", [1.0, 2.0])
def test_the_attack_breaks_the_cap_with_the_old_shuffled_split(cirrhosis, epsilon, monkeypatch):
    """Negative control: with a seeded shuffle of the CSV, removing one patient moves many train rows."""
    spec, real, _ = cirrhosis
    base = _seeded_shuffle_split(real, spec)
    i = 0
    out = real.drop(real.index[i]).reset_index(drop=True)
    train_out = _seeded_shuffle_split(out, spec)
    moved_rows = len(pd.concat([base, train_out]).drop_duplicates(keep=False))
    assert moved_rows > 5
    releases = _recorded(spec, base, train_out, epsilon, monkeypatch)
    tpr = attack_tpr(releases, np.random.default_rng(0))
    cap = math.exp(epsilon) * FPR
    assert tpr > cap, f"eps={epsilon}: TPR {tpr:.4f} should break the cap {cap:.4f} ({moved_rows} rows moved)"


def test_the_simulated_noise_is_the_mechanisms_noise():
    """The numpy sampler and the package's exact CSPRNG sampler draw from one distribution (two-sample KS)."""
    for eps in (0.02, 0.5):
        ours = discrete_laplace(eps, 1, 3000)
        sim = _laplace(np.full(3000, eps), 3000, np.random.default_rng(1))
        assert stats.ks_2samp(ours, sim).pvalue > 1e-3
        assert stats.ks_2samp(ours, sim + max(1, round(0.3 / eps))).pvalue < 1e-3  # the check can fail
