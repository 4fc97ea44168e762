"""The known-answer ladder (issue 20): copies < column-shuffled < independent marginals < real, over 5 seeds.

Built-in cirrhosis data, no model. Each assertion is one rung of the README's "Scores" section.
"""

import math

import pandas as pd
import pytest

from synllm_mlops.evaluation import evaluate, ladder_tables, real_reference
from synllm_mlops.spec import load_data, load_spec, split_data

SEEDS = range(5)
N_ROWS = 150


@pytest.fixture(scope="module")
def ladder() -> dict[int, dict[str, dict[str, float]]]:
    spec = load_spec("cirrhosis")
    real = load_data(spec)
    out = {}
    for seed in SEEDS:
        split = split_data(real, spec, seed=seed)
        rungs = {name: evaluate(split.train, split.holdout, table, spec, seed=seed).metrics
                 for name, table in ladder_tables(split.train, N_ROWS, seed).items()}
        rungs["real reference"] = real_reference(split.train, split.holdout, spec, seed=seed).metrics
        out[seed] = rungs
    return out


def _q(r):
    return r["score/quality"]


def _p(r):
    return r["score/privacy"]


def _h(r):
    return r["score/harmonic"]


@pytest.mark.parametrize("seed", SEEDS)
def test_privacy_ladder_copies_then_near_copies_then_independent_marginals(ladder, seed):
    r = ladder[seed]
    assert _p(r["verbatim copies"]) < _p(r["column-shuffled"]) < _p(r["independent marginals"])
    assert _p(r["verbatim copies"]) == min(_p(v) for v in r.values())


@pytest.mark.parametrize("seed", SEEDS)
def test_quality_ladder_independent_marginals_below_the_real_reference(ladder, seed):
    r = ladder[seed]
    assert _q(r["independent marginals"]) + 0.1 < _q(r["real reference"])
    # independent marginals keep shapes and lose pairs and 3-way structure; shuffling two columns breaks some pairs
    indep, shuffled, copies = r["independent marginals"], r["column-shuffled"], r["verbatim copies"]
    assert indep["fidelity/column_shapes"] > 0.9
    pairs = "fidelity/column_pair_trends"
    assert indep[pairs] < shuffled[pairs] < copies[pairs]
    assert indep["fidelity/three_way"] + 0.05 < copies["fidelity/three_way"]


@pytest.mark.parametrize("seed", SEEDS)
def test_harmonic_ladder_copies_last_real_reference_first(ladder, seed):
    r = ladder[seed]
    assert _h(r["verbatim copies"]) == min(_h(v) for v in r.values())
    # the reference is scored on holdout halves of ~40 rows (cross-fitted), so on one seed it may trail a near-copy
    # table by the noise of so few rows; it never trails by more, and over the seeds it comes first (below)
    assert _h(r["real reference"]) >= max(_h(v) for v in r.values()) - 0.05


def test_harmonic_real_reference_first_over_the_seeds(ladder):
    names = ladder[SEEDS[0]].keys()
    mean = {n: sum(_h(ladder[s][n]) for s in SEEDS) / len(SEEDS) for n in names}
    assert mean["real reference"] == max(mean.values()), mean


@pytest.mark.parametrize("seed", SEEDS)
def test_half_copies_fail_privacy_and_fall_below_independent_marginals(ladder, seed):
    r = ladder[seed]
    assert r["half copies"]["privacy/exact_match_rate"] == pytest.approx(0.5)
    assert _p(r["half copies"]) <= 0.5
    assert _h(r["half copies"]) < _h(r["independent marginals"])


def test_real_reference_never_tests_a_table_on_itself():
    spec = load_spec("breast_cancer")
    split = split_data(load_data(spec), spec, seed=0)
    ref = real_reference(split.train, split.holdout, spec, seed=0)
    a, b = (f._data for f in ref.folds)
    assert a.synthetic.equals(b.holdout) and b.synthetic.equals(a.holdout)  # the halves swap roles
    assert len(a.synthetic) + len(b.synthetic) == len(split.holdout)
    keys = lambda df: set(map(tuple, df.round(6).astype(str).to_numpy()))  # noqa: E731
    assert not keys(a.synthetic) & keys(a.holdout)
    # scoring the holdout against itself put every row at distance 0 from its own holdout copy (share 0.0)
    assert ref.metrics["privacy/dcr_share_closer_to_train"] > 0.2
    assert ref.metrics["utility/tstr_auc"] == pytest.approx(
        (ref.folds[0].metrics["utility/tstr_auc"] + ref.folds[1].metrics["utility/tstr_auc"]) / 2)


def test_ladder_tables_have_the_requested_rows_and_train_columns():
    spec = load_spec("cirrhosis")
    train = split_data(load_data(spec), spec, seed=0).train
    tables = ladder_tables(train, 40, seed=0)
    assert list(tables) == ["verbatim copies", "half copies", "column-shuffled", "independent marginals"]
    for t in tables.values():
        assert len(t) == 40 and list(t.columns) == list(train.columns)
    merged = tables["verbatim copies"].merge(train.drop_duplicates(), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    shuffled, copies = tables["column-shuffled"], tables["verbatim copies"]
    changed = ((shuffled != copies) & ~(shuffled.isna() & copies.isna())).any()
    assert 1 <= int(changed.sum()) <= 2  # at most the two shuffled columns differ
    assert not math.isnan(pd.to_numeric(tables["independent marginals"][spec.numeric_columns[0]]).mean())
