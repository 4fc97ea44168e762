"""Steering conditions only on the pair tables a release level released; what the model writes feeds it too."""

import numpy as np
import pandas as pd

from synllm_mlops.constraints import FieldSteer, Steering
from synllm_mlops.release import CalibrationTargets, make_release
from synllm_mlops.spec import DatasetSpec

SPEC = DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
    {"name": "y", "type": "categorical", "categories": ["0", "1"]},
    {"name": "g", "type": "categorical", "categories": ["a", "b"]},
    {"name": "h", "type": "categorical", "categories": ["u", "v"]}]})


def _real(n=400, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.choice(["0", "1"], n)
    g = np.where(rng.random(n) < 0.9, np.where(y == "0", "a", "b"), rng.choice(["a", "b"], n))  # g follows y
    h = np.where(g == "a", "u", "v")  # h is a function of g: a feature-feature pair
    return pd.DataFrame({"y": y, "g": g, "h": h})


def test_parents_per_level_on_cirrhosis(cirrhosis):
    spec, _, split = cirrhosis
    t = spec.column_names.index("Status")
    parents = {}
    for lv in ("marginals", "target", "pairs"):
        s = Steering(make_release(spec, split.train, release_level=lv).targets, 1.0, target=t)
        parents[lv] = {(i, j) for j, ps in enumerate(s.parents) for i, _ in ps}
    assert parents["marginals"] == set()
    assert len(parents["target"]) == 18 and all(t in p for p in parents["target"])  # the released Status tables
    assert sum(t not in p for p in parents["pairs"]) > 18  # feature-feature parents exist once every pair is released


def test_an_unreleased_pair_is_never_a_parent_whatever_its_table_holds():
    t = CalibrationTargets.from_table(_real(), SPEC, shrinkage=0, level="target")
    assert [[i for i, _ in ps] for ps in Steering(t, 1.0, target=0).parents] == [[], [0], [0]]  # g -> h: unreleased
    t.pairs[(1, 2)] = np.array([[0.5, 0.0], [0.0, 0.5]])  # a strong g x h table that the release did not publish
    assert [[i for i, _ in ps] for ps in Steering(t, 1.0, target=0).parents] == [[], [0], [0]]
    full = CalibrationTargets.from_table(_real(), SPEC, shrinkage=0)  # every pair released: g is h's parent
    assert [[i for i, _ in ps] for ps in Steering(full, 1.0, target=0).parents] == [[], [0], [0, 1]]


def test_a_bin_the_model_wrote_freely_feeds_the_next_fields_conditional():
    t = CalibrationTargets.from_table(_real(), SPEC, shrinkage=0, level="target")
    fs = FieldSteer(Steering(t, 1.0, feedback=0, target=0), SPEC.columns, np.random.default_rng(0))
    # field 0 was written by the model (FieldSteer drew nothing for it): its bin still conditions field 1
    share_a = {y: np.mean([fs.constraint([y], None).allowed == {"a"} for _ in range(300)]) for y in ("0", "1")}
    assert fs.written(["1", "b"]) == [1, 1]
    assert share_a["0"] > 0.8 and share_a["1"] < 0.2


def test_soft_steering_draws_each_bin_from_the_mix_of_the_model_and_the_release():
    """At strength s a field's bin follows s · P_release(bin | parents) + (1 − s) · P_model(bin).

    FieldSteer forces a drawn bin with probability s and otherwise leaves the field to the model; the
    simulated "model" here writes g = "b" with probability 0.8 whatever the target. With y = "0" the release
    says P(g = a) ≈ 0.95 (g follows y), so the mix gives P(a) = s · 0.95 + (1 − s) · 0.2.
    """
    t = CalibrationTargets.from_table(_real(), SPEC, shrinkage=0, level="target")
    p_release = Steering(t, 1.0, feedback=0, target=0).distribution(1, [0])[0]
    assert p_release > 0.9
    for s in (0.0, 0.3, 0.7, 1.0):
        fs = FieldSteer(Steering(t, s, feedback=0, target=0), SPEC.columns, np.random.default_rng(1))
        model = np.random.default_rng(2)
        wrote_a = []
        for _ in range(4000):
            c = fs.constraint(["0"], None)
            forced = c is not None and c.allowed is not None
            wrote_a.append((c.allowed == {"a"}) if forced else model.random() >= 0.8)
        expected = s * p_release + (1 - s) * 0.2
        assert abs(np.mean(wrote_a) - expected) < 0.03, (s, np.mean(wrote_a), expected)
