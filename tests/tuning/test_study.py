"""Studies end to end on the fake backend: tracking links, Pareto tags, constraints, failures, resume, Ctrl-C, champion."""

from __future__ import annotations

from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from synllm_mlops.errors import ConfigError
from synllm_mlops.spec import conform
from synllm_mlops.tuning import TuneConfig, tune


def _cfg(tmp_path, **kw) -> TuneConfig:
    base = {"backend": "fake", "model": "fake", "n_rows": 6, "batch_size": 4, "storage": str(tmp_path / "optuna.sqlite3"),
            "study_name": "t", "n_startup_trials": 2, "min_rule_adherence": 0.8}
    return TuneConfig.build(**{**base, **kw})


def _runs(stage: str):
    return mlflow.search_runs(search_all_experiments=True, filter_string=f"tags.`synllm.stage` = '{stage}'",
                              output_format="list")


def test_study_links_trials_to_runs_tags_the_front_and_registers_a_servable_champion(mlflow_store, tmp_path, fast_eval,
                                                                                      fake_factory, cirrhosis,
                                                                                      monkeypatch):
    res = tune(_cfg(tmp_path, n_trials=5, strategies="featdesc,statguide,clin_rule", calibrations="select+steer"),
               backend_factory=fake_factory(),
               progress=False)
    assert len(fake_factory.built) == 1  # the backend is built once and serves every trial
    study = res.study
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 5
    trial_runs = {r.info.run_id: r for r in _runs("trial")}
    assert len(trial_runs) == 5
    parent = mlflow.get_run(res.run_id)
    assert parent.data.tags["synllm.stage"] == "tune" and parent.data.params["sampler"] == "tpe"
    assert parent.data.params["n_trials"] == "5" and parent.data.params["study_name"] == "t"
    pareto = {t.number for t in study.best_trials}
    assert pareto
    for t in study.trials:
        run = trial_runs[t.user_attrs["mlflow_run_id"]]
        assert run.data.tags["mlflow.parentRunId"] == res.run_id
        assert run.data.tags["optuna.trial_number"] == str(t.number)
        assert run.data.params["strategy"] == t.params["strategy"] == run.data.params["optuna.strategy"]
        assert run.data.tags["synllm.pareto"] == str(t.number in pareto).lower()
        # a DP trial (the default) is scored in its evaluation child run, outside the guarantee
        scored = mlflow.get_run(run.data.tags.get("synllm.evaluation_run_id", run.info.run_id))
        assert t.values[1] == pytest.approx(1 - scored.data.metrics["score/privacy"])
    client = mlflow.MlflowClient()
    arts = {a.path for a in client.list_artifacts(res.run_id, "plots")} | {a.path for a in client.list_artifacts(res.run_id, "tuning")}
    assert {"plots/pareto_front.html", "plots/pareto_front.png", "tuning/trials.csv", "tuning/param_importances.json"} <= arts
    table = res.table
    assert list(table["number"]) == [0, 1, 2, 3, 4] and set(table["mlflow_run_id"]) == set(trial_runs)
    # champion: best harmonic among the feasible Pareto trials, registered with alias champion
    best = max(study.best_trials, key=lambda t: t.user_attrs["score/harmonic"])
    assert res.champion_trial == best.number and res.model_uri == "models:/synllm-cirrhosis@champion"
    mv = client.get_model_version_by_alias("synllm-cirrhosis", "champion")
    assert mv.tags["synllm.source_run_id"] == best.user_attrs["mlflow_run_id"]
    assert mv.tags["synllm.prompt_uri"].startswith("prompts:/synllm-")
    model = mlflow.pyfunc.load_model(res.model_uri)
    # the champion ships the release its trial made (binned statistics), so serving calibrates like the trial
    shipped = Path(mlflow.artifacts.download_artifacts(res.model_uri, dst_path=str(tmp_path / "champion")))
    assert best.user_attrs["config"]["calibration"] == "select+steer"  # the study fixed it (calibrations=...)
    assert model.unwrap_python_model().targets is not None
    assert (shipped / "artifacts" / "release.json").read_text() == mlflow.artifacts.load_text(
        f"runs:/{best.user_attrs['mlflow_run_id']}/release/release.json")
    spec = cirrhosis[0]
    for request in ({"n_rows": 7, "seed": 1}, pd.DataFrame([{"n_rows": 3, "seed": 2}])):
        out = model.predict(request)
        assert len(out) == request["n_rows"] if isinstance(request, dict) else 3
        conform(out, spec)  # raises when a row breaks the spec
    with pytest.raises(Exception, match="n_rows"):
        model.predict({"rows": 3})
    assert "synllm_guard" not in out
    # the guard key is not in the model: without it the model refuses to serve, unless told to serve unguarded
    key_file = next((tmp_path / "guard-keys").glob("*.key"))
    assert mv.tags["synllm.guard_key_id"] == key_file.stem
    key_file.unlink()
    with pytest.raises(Exception, match="copy guard needs its key"):
        mlflow.pyfunc.load_model(res.model_uri)
    monkeypatch.setenv("SYNLLM_ALLOW_UNGUARDED", "true")
    out = mlflow.pyfunc.load_model(res.model_uri).predict({"n_rows": 2, "seed": 0})
    assert set(out["synllm_guard"]) == {"off: rows equal to real patients were not rejected"}


def test_infeasible_trials_are_never_champions(mlflow_store, tmp_path, fast_eval, fake_factory):
    fast_eval.adherence = 0.5  # below min_rule_adherence=0.8: every trial violates the constraint
    res = tune(_cfg(tmp_path, n_trials=3, strategies="clin_rule"), backend_factory=fake_factory(), progress=False)
    for t in res.study.trials:
        assert t.constraints["rule_adherence"] == pytest.approx(0.3) and t.constraints["validity"] <= 0
    assert res.study.best_trials == [] and res.model_uri is None
    assert mlflow.get_run(res.run_id).data.tags["synllm.champion"].startswith("none")
    assert not res.table["feasible"].any()


def test_failed_trials_are_recorded_and_the_study_goes_on(mlflow_store, tmp_path, fast_eval, fake_factory):
    res = tune(_cfg(tmp_path, n_trials=6, strategies="featdesc,clin_rule", register_champion=False),
               backend_factory=fake_factory(fail_on={"featdesc"}), progress=False)
    states = {t.number: (t.state, t.params["strategy"]) for t in res.study.trials}
    assert len(states) == 6 and {s for s, _ in states.values()} == {TrialState.FAIL, TrialState.COMPLETE}
    for t in res.study.trials:
        assert (t.state == TrialState.FAIL) == (t.params["strategy"] == "featdesc")
        run = mlflow.get_run(t.user_attrs["mlflow_run_id"])
        assert run.info.status == ("FAILED" if t.state == TrialState.FAIL else "FINISHED")
        if t.state == TrialState.FAIL:
            assert "GenerationError" in t.user_attrs["error"]
    assert (res.table["state"] == "FAIL").sum() == sum(s == TrialState.FAIL for s, _ in states.values())


def test_resume_continues_trial_numbering(mlflow_store, tmp_path, fast_eval, fake_factory):
    cfg = _cfg(tmp_path, n_trials=2, register_champion=False, strategies="statguide")
    tune(cfg, backend_factory=fake_factory(), progress=False)
    res = tune(cfg, backend_factory=fake_factory(), progress=False)
    assert [t.number for t in res.study.trials] == [0, 1, 2, 3]
    assert len(_runs("tune")) == 2 and len(_runs("trial")) == 4
    loaded = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'optuna.sqlite3'}")
    assert len(loaded.trials) == 4


def test_ctrl_c_keeps_finished_trials_and_kills_the_parent(mlflow_store, tmp_path, fast_eval, fake_factory):
    with pytest.raises(KeyboardInterrupt):
        # each trial samples 2 batches (6 rows, 4 per completion): the 5th batch is in trial 2
        tune(_cfg(tmp_path, n_trials=5, strategies="featdesc"), backend_factory=fake_factory(interrupt_at=5), progress=False)
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'optuna.sqlite3'}")
    assert [t.state for t in study.trials][:2] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert study.trials[-1].state == TrialState.FAIL
    assert mlflow.active_run() is None
    assert _runs("tune")[0].info.status == "KILLED"


def test_seed_ex_champion_needs_explicit_consent(mlflow_store, tmp_path, fast_eval, fake_factory):
    cfg = _cfg(tmp_path, n_trials=1, strategies="seed_ex", register_champion=False)
    tune(cfg, backend_factory=fake_factory(), progress=False)
    with pytest.raises(ConfigError, match="real patient rows.*allow_real_rows=true"):
        tune(cfg.model_copy(update={"n_trials": 0, "register_champion": True, "champion_trial": 0}),
             backend_factory=fake_factory(), progress=False)
    res = tune(cfg.model_copy(update={"n_trials": 0, "register_champion": True, "champion_trial": 0, "allow_real_rows": True}),
               backend_factory=fake_factory(), progress=False)
    mv = mlflow.MlflowClient().get_model_version_by_alias("synllm-cirrhosis", "champion")
    assert mv.tags["synllm.uses_real_rows"] == "true" and res.champion_trial == 0
    # automatic choice skips seed_ex without consent: nothing to register here
    auto = tune(cfg.model_copy(update={"n_trials": 0, "register_champion": True}), backend_factory=fake_factory(), progress=False)
    assert auto.model_uri is None


def test_cli_accepts_mlflow_float_rendering(mlflow_store, tmp_path, fast_eval):
    from click.testing import CliRunner

    from synllm_mlops.cli import cli

    res = CliRunner().invoke(cli, ["tune", "--backend", "fake", "--model", "fake", "--n-trials", "2.0", "--n-rows", "4.0",
                                   "--storage", str(tmp_path / "c.journal"), "--sampler", "nsga2", "--seed", "3.0",
                                   "--strategies", "clin_rule", "--register", "false"])
    assert res.exit_code == 0, res.output
    assert "2 trials (2 complete, 0 failed)" in res.output
    parent = _runs("tune")[0]
    assert parent.data.params["sampler"] == "nsga2" and parent.data.params["sampler_seed"] == "3"
    bad = CliRunner().invoke(cli, ["tune", "--backend", "fake", "--n-trials", "2.5"])
    assert bad.exit_code != 0 and "not an integer" in bad.output


def test_a_bug_in_a_trial_is_recorded_with_its_traceback_and_the_study_goes_on(mlflow_store, tmp_path, fast_eval, cirrhosis):
    from tuning_bug import BuggyBackend  # noqa: F401 - defined below, kept local to this test

    spec = cirrhosis[0]
    res = tune(_cfg(tmp_path, n_trials=3, strategies="featdesc,clin_rule", register_champion=False),
               backend_factory=lambda model: BuggyBackend(model, spec=spec), progress=False)
    failed = [t for t in res.study.trials if t.state == TrialState.FAIL]
    assert len(res.study.trials) == 3 and failed  # a RuntimeError does not stop the study
    for t in failed:
        assert t.user_attrs["error"].startswith("RuntimeError: a bug on purpose")
        assert "Traceback" in t.user_attrs["traceback"] and "_generate_batch" in t.user_attrs["traceback"]


def test_the_champion_serves_the_prompt_and_release_its_trial_was_scored_with(mlflow_store, tmp_path, fast_eval,
                                                                             fake_factory):
    """Issue 19: registration loads the trial's logged release; nothing is released (or noised) again."""
    import json

    res = tune(_cfg(tmp_path, n_trials=3, strategies="statguide,clin_rule", calibrations="select+steer", dp_epsilon=1.0),
               backend_factory=fake_factory(), progress=False)
    best = res.study.trials[res.champion_trial]
    trial_run = best.user_attrs["mlflow_run_id"]
    logged = mlflow.artifacts.load_text(f"runs:/{trial_run}/release/release.json")
    shipped = Path(mlflow.artifacts.download_artifacts(res.model_uri, dst_path=str(tmp_path / "champion"))) / "artifacts"
    assert (shipped / "release.json").read_text() == logged  # the very release, byte for byte
    release = json.loads(logged)
    assert release["ledger"]["spent"] == pytest.approx(1.0) and len(release["ledger"]["releases"]) > 2
    # the served prompt is the one the trial was scored with (a DP prompt: a fresh release would differ)
    served = json.loads((shipped / "prompt.json").read_text())
    trial_prompt = mlflow.artifacts.load_text(f"runs:/{trial_run}/prompt/prompt.txt")
    assert trial_prompt == f"[system]\n{served['system']}\n\n[user]\n{served['user']}\n"
    # registration spent nothing: no run of the study logged another ledger entry
    assert mlflow.artifacts.load_text(f"runs:/{trial_run}/release/release.json") == logged
    model = mlflow.pyfunc.load_model(res.model_uri).unwrap_python_model()
    assert model.targets is not None and model.targets.source == "dp"


def test_a_multi_model_study_closes_every_model_it_opened(mlflow_store, tmp_path, fast_eval, fake_factory):
    res = tune(_cfg(tmp_path, n_trials=8, models="fake-a,fake-b,fake-c", strategies="featdesc"),
               backend_factory=fake_factory(), progress=False)
    used = {t.user_attrs["config"]["model"] for t in res.study.trials}
    opened = [b.model for b in fake_factory.built]
    assert len(used) >= 2 and sorted(opened) == sorted(used)  # each model opened once, however many trials it served
    assert [b.closed for b in fake_factory.built] == [1] * len(opened)  # and closed once: the study gave the memory back
    assert res.model_uri  # the champion was registered first (it needs its model loaded)


def test_an_interrupted_study_still_closes_its_models(mlflow_store, tmp_path, fast_eval, fake_factory):
    with pytest.raises(KeyboardInterrupt):
        tune(_cfg(tmp_path, n_trials=5, strategies="featdesc"), backend_factory=fake_factory(interrupt_at=3), progress=False)
    assert len(fake_factory.built) == 1 and fake_factory.built[0].closed == 1


def test_a_trial_on_several_seeds_scores_their_mean_and_links_every_run(mlflow_store, tmp_path, fast_eval,
                                                                         fake_factory):
    from synllm_mlops.tracking import cell_metrics

    res = tune(_cfg(tmp_path, n_trials=2, strategies="clin_rule", register_champion=False, trial_seeds=2, seed=3),
               backend_factory=fake_factory(), progress=False)
    runs = {r.info.run_id: r for r in _runs("trial")}
    assert len(runs) == 4  # 2 trials x 2 seeds, one nested run each
    for t in res.study.trials:
        assert t.state == TrialState.COMPLETE and t.user_attrs["seeds"] == [3, 4]
        ids = t.user_attrs["mlflow_run_ids"]
        assert ids[0] == t.user_attrs["mlflow_run_id"]  # the first seed's run is the trial's run
        seeded = [runs[i] for i in ids]
        assert [r.data.params["seed"] for r in seeded] == ["3", "4"]
        assert [r.info.run_name for r in seeded] == [f"trial-{t.number}-clin_rule-s3", f"trial-{t.number}-clin_rule-s4"]
        assert all(r.data.tags["optuna.trial_number"] == str(t.number) for r in seeded)
        scores = cell_metrics(ids)  # a DP run's scores sit in its evaluation child
        q = [scores[i]["score/quality"] for i in ids]
        p = [scores[i]["score/privacy"] for i in ids]
        assert q[0] != q[1]  # two tables, two scores
        assert t.values[0] == pytest.approx(sum(q) / 2) and t.values[1] == pytest.approx(1 - sum(p) / 2)
        assert t.user_attrs["score/quality"] == pytest.approx(sum(q) / 2)
    with pytest.raises(ConfigError, match="trial_seeds"):
        _cfg(tmp_path, trial_seeds=0)
