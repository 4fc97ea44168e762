"""scripts/bench_tuning.py end to end on the stats backend (no model): hypervolume over two study seeds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_hypervolume_benchmark_reports_each_sampler_over_study_seeds(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)})
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_tuning.py"), "--backend", "stats", "--tune-dp",
                        "--budget", "2", "--n-rows", "20", "--study-seeds", "0", "1", "--workdir", str(tmp_path)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = {ln.split(" | ")[0][2:]: ln.split(" | ") for ln in r.stdout.splitlines() if ln.startswith("| ")}
    assert set(rows) == {"arm", "tpe search", "random search", "default run, no search",
                         "TPE − random, paired by study seed"}
    for arm in ("tpe search", "random search", "default run, no search"):
        hv, per_seed = rows[arm][1], rows[arm][2].split()
        assert len(per_seed) == 2 and re.fullmatch(r"0\.\d{4} ± \d+\.\d{4}", hv), rows[arm]
        assert rows[arm][4] == "4"  # 2 runs per study seed, all complete
    tpe, rnd = (list(map(float, rows[a][2].split())) for a in ("tpe search", "random search"))
    diffs = [float(d) for d in rows["TPE − random, paired by study seed"][2].split()]
    assert len(diffs) == 2 and all(abs(d - (a - b)) < 2e-3 for d, a, b in zip(diffs, tpe, rnd))  # rounding only
    assert "backend stats" in r.stdout and (tmp_path / "optuna.sqlite3").is_file()
