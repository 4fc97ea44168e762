"""The control arm: lift = ours - control mean, intervals from the control tables, the smallest detectable lift."""

import math

import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.control import ControlResult, score_control
from synllm_mlops.evaluation import min_detectable, t_interval
from synllm_mlops.pipeline import prepare


def test_t_interval_and_minimum_detectable_difference_known_answers():
    m, h = t_interval([1.0, 2.0, 3.0])
    assert m == 2.0 and h == pytest.approx(2.4841, abs=1e-4)  # t(0.975, 2) = 4.303 x sd 1 / sqrt 3
    assert math.isnan(t_interval([1.0])[1]) and math.isnan(min_detectable(0.1, 1))
    # (t(0.975, 4) + t(0.8, 4)) x 0.02 x sqrt(1/5 + 1) = (2.776 + 0.941) x 0.02 x 1.095
    assert min_detectable(0.02, 5) == pytest.approx(0.0814, abs=5e-4)
    assert min_detectable(0.02, 10, 10) < min_detectable(0.02, 10)  # more model tables, smaller detectable lift


def test_lift_is_ours_minus_the_control_mean_with_the_controls_interval():
    control = ControlResult([{"score/harmonic": 0.80}, {"score/harmonic": 0.82}, {"score/harmonic": 0.84}])
    m = control.metrics({"score/harmonic": 0.90})
    assert m["control/score/harmonic"] == pytest.approx(0.82) and m["lift/score/harmonic"] == pytest.approx(0.08)
    assert m["lift/score/harmonic_ci95"] == m["control/score/harmonic_ci95"] == pytest.approx(t_interval([.8, .82, .84])[1])
    assert m["lift/score/harmonic_mde"] == pytest.approx(min_detectable(0.02, 3))
    assert m["control/tables"] == 3 and "lift/score/quality" not in m  # no metric of ours, no lift


def test_the_control_is_scored_once_per_release_and_not_without_targets():
    prep = prepare(RunConfig(n_rows=20, backend="fake", model="fake"))
    calls = []

    def evaluate_table(synthetic, seed):
        calls.append(len(synthetic))
        return {"score/harmonic": 0.5 + 0.01 * len(calls)}

    cache = {}
    first = score_control(prep, 3, evaluate_table=evaluate_table, cache=cache)
    assert calls == [20, 20, 20] and len(first.tables) == 3
    assert score_control(prep, 3, evaluate_table=evaluate_table, cache=cache) is first and len(calls) == 3
    assert score_control(prepare(RunConfig(n_rows=20, calibration="none")), 3, evaluate_table=evaluate_table) is None


def test_main_over_seeds_logs_means_with_intervals_and_a_paired_lift(mlflow_store):
    import mlflow

    from synllm_mlops.workflow import run_repeated

    out = run_repeated(RunConfig(backend="fake", model="fake", n_rows=30, repeats=3, control_tables=2), progress=False)
    parent = mlflow.get_run(out.run_id)
    children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{out.run_id}'", output_format="list")
    assert sorted(int(c.data.params["seed"]) for c in children) == [0, 1, 2]
    assert all(c.data.tags["synllm.private"] == "true" for c in children)  # DP by default: scored in a child run
    lifts = [mlflow.get_run(c.data.tags["synllm.evaluation_run_id"]).data.metrics["lift/score/harmonic"]
             for c in children]
    assert parent.data.tags["synllm.outside_dp_guarantee"] == "true"  # its means read the seeds' evaluations
    m = parent.data.metrics
    assert m["lift/score/harmonic"] == pytest.approx(sum(lifts) / 3)
    assert m["lift/score/harmonic_ci95"] == pytest.approx(t_interval(lifts)[1])  # paired: the spread of the lifts
    assert m["repeats/seeds"] == 3 and "score/harmonic_ci95" in m
    assert parent.data.tags["synllm.headline"].endswith("mean of 3 seeds")
    assert parent.info.run_name == "main-cirrhosis-clin_rule-fake-s0x3"
