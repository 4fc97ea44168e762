"""Many workers, one study: two processes share a real PostgreSQL (Optuna storage + MLflow backend store)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL on loopback (run as the ``postgres`` user when we are root): yields its base URL."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin; apt-get install -y postgresql)")
    bindir = Path(bins[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="synllm-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port, data = _free_port(), root / "data"
    run = lambda *cmd: subprocess.run([*as_user, *map(str, cmd)], check=True, capture_output=True, text=True)  # noqa: E731
    run(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust")
    run(bindir / "pg_ctl", "-D", data, "-l", root / "log", "-w", "start",
        "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1")
    try:
        for db in ("optuna", "mlflow"):
            run(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", db)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"  # SQLAlchemy 2.1 defaults to psycopg 3
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


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
