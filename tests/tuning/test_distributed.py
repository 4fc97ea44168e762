"""Many workers, one study: two processes share a real PostgreSQL (Optuna storage + MLflow backend store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres


def _workers(base: str, tmp_path: Path, study: str, n: int, per_worker: int, **env_extra) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"{base}/mlflow", "MLFLOW_EXPERIMENT_NAME": "synllm-dist", **env_extra}
    cmd = [sys.executable, "-m", "synllm_mlops.cli", "tune", "--backend", "fake", "--model", "fake", "--n-trials",
           str(per_worker), "--storage", f"{base}/optuna", "--study-name", study, "--n-rows", "6", "--batch-size", "4",
           "--strategies", "featdesc,statguide,clin_rule", "--register", "false"]
    procs = [subprocess.Popen([*cmd, "--sampler-seed", str(i)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(n)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]


def test_two_workers_share_one_study_and_resume(postgres, tmp_path, monkeypatch):
    import mlflow
    import optuna

    monkeypatch.chdir(tmp_path)  # artifacts land in ./mlruns here
    mlflow.set_tracking_uri(f"{postgres}/mlflow")
    mlflow.set_experiment("synllm-dist")  # create the MLflow schema once, before two processes race to migrate it
    # create the study (and Optuna's schema) once, as the cluster recipe does, before workers race to
    optuna.create_study(storage=f"{postgres}/optuna", study_name="dist", directions=["maximize", "minimize"])
    try:
        _workers(postgres, tmp_path, "dist", n=2, per_worker=3)
        study = optuna.load_study(study_name="dist", storage=f"{postgres}/optuna")
        assert sorted(t.number for t in study.trials) == list(range(6))  # none lost, none duplicated
        assert {t.state.name for t in study.trials} <= {"COMPLETE", "FAIL"}
        trial_runs = mlflow.search_runs(experiment_names=["synllm-dist"], output_format="list",
                                        filter_string="tags.`synllm.stage` = 'trial'")
        assert sorted(int(r.data.tags["optuna.trial_number"]) for r in trial_runs) == list(range(6))
        assert {t.user_attrs["mlflow_run_id"] for t in study.trials} == {r.info.run_id for r in trial_runs}
        parents = mlflow.search_runs(experiment_names=["synllm-dist"], output_format="list",
                                     filter_string="tags.`synllm.stage` = 'tune'")
        assert len(parents) == 2 and all(p.data.params["storage"] == f"{postgres}/optuna" for p in parents)
        # resume: the same study name continues the numbering
        _workers(postgres, tmp_path, "dist", n=1, per_worker=2)
        study = optuna.load_study(study_name="dist", storage=f"{postgres}/optuna")
        assert sorted(t.number for t in study.trials) == list(range(8))
    finally:
        mlflow.set_tracking_uri(None)
