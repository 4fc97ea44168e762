"""scripts/bench_gpu.py on CPU: the tiny random-weight shape, end to end, and the JSON it leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_gpu.py"), "--shapes", "tiny", "--batches", "2",
                           "--rows", "4", "--bandwidth-gbs", "100", "--workdir", str(tmp_path / "shapes"),
                           "--json", str(out), *extra], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| tiny | cirrhosis |" in proc.stdout or "skipped" in proc.stdout
    return json.loads(out.read_text())


def test_tiny_shape_on_cpu_reports_every_field(tmp_path):
    report = run_bench(tmp_path)
    meta = report["meta"]
    assert meta["device"] == "cpu" and meta["bandwidth_bytes_per_s"] == 100e9 and report["complete"]
    assert report["cold"]["pipeline"]["validity"] == 1.0 and report["cold"]["process_seconds"] > 0
    assert [(r["dataset"], r["batch"]) for r in report["results"]] == [("cirrhosis", 2), ("breast_cancer", 2)]
    for r in report["results"]:
        off = r["pipeline"]["off"]
        assert off["validity"] == 1.0 and off["rows_valid"] >= 4 and off["tokens_per_s"] > 0 and not off["compiled"]
        assert "on" not in r["pipeline"]  # compile is CUDA only: not measured on CPU
        assert r["forward"]["off"]["tokens_per_s"] > 0 and r["forward"]["off"]["steps"] == 32
        # tiny: 49,152 x 64 tied embedding + 2 layers of 36,992 + the final norm, fp32
        assert r["weights_bytes"] == 4 * (49152 * 64 + 2 * 36992 + 64)
        assert r["bound_tokens_per_s"] == 2 * 100e9 / r["weights_bytes"]
        assert r["peak_gpu_bytes"] is None and r["prompt_tokens"] > 1000 and r["max_new_tokens"] > 0


def test_time_budget_skips_cells_and_says_so(tmp_path):
    report = run_bench(tmp_path, "--max-seconds", "0", "--cold", "off")
    assert report["results"] == [] and report["cold"] is None and not report["complete"]
    assert report["skipped"] == ["tiny/cirrhosis/2", "tiny/breast_cancer/2"]


def test_auto_batch_is_resolved_then_measured(tmp_path):
    report = run_bench(tmp_path, "--batches", "auto", "--datasets", "cirrhosis", "--cold", "off")
    (r,) = report["results"]
    assert r["batch_asked"] == "auto" and r["batch"] == 16  # CPU: the fixed choice
    assert r["pipeline"]["off"]["rows_valid"] >= 4 and r["pipeline"]["off"]["validity"] == 1.0
