"""Sensitivity of every release the DP prompt statistics make, on worst-case neighbouring tables.

Neighbours differ by one added or removed row (one patient). Every release is a count vector whose
ledger entry claims L1 sensitivity 1: check it against rows at the spec's extremes, outside it, all
missing, with unknown categories, duplicated, and against removing rows.
"""

import numpy as np
import pandas as pd
import pytest

from synllm_mlops.privacy import PrivacyBudget
from synllm_mlops.release._stats import ALL_STATS, _plan, describe_statistics


def _extreme_rows(spec):
    def row(num, cat):
        return {c.name: (num(c) if c.is_numeric else cat(c)) for c in spec.columns}
    return pd.DataFrame([
        row(lambda c: c.min, lambda c: c.categories[0]),
        row(lambda c: c.max, lambda c: c.categories[-1]),
        row(lambda c: np.nan, lambda c: np.nan),
        row(lambda c: 1e12, lambda c: "not-a-category"),
        row(lambda c: -1e12, lambda c: c.categories[-1]),
    ])


def _neighbours(table, spec):
    for i in range(len(_extreme_rows(spec))):
        yield "add extreme row", pd.concat([table, _extreme_rows(spec).iloc[[i]]], ignore_index=True)
    yield "add a duplicate", pd.concat([table, table.iloc[[0]]], ignore_index=True)
    for i in range(0, len(table), max(len(table) // 25, 1)):
        yield f"remove row {i}", table.drop(table.index[i])


def test_each_release_moves_by_at_most_its_sensitivity(cirrhosis):
    spec, _, split = cirrhosis
    train = split.train.reset_index(drop=True)
    first = _plan(spec, ALL_STATS, 5)
    # second-stage tables sit on bins from released marginals; any marginals will do for the check
    plan = _plan(spec, ALL_STATS, 5, {r.bins[0].column: r.exact(train) for r in first if r.family == "marginal"})
    assert [r.label for r in plan] == [r.label for r in first] and plan != first
    budget = PrivacyBudget(1.0)
    describe_statistics(train, spec, budget=budget)
    claimed = {e.release: e.sensitivity for e in budget.ledger}
    assert set(claimed) == {r.label for r in plan}
    base = {r.label: r.exact(train) for r in plan}
    for what, other in _neighbours(train, spec):
        for r in plan:
            l1 = int(np.abs(r.exact(other) - base[r.label]).sum())
            assert l1 == 1 <= claimed[r.label], f"{what}: {r.label} moved by {l1}"


@pytest.mark.parametrize("include", [ALL_STATS, ("moments",), ("correlations",), ("target_differences",), ()])
def test_the_plan_reads_only_the_spec_and_options(cirrhosis, include):
    spec, _, _ = cirrhosis
    plan = _plan(spec, include, 5)
    assert plan == _plan(spec, include, 5) and plan  # no data argument at all; never empty (the patient count)
    assert len({r.label for r in plan}) == len(plan)


def test_one_row_can_move_a_median_by_half_the_range():
    """Why medians and quartiles are never noised at (hi - lo) / n: one row moves them by up to (hi - lo) / 2."""
    lo, hi, n = 0.0, 100.0, 101
    table = pd.Series([lo] * 51 + [hi] * 50)
    moved = abs(pd.concat([table, pd.Series([hi])]).median() - table.median())
    assert moved == pytest.approx((hi - lo) / 2) and moved > 50 * (hi - lo) / n


def test_one_patient_more_or_less_in_the_csv_moves_each_release_by_at_most_one(cirrhosis):
    """The neighbour relation users mean: a patient removed from (or added to) the CSV, then split."""
    from synllm_mlops.spec import split_data

    spec, real, _ = cirrhosis
    train = split_data(real, spec, seed=0).train
    first = _plan(spec, ALL_STATS, 5)
    plan = _plan(spec, ALL_STATS, 5, {r.bins[0].column: r.exact(train) for r in first if r.family == "marginal"})
    base = {r.label: r.exact(train) for r in plan}
    moved_any = 0
    for i in range(0, len(real), 11):
        for other in (real.drop(real.index[i]), pd.concat([real, real.iloc[[i]]])):
            other_train = split_data(other.reset_index(drop=True), spec, seed=0).train
            l1 = [int(np.abs(r.exact(other_train) - base[r.label]).sum()) for r in plan]
            assert max(l1) <= 1, f"patient {i}: a release moved by {max(l1)}"
            moved_any += max(l1)
    assert moved_any > 40  # about 80 % of the 78 neighbours have the patient in train: those move every release
