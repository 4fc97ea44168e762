"""Shared fixtures: a temporary MLflow store per test, a cached embedded model, small tables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


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


@pytest.fixture(scope="session")
def cirrhosis():
    from synllm_mlops.spec import load_data, load_spec, split_data

    spec = load_spec("cirrhosis")
    real = load_data(spec)
    return spec, real, split_data(real, spec, seed=0)


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
