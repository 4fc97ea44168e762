"""The no-LLM control as an arm of a study (``backends``): fake backend as the "model", the real stats backend."""

from __future__ import annotations

import mlflow
import pytest
from optuna.trial import TrialState

from synllm_mlops.errors import ConfigError
from synllm_mlops.tuning import TuneConfig, tune
from synllm_mlops.tuning._report import pareto_figures

_MODEL_PARAMS = {"model", "strategy", "temperature", "top_p", "top_k", "repetition_penalty", "rows_per_completion"}


def _cfg(tmp_path, **kw) -> TuneConfig:
    base = {"backend": "fake", "model": "fake", "n_rows": 6, "batch_size": 4,
            "storage": str(tmp_path / "optuna.sqlite3"), "study_name": "arms", "n_startup_trials": 2,
            "sampler": "random", "calibrations": "steer,select+steer",
            "release_levels": "target,pairs", "strategies": "featdesc,clin_rule", "control_tables": 1}
    return TuneConfig.build(**{**base, **kw})


def test_a_study_with_the_control_arm_scores_both_arms_and_loads_the_model_for_model_trials(
        mlflow_store, tmp_path, fast_eval, fake_factory):
    res = tune(_cfg(tmp_path, n_trials=8, backends="fake,stats", register_champion=False),
               backend_factory=fake_factory(), progress=False)
    trials = res.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 8
    arms = {t.number: t.user_attrs["backend"] for t in trials}
    assert set(arms.values()) == {"fake", "stats"}
    assert len(fake_factory.built) == 1  # the stats trials never asked the factory for a model
    for t in trials:
        run = mlflow.get_run(t.user_attrs["mlflow_run_id"])
        assert run.data.params["backend"] == arms[t.number] == t.params["backend"]
        if arms[t.number] == "stats":
            assert not _MODEL_PARAMS & set(t.params) and run.data.params["model"] == "stats"
            assert t.user_attrs["lift/score/harmonic"] == 0.0  # its own control
            assert t.user_attrs["control/score/quality"] == pytest.approx(t.values[0])
        else:
            assert {"temperature", "strategy"} <= set(t.params)  # one model: fixed, not a parameter
            scored = mlflow.get_run(run.data.tags.get("synllm.evaluation_run_id", run.info.run_id))  # DP: the child
            assert "control/score/quality" in scored.data.metrics
    table = res.table
    assert dict(zip(table["number"], table["backend"])) == arms
    pfig, _ = pareto_figures(table, "t")
    symbols = [s for tr in pfig.data if tr.marker.symbol is not None and not isinstance(tr.marker.symbol, str)
               for s in tr.marker.symbol]
    assert symbols.count("square") == sum(a == "stats" for a in arms.values())
    assert mlflow.get_run(res.run_id).data.params["backends"] == "fake,stats"


def test_a_study_of_the_control_alone_loads_no_model_and_registers_a_stats_champion(
        mlflow_store, tmp_path, fast_eval, fake_factory):
    res = tune(_cfg(tmp_path, n_trials=3, backends="stats", tune_dp=True), backend_factory=fake_factory(),
               progress=False)
    assert fake_factory.built == []
    for t in res.study.trials:
        assert t.state == TrialState.COMPLETE and set(t.params) <= {"release_level", "calibration", "oversample",
                                                                    "steer_strength", "dp_epsilon"}
        assert t.user_attrs["config"]["backend"] == "stats"
    assert res.model_uri is not None


def test_backends_must_be_the_runs_backend_and_the_control(tmp_path):
    with pytest.raises(ConfigError,
                       match=r"backends \['hf', 'stats'\] names \['hf'\], but the run's backend is 'fake'"):
        _cfg(tmp_path, backends="hf,stats")
    with pytest.raises(ConfigError, match=r"unknown backends \['gpt'\]; choose from: fake, hf, stats, vllm"):
        _cfg(tmp_path, backends="gpt")
    assert _cfg(tmp_path).backends == ("fake",)  # default: the run's backend only, the space of every earlier study
