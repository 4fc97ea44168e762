"""A registered generator served for real (`mlflow models serve --env-manager local` on loopback) and a small HTTP client.

Shared by the serving load test and the bad-request table: one server per test session and backend
(the ``served_fake`` / ``served_hf`` fixtures in ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_ROWS = 200  # SYNLLM_SERVE_MAX_ROWS for the test servers: small, so "oversized" is cheap to ask for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def small_table(folder: Path) -> tuple[str, str]:
    """A 5-column table of our own and its inferred spec: (spec path, CSV path). Short rows keep the real model fast."""
    import numpy as np
    import pandas as pd

    from synllm_mlops.spec import infer_spec

    rng = np.random.default_rng(0)
    n = 60
    pd.DataFrame({"patient_id": np.arange(n), "age": rng.integers(20, 80, n), "sex": rng.choice(["F", "M"], n),
                  "sbp": np.round(rng.normal(130, 15, n), 1), "smoker": rng.choice(["no", "yes"], n),
                  "outcome": rng.choice(["0", "1"], n)}).to_csv(folder / "small.csv", index=False)
    (folder / "small.yaml").write_text(infer_spec(folder / "small.csv", target="outcome").to_yaml())
    return str(folder / "small.yaml"), str(folder / "small.csv")


def register_champion(folder: Path, *, backend: str, model: str, name: str = "synllm-serve", small: bool = False,
                      max_new_tokens: int = 200, release_level: str | None = None) -> dict[str, str]:
    """Register a generator (steered, released targets shipped) in a fresh store under ``folder``.

    cirrhosis with the clin_rule prompt, or with ``small`` a 5-column table of our own, a featdesc prompt
    and one row per completion (what the real model can serve quickly on a CPU). Prepares in-process (no
    model loads: ``max_new_tokens`` is given), as tuning's registration does. Returns the environment
    a server process needs to load it (tracking URI, guard key folder) and the model URI.
    """
    import mlflow
    import pytest

    from synllm_mlops.config import RunConfig
    from synllm_mlops.parsing import table_keys
    from synllm_mlops.pipeline import prepare
    from synllm_mlops.serving import log_generator_model

    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}", "SYNLLM_GUARD_KEY_DIR": str(folder / "keys")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.chdir(folder)  # the default artifact root ./mlruns lands in folder
        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
        try:
            table = dict(zip(("dataset", "data"), small_table(folder))) if small else {"dataset": "cirrhosis"}
            cfg = RunConfig.build(backend=backend, model=model, n_rows=4, batch_size=4, calibration="steer", seed=0,
                                  release_level=release_level, **table, **({"strategy": "featdesc", "rows_per_completion": 1} if small else
                                              {"strategy": "clin_rule"}))
            prep = prepare(cfg)
            keys = table_keys(prep.split.train, prep.spec) | table_keys(prep.split.holdout, prep.spec)
            mlflow.set_experiment("serve")
            with mlflow.start_run() as run, pytest.warns(UserWarning, match="guard key"):
                log_generator_model(config=cfg, spec=prep.spec, prompt=prep.prompt, max_new_tokens=max_new_tokens,
                                    real_keys=keys, registered_model=name, source_run_id=run.info.run_id,
                                    prompt_uri="", release_json=prep.release.to_json())
        finally:
            mlflow.set_tracking_uri(None)
    return {**env, "uri": f"models:/{name}@champion", "dataset": cfg.dataset}


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path
    dataset: str  # the served model's spec: a built-in name or a spec YAML path

    def rss_mb(self) -> float:
        """Resident memory of the server's whole process tree (mlflow CLI + uvicorn worker), in MB."""
        import psutil

        p = psutil.Process(self.proc.pid)
        return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20

    def post(self, body: bytes | str | dict | list, *, content_type: str = "application/json",
             timeout: float = 300) -> tuple[int, dict | str]:
        """POST to /invocations; returns (HTTP status, parsed JSON or the raw text when it is not JSON)."""
        status, text = self.post_raw(body, content_type=content_type, timeout=timeout)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def post_raw(self, body: bytes | str | dict | list, *, content_type: str = "application/json",
                 timeout: float = 300) -> tuple[int, str]:
        """POST to /invocations; returns (HTTP status, the response body exactly as sent)."""
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        req = urllib.request.Request(f"{self.url}/invocations", data=data, method="POST",
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=5) as r:
                return r.status == 200 and self.proc.poll() is None
        except OSError:
            return False


def start_server(env: dict[str, str], log: Path, extra_env: dict[str, str] | None = None, wait_s: int = 240,
                 workers: int = 1) -> Server:
    """`mlflow models serve` of ``env["uri"]`` on a free loopback port, in its own process group (``workers``
    uvicorn processes, each loading the model)."""
    port = free_port()
    mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
    penv = {**os.environ, **{k: v for k, v in env.items() if k.isupper()}, "PYTHONPATH": str(ROOT),
            "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "900",
            "SYNLLM_SERVE_MAX_ROWS": str(MAX_ROWS), **(extra_env or {})}
    out = open(log, "w")
    proc = subprocess.Popen([mlflow_bin, "models", "serve", "-m", env["uri"], "--env-manager", "local", "-p",
                             str(port), "-h", "127.0.0.1", "--workers", str(workers)], env=penv, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", proc, log, env["dataset"])
    deadline = time.monotonic() + wait_s
    while not server.alive():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"the model server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return server


def stop_server(server: Server) -> None:
    """End the server's process group (this test's own processes: the mlflow CLI and its uvicorn worker).

    uvicorn's graceful shutdown waits for a call still generating: after 10 s it is killed.
    """
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 30)):
        try:
            os.killpg(server.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.proc.wait(timeout=wait)
            time.sleep(0.5)  # the worker exits after the CLI; give it a moment, then make sure
        except subprocess.TimeoutExpired:
            pass
