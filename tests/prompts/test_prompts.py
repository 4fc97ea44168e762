import pytest

from synllm_mlops.errors import UnknownNameError
from synllm_mlops.prompts import STRATEGIES, PromptOptions, format_rows, get_strategy


def _real_lines(df, spec):
    return set(format_rows(df, spec).splitlines())


@pytest.mark.parametrize("name", ["featdesc", "statguide", "clin_rule"])
def test_no_real_row_in_rowless_prompts(render, cirrhosis, name):
    spec, real, split = cirrhosis
    p = render(name, spec, split.train)
    assert not p.uses_real_rows
    lines = set(p.user.splitlines())
    assert not lines & _real_lines(real, spec)
    # not even a partial row: no line has the table's field count
    assert not [ln for ln in lines if ln.count(",") == len(spec.columns) - 1 and "," in ln and " " not in ln]


def test_seed_ex_examples_come_from_train_only(render, cirrhosis):
    spec, _, split = cirrhosis
    p = render("seed_ex", spec, split.train, PromptOptions(n_examples=8), seed=1)
    assert p.uses_real_rows
    shown = [ln for ln in p.user.splitlines() if ln.count(",") == len(spec.columns) - 1 and ":" not in ln]
    assert len(shown) == 8
    assert set(shown) <= _real_lines(split.train, spec)
    assert not set(shown) & _real_lines(split.holdout, spec)


def test_same_seed_same_prompt(render, cirrhosis):
    spec, _, split = cirrhosis
    exact = PromptOptions(dp_epsilon=None)  # DP noise never comes from the seed: only an exact release repeats
    for name in STRATEGIES:
        a = render(name, spec, split.train, exact, seed=5).user
        assert a == render(name, spec, split.train, exact, seed=5).user
    assert (render("seed_ex", spec, split.train, seed=5).user
            != render("seed_ex", spec, split.train, seed=6).user)


def test_statistics_are_computed_from_train(render, cirrhosis):
    spec, _, split = cirrhosis
    p = render("statguide", spec, split.train, PromptOptions(dp_epsilon=None))
    sex_f = 100 * (split.train["Sex"] == "F").mean()
    assert f"F {sex_f:.0f}%" in p.user
    n = 10 * round(len(split.train) / 10)  # the count is rounded: exact, it scales shares back into counts
    assert n != len(split.train) and f"Statistics of the real table ({n} patients)" in p.user


def test_clin_rule_carries_every_rule_with_its_source(render, cirrhosis):
    spec, _, split = cirrhosis
    p = render("clin_rule", spec, split.train)
    for r in spec.rules:
        assert r.describe() in p.user and r.note in p.user


def test_dp_statistics_differ_but_stay_in_range(render, cirrhosis):
    spec, _, split = cirrhosis
    plain = render("statguide", spec, split.train, PromptOptions(dp_epsilon=None)).user
    noisy = render("statguide", spec, split.train, PromptOptions(dp_epsilon=0.5)).user
    assert plain != noisy


def test_unknown_strategy_message():
    with pytest.raises(UnknownNameError, match="unknown strategy 'clinrule'; choose one of: seed_ex, featdesc, statguide, clin_rule"):
        get_strategy("clinrule")


def test_every_prompt_lists_columns_in_spec_order(render, cirrhosis):
    spec, _, split = cirrhosis
    for name in STRATEGIES:
        assert ",".join(spec.column_names) in render(name, spec, split.train).user


@pytest.mark.parametrize("name", ["statguide", "clin_rule"])
def test_statistics_prompts_say_so_when_the_level_releases_none(render, cirrhosis, name):
    from synllm_mlops.prompts._strategies import NO_STATISTICS

    spec, _, split = cirrhosis
    user = render(name, spec, split.train, PromptOptions(release_level="none")).user
    assert NO_STATISTICS in user and "Statistics of the real table" not in user and "median" not in user
    assert "- Bilirubin:" in user and (name == "statguide" or "Clinical rules every patient must satisfy" in user)
    assert "Match these statistics" not in user  # nothing released: nothing to match
    assert ("Respect every rule." in user) == (name == "clin_rule")
    released = render(name, spec, split.train, PromptOptions(release_level="target", dp_epsilon=None)).user
    assert "Match these statistics" in released


def test_each_level_cuts_the_prompt_statistics(render, cirrhosis):
    spec, _, split = cirrhosis
    text = {lv: render("statguide", spec, split.train,  # exact: DP noise differs at every release
                       PromptOptions(release_level=lv, dp_epsilon=None)).variables["statistics"]
            for lv in ("marginals", "target", "pairs")}
    assert "correlations" in text["pairs"] and "correlations" not in text["target"] + text["marginals"]
    assert "By Status:" in text["target"] and "By Status:" not in text["marginals"]
    assert text["target"].startswith(text["marginals"])  # the per-column lines are the same numbers at every level
