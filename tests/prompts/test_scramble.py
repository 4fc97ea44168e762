"""scramble_names: the prompt shows opaque column names only, so the model's knowledge of the names is removed."""

import re

import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.prompts import STRATEGIES, PromptOptions
from synllm_mlops.spec import load_data, load_spec, split_data


def shown(text: str, word: str) -> bool:
    # short units ("s") only count as a word of their own; everything else counts anywhere
    return bool(re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text)) if len(word) <= 2 else word in text


@pytest.fixture(scope="module", params=["cirrhosis", "breast_cancer"])
def dataset(request):
    spec = load_spec(request.param)
    return spec, split_data(load_data(spec), spec, seed=0)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("dp_epsilon", [None, 1.0])
def test_no_column_name_unit_or_description_in_the_scrambled_prompt(render, dataset, strategy, dp_epsilon):
    spec, split = dataset
    if dp_epsilon is not None and strategy == "seed_ex":
        pytest.skip("seed_ex shows real rows: it cannot run under DP")
    plain = render(strategy, spec, split.train, PromptOptions(dp_epsilon=dp_epsilon)).user
    user = render(strategy, spec, split.train, PromptOptions(scramble_names=True, dp_epsilon=dp_epsilon)).user
    names = [c.name for c in spec.columns]
    units = sorted({c.unit for c in spec.columns if c.unit})
    assert all(shown(plain, n) for n in names)  # the check can fail: the plain prompt shows every name ...
    if strategy != "seed_ex":
        assert all(shown(plain, u) for u in units)  # ... and every unit
    assert [n for n in names if shown(user, n)] == []
    assert [u for u in units if shown(user, u)] == []
    assert [c.name for c in spec.columns if c.description and c.description in user] == []
    assert " ".join(spec.description.split()) not in user
    header = ",".join(f"x{i:02d}" for i in range(1, len(spec.columns) + 1))
    assert f"Columns, in this order: {header}\n" in user


def test_what_a_column_holds_stays_and_rows_stay_positional(render, cirrhosis):
    spec, _, split = cirrhosis
    user = render("clin_rule", spec, split.train, PromptOptions(scramble_names=True)).user
    # Drug is the 3rd column: its categories keep their labels; N_Days (1st) keeps its range
    assert "- x03: one of D-penicillamine/Placebo, may be NA\n" in user
    assert "- x01: number, 1 to 5000\n" in user
    # rules keep their logic, without the clinical note (Ascites is the 6th column, Edema the 9th)
    assert "- if x06 == Y then x09 in {S, Y}\n" in user
    assert "EASL" not in user and "Mayo" not in user
    # seed_ex: the example rows are the same positional CSV lines with or without scrambling
    rows = [render("seed_ex", spec, split.train, PromptOptions(scramble_names=s), seed=3).variables["examples"]
            for s in (False, True)]
    assert rows[0] == rows[1]


def test_scramble_names_is_a_logged_run_setting():
    assert RunConfig(scramble_names=True).flat_params()["scramble_names"] is True
    assert RunConfig().flat_params()["scramble_names"] is False
