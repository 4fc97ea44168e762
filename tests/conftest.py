"""Shared fixtures: a temporary MLflow store per test, a cached embedded model, small tables, a throwaway PostgreSQL."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# Under pytest-xdist (`-n N`, as scripts/run_tests.sh runs the suite) each worker gets its share of the cores:
# N processes of torch with every core each oversubscribe them (the model's tokens/s drops several-fold). Set
# before torch is imported; subprocesses (CLI, `mlflow run`, served models) inherit it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _share = max(1, (os.cpu_count() or 1) // max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, str(_share))


@pytest.fixture()
def mlflow_store(tmp_path, monkeypatch):
    """A fresh sqlite tracking store and artifact root under tmp_path."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "synllm-test")
    monkeypatch.setenv("SYNLLM_GUARD_KEY_DIR", str(tmp_path / "guard-keys"))  # registered models' guard keys
    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):  # never inherit ids from another store
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # default artifact root ./mlruns lands in tmp_path
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):  # mlflow.set_experiment exports the id: not for the next store
        os.environ.pop(var, None)


@pytest.fixture(scope="session")
def cirrhosis():
    from synllm_mlops.spec import load_data, load_spec, split_data

    spec = load_spec("cirrhosis")
    real = load_data(spec)
    return spec, real, split_data(real, spec, seed=0)


@pytest.fixture(scope="session")
def render():
    """``render(strategy, spec, train, options=None, seed=0)``: release what the strategy needs, then render it."""
    from synllm_mlops.prompts import PromptOptions, get_strategy
    from synllm_mlops.release import make_release

    def _render(name, spec, train, options=None, seed=0):
        options, strategy = options or PromptOptions(), get_strategy(name)
        # as RunConfig does: seed_ex with dp_epsilon left at its default is the non-private choice
        dp = None if strategy.uses_real_rows and "dp_epsilon" not in options.model_fields_set else options.dp_epsilon
        release = make_release(spec, train, statistics=options.statistics if strategy.uses_statistics else None,
                               max_correlations=options.max_correlations, targets=False, dp_epsilon=dp,
                               release_level=options.release_level)
        return strategy.render(spec, release, options, seed=seed, train=train)

    return _render


@pytest.fixture(scope="session")
def hf_backend():
    """The real embedded model, loaded once for the whole session."""
    from synllm_mlops.generation import make_backend

    return make_backend("hf", "smollm2-135m").load()


@pytest.fixture()
def small_csv(tmp_path) -> Path:
    """A small hand-written table and its CSV path (a user's own data)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({
        "patient_id": np.arange(n),
        "age": rng.integers(20, 80, n),
        "sex": rng.choice(["F", "M"], n),
        "sbp": np.round(rng.normal(130, 15, n), 1),
        "smoker": rng.choice(["no", "yes"], n),
        "outcome": rng.choice(["0", "1"], n),
    })
    p = tmp_path / "mytable.csv"
    df.to_csv(p, index=False)
    return p


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


def _serve(tmp_path_factory, backend: str, model: str, **kw):
    from _served_api import register_champion, start_server, stop_server

    folder = tmp_path_factory.mktemp(f"served-{backend}")
    server = start_server(register_champion(folder, backend=backend, model=model, **kw), folder / "server.log")
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def served_fake(tmp_path_factory):
    """A registered champion on the deterministic fake backend, served by `mlflow models serve` (one per session)."""
    yield from _serve(tmp_path_factory, "fake", "fake")


@pytest.fixture(scope="session")
def served_hf(tmp_path_factory):
    """A champion on the real embedded model for a small table (short rows: fast on a CPU), served (one per session)."""
    yield from _serve(tmp_path_factory, "hf", "smollm2-135m", small=True, max_new_tokens=40)
