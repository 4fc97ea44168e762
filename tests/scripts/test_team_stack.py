"""scripts/team_stack.sh for real: password auth on PostgreSQL and MLflow, no secret in logs or params,
and `stop` ends every worker's process group and leaves no run RUNNING (fake backend, tiny trials)."""

from __future__ import annotations

import base64
import glob
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _creds(path: Path) -> tuple[str, str]:
    kv = dict(line.split("=", 1) for line in path.read_text().splitlines())
    return kv["MLFLOW_TRACKING_USERNAME"], kv["MLFLOW_TRACKING_PASSWORD"]


def _http(url: str, auth: tuple[str, str] | None = None) -> int:
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        return urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_team_stack_requires_passwords_and_stop_leaves_nothing_running():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install -y postgresql)")
    root = Path(tempfile.mkdtemp(prefix="synllm-stack-"))
    root.chmod(0o711)  # the postgres user (when we are root) must reach its data directory below
    stack, pg_port, ml_port = root / "stack", _free_port(), _free_port()
    env = {**os.environ, "STACK_DIR": str(stack), "PG_PORT": str(pg_port), "MLFLOW_PORT": str(ml_port),
           "SYNLLM_BACKEND": "fake", "N_ROWS": "6", "STOP_GRACE_S": "5", "STUDY": "stack-test",
           "EXTRA_P": "-P model=fake -P strategies=featdesc,statguide,clin_rule -P batch_size=4",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    script = lambda *a, timeout=300: subprocess.run(["bash", str(ROOT / "scripts/team_stack.sh"), *a], env=env,  # noqa: E731
                                                     capture_output=True, text=True, timeout=timeout)
    base, psql = f"http://127.0.0.1:{ml_port}", Path(bins[-1]) / "psql"
    storage = f"postgresql+psycopg2://synllm@127.0.0.1:{pg_port}/optuna"
    try:
        up = script("up", "2", "20")
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        secrets = stack / "secrets"
        worker, admin = _creds(secrets / "mlflow-worker.env"), _creds(secrets / "mlflow-admin.env")
        pg_passwords = [line.rsplit(":", 1)[1] for line in (stack / ".pgpass").read_text().splitlines()]
        for path, mode in [(stack / ".pgpass", 0o600), (secrets, 0o700), (stack / "pgrun", 0o700),
                           *[(p, 0o600) for p in secrets.iterdir()]]:
            assert stat.S_IMODE(path.stat().st_mode) == mode, path
        groups = [int(p.read_text()) for p in (stack / "run").glob("*.pgid")]
        assert len(groups) == 3 and all(_alive(g) for g in groups)  # mlflow server + 2 workers

        # PostgreSQL wants a password (none in the environment here), on TCP and on the socket
        no_pw = {**os.environ, "PGPASSFILE": "/dev/null", "PGPASSWORD": ""}
        for host in ("127.0.0.1", str(stack / "pgrun")):
            r = subprocess.run([str(psql), "-X", "-w", "-h", host, "-p", str(pg_port), "-U", "postgres", "-d", "postgres",
                                "-c", "select 1"], env=no_pw, capture_output=True, text=True)
            assert r.returncode != 0 and "password" in r.stderr, (host, r.stderr)
        # MLflow wants credentials
        api = f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=synllm"
        assert _http(api) == 401 and _http(api, ("synllm-worker", "wrong")) == 401
        assert _http(api, worker) == 200 and _http(api, admin) == 200
        assert _http(f"{base}/health") == 200

        # wait until both workers are inside a trial, then stop
        import optuna
        from optuna.trial import TrialState

        os.environ["PGPASSFILE"] = str(stack / ".pgpass")
        try:
            deadline = time.time() + 240
            while time.time() < deadline:
                study = optuna.load_study(study_name="stack-test", storage=storage)
                if len(study.get_trials(states=(TrialState.RUNNING,))) >= 2:
                    break
                time.sleep(1)
            else:
                pytest.fail("the workers never started a trial:\n" + "".join(
                    p.read_text()[-1500:] for p in (stack / "logs").glob("worker-*.log")))
            down = script("stop")
            assert down.returncode == 0, down.stderr[-3000:]
            assert "marked KILLED" in down.stdout
            assert not any(_alive(g) for g in groups)  # every worker's whole group, and the server, are gone
            assert not list((stack / "run").glob("*.pgid"))
            assert script("up", "0").returncode == 0  # server + database only: look at what stop left
            study = optuna.load_study(study_name="stack-test", storage=storage)
            assert not study.get_trials(states=(TrialState.RUNNING,))
        finally:
            os.environ.pop("PGPASSFILE")
        import mlflow

        client = mlflow.MlflowClient(base)
        os.environ.update(MLFLOW_TRACKING_USERNAME=worker[0], MLFLOW_TRACKING_PASSWORD=worker[1])
        try:
            exp = client.get_experiment_by_name("synllm")
            runs = client.search_runs([exp.experiment_id])
        finally:
            for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
                os.environ.pop(k)
        assert runs and all(r.info.status in ("KILLED", "FINISHED", "FAILED") for r in runs), \
            [(r.info.run_name, r.info.status) for r in runs]
        assert sum(r.data.tags.get("synllm.stage") == "tune" and r.info.status == "KILLED" for r in runs) == 2
        # no secret in any log, output or run param
        secrets_all = [worker[1], admin[1], *pg_passwords]
        texts = [up.stdout, up.stderr, down.stdout, down.stderr, *[str(r.data.params) for r in runs],
                 *[p.read_text(errors="replace") for p in [*(stack / "logs").glob("*.log"), stack / "pgrun" / "pg.log"]]]
        assert not [s for s in secrets_all for t in texts if s in t]
    finally:
        script("stop", timeout=120)
        shutil.rmtree(root, ignore_errors=True)
