"""scripts/bench_tuning_ranks.py end to end on the fake backend: a tiny study, its trials re-scored on two seeds.

The script checks that re-scoring a trial's configuration on the trial's own seed reproduces the score the
study logged (so the second seed is the only thing that differs); a failure there fails this test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_rank_benchmark_rescores_a_study_on_two_seeds(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)})
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_tuning_ranks.py"), "--backend", "fake",
                        "--trials", "3", "--n-rows", "6,8", "--study-rows", "6", "--repeats", "1",
                        "--workdir", str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert "study seed 0: 3 complete trials" in r.stdout
    rows = [ln for ln in lines if ln.startswith("| 6 |") or ln.startswith("| 8 |")]
    assert len(rows) == 2, r.stdout  # one table row per trial size
    assert (tmp_path / "mlflow.db").is_file()  # the study's runs went to the work folder's store, nowhere else
