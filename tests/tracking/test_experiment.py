"""Every run lands in one named experiment, whatever started it; artifacts go to the store's own root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
from mlflow.entities import ViewType

from synllm_mlops.tracking import experiment_name, runs_view_url, tracked_run
from synllm_mlops.tracking._experiment import RELOCATED_TAG, local_artifact_root

ROOT = Path(__file__).resolve().parents[2]


def test_mlflow_setting_wins_then_ours_then_synllm(monkeypatch):
    for var in ("MLFLOW_EXPERIMENT_NAME", "SYNLLM_EXPERIMENT"):
        monkeypatch.delenv(var, raising=False)
    assert experiment_name() == "synllm"
    monkeypatch.setenv("SYNLLM_EXPERIMENT", "team-a")
    assert experiment_name() == "team-a" and experiment_name("grid") == "grid"
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "theirs")
    assert experiment_name("grid") == "theirs"


def test_the_runs_view_link_sorts_by_harmonic_highest_first():
    from urllib.parse import parse_qs, urlsplit

    url = runs_view_url("7", base="http://localhost:8080")
    page, _, query = urlsplit(url).fragment.partition("?")  # MLflow's UI routes after `#`
    assert url.startswith("http://localhost:8080/#") and page == "/experiments/7/runs"
    assert parse_qs(query) == {"workflowType": ["machine_learning"], "orderByKey": ["metrics.`score/harmonic`"],
                               "orderByAsc": ["false"]}
    assert "/" not in query and "`" not in query  # the key is escaped: the router splits on neither
    assert runs_view_url(None) == "http://127.0.0.1:5000/#/experiments"  # nothing logged yet: the list


def test_artifact_root_follows_a_sqlite_store_outside_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert local_artifact_root(f"sqlite:///{tmp_path / 'mlflow.db'}") is None  # MLflow's own default
    assert local_artifact_root(f"sqlite:///{tmp_path / 'store' / 'm.db'}") == (tmp_path / "store" / "mlruns").as_uri()
    assert local_artifact_root("http://127.0.0.1:5000") is None


def test_a_run_against_another_store_writes_nothing_into_the_working_directory(mlflow_store, tmp_path, monkeypatch):
    store = tmp_path / "elsewhere"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME")
    mlflow.set_tracking_uri(uri)
    with tracked_run("main") as run:
        mlflow.log_text("x", "a/b.txt")
    assert (store / "mlruns").is_dir() and not (tmp_path / "mlruns").exists()
    assert mlflow.get_run(run.info.run_id).info.artifact_uri.startswith((store / "mlruns").as_uri())


def test_an_explicit_experiment_under_mlflow_run_is_kept(mlflow_store, monkeypatch):
    exp = mlflow.create_experiment("mine")
    launch = mlflow.MlflowClient().create_run(exp).info.run_id  # what `mlflow run --experiment-name mine` does
    monkeypatch.setenv("MLFLOW_RUN_ID", launch)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", exp)
    with tracked_run("main") as run:
        assert run.info.run_id == launch
    assert mlflow.get_run(launch).info.experiment_id == exp


def test_plain_mlflow_run_lands_in_the_named_experiment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env.update({"MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(ROOT)})
    cmd = [sys.executable, "-m", "mlflow", "run", str(ROOT), "-e", "generate", "--env-manager", "local",
           "-P", "backend=fake", "-P", "n_rows=4", "-P", "batch_size=2", "-P", "calibration=none"]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    mlflow.set_tracking_uri(uri)
    try:
        runs = mlflow.search_runs(search_all_experiments=True, output_format="list", run_view_type=ViewType.ALL)
        real = [x for x in runs if RELOCATED_TAG not in x.data.tags]
        launch = [x for x in runs if RELOCATED_TAG in x.data.tags]
        assert len(real) == 1 and len(launch) == 1
        assert mlflow.get_experiment(real[0].info.experiment_id).name == "synllm"
        assert real[0].info.status == "FINISHED" and real[0].data.metrics["gen/rows_valid"] == 4
        assert real[0].data.tags["mlflow.project.entryPoint"] == "generate"  # where it came from, kept
        assert launch[0].data.tags[RELOCATED_TAG] == real[0].info.run_id and launch[0].info.status == "FINISHED"
        os.environ.pop("MLFLOW_RUN_ID", None)
        with tracked_run("main", experiment="synllm"):  # the next run clears the empty launch run away
            pass
        assert mlflow.get_run(launch[0].info.run_id).info.lifecycle_stage == "deleted"
    finally:
        mlflow.set_tracking_uri(None)
