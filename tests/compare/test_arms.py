"""Grid arms: named run settings crossed with models x datasets x seeds; a stats arm runs once per dataset x seed."""

from __future__ import annotations

import mlflow
import pytest

from synllm_mlops.compare import GridConfig, cell_hash, load_grid, run_compare
from synllm_mlops.errors import ConfigError

ARMS = [{"name": "A", "backend": "stats"},
        {"name": "B", "overrides": {"steer_strength": 0.5}},
        {"name": "C", "overrides": {"steer_strength": 0.5, "scramble_names": True}}]


def _grid(**changes) -> GridConfig:
    cfg = {"name": "arms", "backend": "fake", "models": ["fake-a", "fake-b"], "strategies": ["featdesc"],
           "datasets": ["cirrhosis"], "seeds": [0, 1], "n_rows": 8, "arms": ARMS,
           "overrides": {"rows_per_completion": 4, "batch_size": 2}}
    return GridConfig(**{**cfg, **changes})


def test_arms_cross_the_models_and_a_stats_arm_runs_once_per_dataset_and_seed():
    cells = _grid().cells()
    assert [c.name for c in cells] == [
        "B-fake-a-cirrhosis-featdesc-s0", "B-fake-a-cirrhosis-featdesc-s1",
        "C-fake-a-cirrhosis-featdesc-s0", "C-fake-a-cirrhosis-featdesc-s1",
        "B-fake-b-cirrhosis-featdesc-s0", "B-fake-b-cirrhosis-featdesc-s1",
        "C-fake-b-cirrhosis-featdesc-s0", "C-fake-b-cirrhosis-featdesc-s1",
        "A-stats-cirrhosis-featdesc-s0", "A-stats-cirrhosis-featdesc-s1"]  # grouped by model, model-free last
    by = {c.name: c.config for c in cells}
    assert by["A-stats-cirrhosis-featdesc-s0"].backend == "stats"
    assert by["B-fake-a-cirrhosis-featdesc-s0"].backend == "fake"
    assert by["B-fake-b-cirrhosis-featdesc-s1"].calibrate.steer_strength == 0.5
    assert by["C-fake-a-cirrhosis-featdesc-s0"].prompt.scramble_names is True
    assert by["A-stats-cirrhosis-featdesc-s0"].calibrate.steer_strength == 1.0  # the run default, not B's
    assert by["A-stats-cirrhosis-featdesc-s0"].generation.batch_size == 2  # the grid's overrides reach every arm
    assert len({c.hash for c in cells}) == 10


def test_the_arm_is_part_of_a_cells_identity_and_a_grid_without_arms_keeps_its_hashes():
    same = _grid(arms=[{"name": "B1"}, {"name": "B2"}]).cells()
    assert same[0].config == same[2].config and same[0].hash != same[2].hash  # same settings, two arms
    plain = _grid(arms=[]).cells()
    assert [c.name for c in plain][:2] == ["fake-a-cirrhosis-featdesc-s0", "fake-a-cirrhosis-featdesc-s1"]
    assert all(c.hash == cell_hash(c.config, c.spec_digest, c.data_digest) for c in plain)


def test_an_arm_may_fix_an_axis():
    g = _grid(strategies=["featdesc", "statguide"],
              arms=[{"name": "S", "overrides": {"strategy": "clin_rule", "calibration": "steer"}}, {"name": "F"}])
    strategies = {}
    for c in g.cells():
        strategies.setdefault(c.arm, set()).add((c.config.strategy, c.config.calibrate.calibration))
    assert strategies == {"S": {("clin_rule", "steer")}, "F": {("featdesc", "select+steer"),
                                                               ("statguide", "select+steer")}}


@pytest.mark.parametrize("arms,expected", [
    ([{"name": "A"}, {"name": "A"}], "arm names must be distinct, got ['A'] more than once"),
    ([{"name": "A", "overrides": {"seed": 3}}], "an arm's overrides cannot set ['seed']"),
    ([{"name": "A", "overrides": {"model": "x", "backend": "hf"}}], "cannot set ['backend', 'model']"),
    ([{"name": "A", "overrides": {"temprature": 0.5}}], "unknown RunConfig fields ['temprature'] in an arm's"),
    ([{"name": "A", "backnd": "stats"}], "arms.0.backnd: unknown key (got 'stats'); allowed keys here: name, backend, "
                                         "overrides"),
    ([{"name": "A", "backend": "tgi"}], "arms.0.backend: Input should be"),
    ([{"name": "A B"}], "arms.0.name: String should match pattern"),
    ([{"name": "A", "overrides": {"steer_strength": 2}}], "arm 'A' {'steer_strength': 2} give"),
])
def test_arm_errors_name_the_key_the_value_and_the_fix(grid_yaml, arms, expected):
    with pytest.raises(ConfigError) as e:
        load_grid(grid_yaml(arms=arms))
    assert expected in str(e.value)


def test_an_arms_grid_runs_tags_its_cells_resumes_and_groups_the_leaderboard_by_arm(mlflow_store, grid_yaml,
                                                                                     fast_eval):
    path = grid_yaml(models=["fake-a"], strategies=["featdesc"], seeds=[0, 1], arms=ARMS[:2])
    out = run_compare(path, progress=False)
    assert out.counts == {"ran": 4, "skipped": 0, "failed": 0}
    kids = mlflow.search_runs(experiment_names=["synllm-test"], output_format="list",
                              filter_string=f"tags.`mlflow.parentRunId` = '{out.run_id}'")
    tags = {k.info.run_name: k.data.tags for k in kids}
    assert set(tags) == {"A-stats-cirrhosis-featdesc-s0", "A-stats-cirrhosis-featdesc-s1",
                         "B-fake-a-cirrhosis-featdesc-s0", "B-fake-a-cirrhosis-featdesc-s1"}
    assert {n: t["synllm.arm"] for n, t in tags.items()} == {n: n[0] for n in tags}
    assert "once per dataset x seed" in tags["A-stats-cirrhosis-featdesc-s0"]["synllm.arm_model"]
    assert "synllm.arm_model" not in tags["B-fake-a-cirrhosis-featdesc-s0"]
    params = {k.info.run_name: k.data.params for k in kids}
    assert params["A-stats-cirrhosis-featdesc-s0"]["backend"] == "stats"
    assert params["B-fake-a-cirrhosis-featdesc-s1"]["steer_strength"] == "0.5"
    board = out.leaderboard
    assert sorted(zip(board["arm"], board["model"], board["n_cells"])) == [("A", "stats", 2), ("B", "fake-a", 2)]
    again = run_compare(path, progress=False)
    assert again.counts == {"ran": 0, "skipped": 4, "failed": 0}
    assert sorted(again.leaderboard["arm"]) == ["A", "B"]
