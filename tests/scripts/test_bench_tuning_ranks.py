"""scripts/bench_tuning_ranks.py end to end on the fake backend: a tiny study, its trials re-scored on two seeds.

The script checks that re-scoring a trial's configuration on the trial's own seeds reproduces the score the
study logged (so the second seed is the only thing that differs); a failure there fails this test. That check
needs exact releases (DP noise is never seeded), hence ``--dp-epsilon none``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_study_on_two_seeds_per_trial_is_rescored_on_two_seeds_per_trial(tmp_path):
    """Exact releases (dp_epsilon none): the re-scoring on the trials' own seeds must reproduce their logged means."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)})
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_tuning_ranks.py"), "--backend", "fake",
                        "--trials", "3", "--n-rows", "6", "--study-rows", "6", "--repeats", "1", "--trial-seeds", "2",
                        "--dp-epsilon", "none", "--workdir", str(tmp_path)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "study seed 0: 3 complete trials" in r.stdout and "2 seeds per trial" in r.stdout
    assert len([ln for ln in r.stdout.splitlines() if ln.startswith("| 6 |")]) == 1
