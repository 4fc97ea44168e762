"""The registered champion, served for real: `mlflow models serve` on the embedded model, rows validate."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from synllm_mlops.spec import conform, load_spec

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_champion_serves_valid_rows(mlflow_store, tmp_path, hf_backend):
    from synllm_mlops.tuning import TuneConfig, tune

    cfg = TuneConfig(n_trials=1, n_rows=4, strategies="clin_rule", calibrations="steer", storage=str(tmp_path / "o.sqlite3"),
                     min_validity=0.0, min_rule_adherence=0.0, study_name="serve")
    res = tune(cfg, backend_factory=lambda m: hf_backend, progress=False)
    assert res.model_uri == "models:/synllm-cirrhosis@champion", res.table.to_string()
    port = _free_port()
    mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
    server = subprocess.Popen([mlflow_bin, "models", "serve", "-m", res.model_uri, "--env-manager", "local", "-p",
                               str(port), "-h", "127.0.0.1"], env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_store, "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "900"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()[-3000:]
                time.sleep(1)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", method="POST",
                                     data=json.dumps({"inputs": {"n_rows": 5, "seed": 1}}).encode(),
                                     headers={"Content-Type": "application/json"})
        body = json.loads(urllib.request.urlopen(req, timeout=600).read())
        import pandas as pd

        rows = pd.DataFrame(body["predictions"])
        assert len(rows) == 5
        conform(rows.astype(object).where(rows.notna(), "NA").astype(str), load_spec("cirrhosis"))
    finally:
        server.terminate()
        server.wait(timeout=30)
