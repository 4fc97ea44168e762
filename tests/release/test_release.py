"""The release stage: one plan, one budget, one artifact that round-trips exactly."""

import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.errors import ConfigError
from synllm_mlops.pipeline import prepare
from synllm_mlops.release import PlannedRelease, Release, allocate, calibration_plan, make_release, prompt_plan


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
    assert labels == [p.label for p in prompt_plan(spec)] + [p.label for p in calibration_plan(spec)]


def test_prepare_reads_statistics_from_the_release_only(cirrhosis):
    prep = prepare(RunConfig(strategy="statguide"))
    assert prep.prompt.variables["statistics"] == prep.release.statistics
    assert prepare(RunConfig(strategy="featdesc")).release.statistics is None  # nothing released it does not carry


def test_seed_ex_with_dp_epsilon_is_refused():
    with pytest.raises(ConfigError, match="seed_ex puts real rows in the prompt.*drop dp_epsilon"):
        prepare(RunConfig(strategy="seed_ex", dp_epsilon=1.0))
