"""Storage-level fault handling without a PostgreSQL server: orphans of a stopped study, worker ids."""

from __future__ import annotations

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from synllm_mlops.errors import ConfigError
from synllm_mlops.tuning import end_orphans, heartbeat, worker_id


def test_end_orphans_fails_running_trials_and_ends_their_runs(mlflow_store, tmp_path):
    storage = str(tmp_path / "optuna.sqlite3")
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 'optuna.sqlite3'}")
    done = study.ask()
    study.tell(done, 1.0)
    study.ask(), study.ask()  # two trials left RUNNING by a worker that was killed
    client = mlflow.MlflowClient()
    run = client.create_run(client.create_experiment("orphans"), tags={"optuna.study_name": "s"})  # RUNNING: never ended
    failed, ended = end_orphans(storage, "s")
    assert failed == [1, 2] and ended == [run.info.run_id]
    states = [t.state for t in optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'optuna.sqlite3'}").trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL]
    assert mlflow.get_run(run.info.run_id).info.status == "KILLED"
    with pytest.raises(KeyError):  # optuna: no study of that name
        end_orphans(storage, "nope")


def test_a_worker_id_is_made_when_asked_not_at_import():
    a, b = worker_id(), worker_id()
    assert a != b and a.rsplit(":", 1)[0] == b.rsplit(":", 1)[0]  # same host and pid, a fresh random part


def test_heartbeat_reads_its_setting_when_called(monkeypatch):
    monkeypatch.setenv("SYNLLM_HEARTBEAT_S", "7")
    assert heartbeat() == (7, 21)
    monkeypatch.setenv("SYNLLM_HEARTBEAT_S", "0")
    with pytest.raises(ConfigError, match=r"SYNLLM_HEARTBEAT_S must be a whole number of seconds >= 1, got '0'; fix: "):
        heartbeat()
