"""Calibrated selection on small pools with known answers."""

import numpy as np
import pandas as pd
import pytest

from synllm_mlops.calibration import select_rows
from synllm_mlops.release import CalibrationTargets
from synllm_mlops.spec import DatasetSpec

SPEC = DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
    {"name": "y", "type": "categorical", "categories": ["0", "1"]},
    {"name": "g", "type": "categorical", "categories": ["a", "b"]}]})


def test_picks_the_subset_that_matches_marginals_and_the_joint_exactly():
    real = pd.DataFrame({"y": ["0", "0", "1", "1"], "g": ["a", "a", "b", "b"]})  # y and g agree
    t = CalibrationTargets.from_table(real, SPEC, shrinkage=0)
    pool = pd.DataFrame({"y": ["0", "0", "0", "1", "1", "1"], "g": ["b", "a", "a", "a", "b", "b"]})
    idx = select_rows(t.codes(pool), t, 4)
    assert sorted(idx) == [1, 2, 4, 5]
    assert t.errors(pool.iloc[idx]) == {"marginal_tv": 0.0, "pairwise_tv": 0.0}


def test_no_duplicates_deterministic_and_checks_the_pool_size():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"y": rng.choice(["0", "1"], 100, p=[0.8, 0.2]), "g": rng.choice(["a", "b"], 100)})
    t = CalibrationTargets.from_table(real, SPEC, shrinkage=0)
    pool = pd.DataFrame({"y": rng.choice(["0", "1"], 60), "g": rng.choice(["a", "b"], 60)})
    a, b = select_rows(t.codes(pool), t, 30, seed=3), select_rows(t.codes(pool), t, 30, seed=3)
    assert len(set(a)) == 30 and list(a) == list(b)
    assert list(select_rows(t.codes(pool), t, 60)) == list(range(60))
    with pytest.raises(ValueError, match="cannot select 61 rows from a pool of 60"):
        select_rows(t.codes(pool), t, 61)


def test_selection_beats_random_subsets_of_a_biased_pool():
    from synllm_mlops.spec import load_data, load_spec, split_data

    spec = load_spec("cirrhosis")
    split = split_data(load_data(spec), spec, seed=0)
    t = CalibrationTargets.from_table(split.train, spec, shrinkage=0)
    rng = np.random.default_rng(1)
    # a pool that over-represents one Status and breaks the joint: shuffled columns of train
    pool = split.train.sample(300, replace=True, random_state=1).reset_index(drop=True)
    pool = pd.DataFrame({c: rng.permutation(pool[c].to_numpy()) for c in pool.columns})[split.train.columns]
    idx = select_rows(t.codes(pool), t, 100, seed=0)
    chosen = t.errors(pool.iloc[idx])
    randoms = [t.errors(pool.sample(100, random_state=s)) for s in range(5)]
    assert chosen["marginal_tv"] < min(r["marginal_tv"] for r in randoms) * 0.7
    assert chosen["pairwise_tv"] < min(r["pairwise_tv"] for r in randoms)


def test_selection_matches_only_the_released_pair_tables():
    from synllm_mlops.calibration._select import _cells

    spec = DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
        {"name": "y", "type": "categorical", "categories": ["0", "1"]},
        {"name": "g", "type": "categorical", "categories": ["a", "b"]},
        {"name": "h", "type": "categorical", "categories": ["u", "v"]}]})
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"y": rng.choice(["0", "1"], 80), "g": rng.choice(["a", "b"], 80)})
    real["h"] = np.where(real["g"] == "a", "u", "v")  # g x h: a feature pair, released only at `pairs`
    pool = pd.DataFrame({c: rng.choice(v, 60) for c, v in (("y", ["0", "1"]), ("g", ["a", "b"]), ("h", ["u", "v"]))})
    full = CalibrationTargets.from_table(real, spec, shrinkage=0)
    target = CalibrationTargets.from_table(real, spec, shrinkage=0, level="target")
    assert _cells(target.codes(pool), target, 1.0)[0].shape[1] == 3 + 2  # 3 marginals + the 2 target pairs
    chosen = select_rows(target.codes(pool), target, 20)
    target.pairs[(1, 2)] = full.pairs[(1, 2)]  # the unpublished g x h table: selection must not look at it
    assert np.array_equal(select_rows(target.codes(pool), target, 20), chosen)
    h_follows_g = (pool["g"] == "a") == (pool["h"] == "u")
    assert h_follows_g.iloc[select_rows(full.codes(pool), full, 20)].mean() > h_follows_g.iloc[chosen].mean()
