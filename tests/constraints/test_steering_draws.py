"""Steering: conditional draws from released pairwise tables, feedback, strength."""

import numpy as np
import pandas as pd
import pytest

from synllm_mlops.constraints import Steering
from synllm_mlops.release import CalibrationTargets
from synllm_mlops.spec import DatasetSpec

SPEC = DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
    {"name": "y", "type": "categorical", "categories": ["0", "1"]},
    {"name": "g", "type": "categorical", "categories": ["a", "b", "c"]},
    {"name": "h", "type": "categorical", "categories": ["u", "v"]}]})


def _real(n=400, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.choice(["0", "1"], n, p=[0.7, 0.3])
    g = np.where(y == "0", rng.choice(["a", "b"], n), "c")  # g is a function of y
    h = rng.choice(["u", "v"], n, p=[0.9, 0.1])  # independent
    return pd.DataFrame({"y": y, "g": g, "h": h})


def _sample(steer: Steering, n: int, rng) -> pd.DataFrame:
    rows = []
    for _ in range(n):
        codes = []
        for j in range(3):
            k = steer.draw(j, codes, rng)
            codes.append(k)
            steer.observe(j, k)
        rows.append([b.labels[k] for b, k in zip(steer.targets.bins, codes)])
    return pd.DataFrame(rows, columns=["y", "g", "h"])


def test_a_written_parent_pins_the_dependent_field():
    t = CalibrationTargets.from_table(_real(), SPEC, shrinkage=0)
    s = Steering(t, 1.0, feedback=0)
    assert [i for i, _ in s.parents[1]] == [0]  # g depends on y
    p_after_1 = s.distribution(1, [1])
    assert p_after_1[2] > 0.95  # y=1 -> g=c
    p_after_0 = s.distribution(1, [0])
    assert p_after_0[2] < 0.05


def test_chain_reproduces_marginals_and_the_joint():
    real = _real()
    t = CalibrationTargets.from_table(real, SPEC, shrinkage=0)
    syn = _sample(Steering(t, 1.0), 600, np.random.default_rng(0))
    e = t.errors(syn)
    assert e["marginal_tv"] < 0.03 and e["pairwise_tv"] < 0.06


def test_feedback_closes_the_gap_of_a_biased_run():
    t = CalibrationTargets.from_table(_real(), SPEC, shrinkage=0)
    s = Steering(t, 1.0)
    for _ in range(200):
        s.observe(2, 1)  # the run so far wrote only h=v (target share 0.1)
    assert s.distribution(2, [])[1] < 0.02
    assert Steering(t, 1.0, feedback=0).distribution(2, [])[1] == pytest.approx(t.marginals[2][1])


def test_strength_zero_never_forces_and_one_always_does():
    t = CalibrationTargets.from_table(_real(), SPEC, shrinkage=0)
    rng = np.random.default_rng(0)
    assert all(Steering(t, 0.0).draw(0, [], rng) is None for _ in range(50))
    assert all(Steering(t, 1.0).draw(0, [], rng) is not None for _ in range(50))
    half = [Steering(t, 0.5).draw(0, [], rng) for _ in range(400)]
    assert 150 < sum(k is None for k in half) < 250
    with pytest.raises(ValueError, match=r"steer_strength must be in \[0, 1\], got 1.5"):
        Steering(t, 1.5)


def test_bins_excluded_by_a_rule_are_never_drawn():
    t = CalibrationTargets.from_table(_real(), SPEC, shrinkage=0)
    s, rng = Steering(t, 1.0), np.random.default_rng(0)
    allowed = np.array([True, False, True])
    assert {s.draw(1, [0], rng, allowed) for _ in range(100)} == {0}  # y=0 allows a/b; b excluded
    assert s.draw(1, [0], rng, np.array([False, False, False])) is None
