"""The release stage: one plan, one budget, one artifact that round-trips exactly."""

import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.errors import ConfigError
from synllm_mlops.pipeline import prepare
from synllm_mlops.release import (
    PlannedRelease,
    Release,
    allocate,
    calibration_plan,
    make_release,
    prompt_plan,
    release_plan,
)


def test_the_planner_splits_epsilon_by_part_then_family_then_equally(cirrhosis):
    spec = cirrhosis[0]
    plan = prompt_plan(spec) + calibration_plan(spec)
    eps = allocate(plan, 2.0)
    assert sum(eps.values()) == pytest.approx(2.0)
    prompt = {r.label: eps[r.label] for r in plan if r.part == "prompt"}
    assert sum(prompt.values()) == pytest.approx(1.0)
    marginal = [eps[r.label] for r in plan if r.family == "marginal"]
    assert sum(marginal) == pytest.approx(0.5) and len(set(marginal)) == 1
    assert allocate([PlannedRelease("prompt", "marginal", "a")], 0.3) == {"a": 0.3}
    with pytest.raises(ValueError, match="unique labels"):
        allocate([PlannedRelease("prompt", "marginal", "a")] * 2, 1.0)


def test_a_release_round_trips_byte_for_byte(cirrhosis):
    spec, _, split = cirrhosis
    for eps in (None, 1.0):
        r = make_release(spec, split.train, dp_epsilon=eps)
        back = Release.from_json(r.to_json())
        assert back.to_json() == r.to_json() and back.statistics == r.statistics
        assert back.targets.errors(split.train) == r.targets.errors(split.train)


def test_the_ledger_is_charged_once_with_the_whole_budget(cirrhosis):
    spec, _, split = cirrhosis
    r = make_release(spec, split.train, dp_epsilon=1.5)
    labels = [e["release"] for e in r.ledger["releases"]]
    assert r.ledger["spent"] == pytest.approx(1.5) and len(labels) == len(set(labels))
    assert labels == [p.label for p in release_plan(spec)]  # the run's default level (target: no correlations)
    assert not any(lb.startswith("table:") and "Status" not in lb for lb in labels)


def test_prepare_reads_statistics_from_the_release_only(cirrhosis):
    prep = prepare(RunConfig(strategy="statguide"))
    assert prep.prompt.variables["statistics"] == prep.release.statistics
    assert prepare(RunConfig(strategy="featdesc")).release.statistics is None  # nothing released it does not carry


def test_seed_ex_with_dp_epsilon_is_refused():
    with pytest.raises(ConfigError, match="seed_ex puts real rows in the prompt.*drop dp_epsilon"):
        prepare(RunConfig(strategy="seed_ex", dp_epsilon=1.0))


def test_prompt_statistics_are_rounded_so_the_model_has_no_exact_value_to_copy():
    from synllm_mlops.release import describe_statistics
    from synllm_mlops.release._stats import _fmt
    from synllm_mlops.spec import load_data, load_spec, split_data

    assert [_fmt(x) for x in (1441, 1012.5, 3.47, 0.794, 9.96, -0.0123, 0.0)] == \
        ["1400", "1000", "3.5", "0.79", "10", "-0.012", "0"]
    spec = load_spec("cirrhosis")
    train = split_data(load_data(spec), spec, seed=0).train
    text = describe_statistics(train, spec)
    medians = train.groupby("Status")["N_Days"].median()
    assert all(f"N_Days median {m:.0f}" not in text for m in medians if m % 100)  # exact medians were copied as values
    assert f"N_Days median {_fmt(medians['D'])}," in text
