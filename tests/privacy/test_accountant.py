import json

import pytest

from synllm_mlops.errors import PrivacyBudgetError
from synllm_mlops.privacy import PrivacyBudget


def test_charges_add_up_and_the_ledger_records_each_release():
    budget = PrivacyBudget(1.0)
    budget.charge("histogram:a", "discrete_laplace", 1, 0.25, note="disjoint cells")
    budget.charge("table:axb", "discrete_laplace", 1, 0.5)
    assert budget.spent == pytest.approx(0.75) and budget.remaining == pytest.approx(0.25)
    assert [(e.release, e.sensitivity, e.epsilon) for e in budget.ledger] == [("histogram:a", 1.0, 0.25), ("table:axb", 1.0, 0.5)]
    budget.ledger.clear()  # a copy: the budget's own record cannot be edited from outside
    assert len(budget.ledger) == 2


def test_float_shares_spend_the_budget_exactly():
    budget = PrivacyBudget(1.0)
    for i in range(3):
        budget.charge(f"r{i}", "discrete_laplace", 1, 1 / 3)
    assert budget.spent == pytest.approx(1.0)
    with pytest.raises(PrivacyBudgetError):
        budget.charge("one more", "discrete_laplace", 1, 1e-6)


def test_overspending_raises_and_spends_nothing():
    budget = PrivacyBudget(0.5)
    budget.charge("a", "discrete_laplace", 1, 0.4)
    with pytest.raises(PrivacyBudgetError, match=r"release 'b' needs epsilon 0.2 but only 0.1 of the run's budget 0.5 remains"):
        budget.charge("b", "discrete_laplace", 1, 0.2)
    assert budget.spent == pytest.approx(0.4) and len(budget.ledger) == 1


@pytest.mark.parametrize("field, kwargs", [("epsilon", {"sensitivity": 1, "epsilon": 0}),
                                           ("epsilon", {"sensitivity": 1, "epsilon": float("nan")}),
                                           ("sensitivity", {"sensitivity": -1, "epsilon": 0.1})])
def test_invalid_charges_are_refused(field, kwargs):
    with pytest.raises(PrivacyBudgetError, match=f"{field} must be a finite number > 0"):
        PrivacyBudget(1.0).charge("x", "discrete_laplace", **kwargs)


@pytest.mark.parametrize("eps", [0, -1, float("inf"), "1"])
def test_a_budget_needs_a_positive_finite_epsilon(eps):
    with pytest.raises(PrivacyBudgetError, match="finite epsilon > 0"):
        PrivacyBudget(eps)


def test_ledger_json_is_the_run_artifact():
    budget = PrivacyBudget(2.0)
    budget.charge("histogram:Age", "discrete_laplace", 1, 0.5, note="disjoint cells")
    doc = json.loads(budget.to_json())
    assert doc["epsilon"] == 2.0 and doc["spent"] == 0.5 and doc["remaining"] == 1.5
    assert "add/remove one patient (one row) of the CSV" in doc["neighbours"] and "sequential" in doc["composition"]
    assert doc["releases"] == [{"release": "histogram:Age", "mechanism": "discrete_laplace", "sensitivity": 1.0,
                                "epsilon": 0.5, "note": "disjoint cells"}]
