"""scripts/rescore_champion.py: the table on known numbers, and end to end on a tiny fake-backend study."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))  # the script imports findings_table as a sibling
_spec = importlib.util.spec_from_file_location("rescore_champion", ROOT / "scripts" / "rescore_champion.py")
rescore = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rescore)


def test_the_table_pairs_the_champion_with_each_arm_by_seed():
    champion = [{"score/harmonic": h} for h in (0.80, 0.83, 0.86)]
    default = [{"score/harmonic": h} for h in (0.70, 0.73, 0.76)]  # 0.10 below on every seed: no spread at all
    control = [{"score/harmonic": h} for h in (0.81, 0.82, 0.87)]  # champion − control: -0.01, +0.01, -0.01
    arms = {"champion (trial 3)": champion, "default run": default, "control (x)": control}
    lines = rescore.table(arms).splitlines()
    assert lines[0] == "| arm (n = 3 fresh seeds) | harmonic |"
    assert lines[2] == "| champion (trial 3) | 0.830 ± 0.075 |"
    assert lines[4] == "| control (x) | 0.833 ± 0.080 |"  # sd 0.0321, t(2) = 4.303
    assert lines[5] == "| lift: champion − default run, paired by seed | 0.100 ± 0.000 |"
    assert lines[6] == "| smallest lift over the default run this could detect | 0.000 |"
    assert lines[7] == "| lift: champion − control, paired by seed | -0.003 ± 0.029 |"  # sd 0.0115
    assert lines[8] == "| smallest lift over the control this could detect | 0.036 |"  # (4.303 + 1.061) · sd / √3
    assert len(lines) == 9


def test_the_champion_is_rescored_on_fresh_seeds_next_to_the_default_and_the_control(mlflow_store, tmp_path):
    from synllm_mlops.tuning import TuneConfig, tune

    storage = str(tmp_path / "optuna.sqlite3")
    res = tune(TuneConfig.build(backend="fake", model="fake", n_rows=6, batch_size=4, storage=storage, study_name="t",
                                n_trials=3, strategies="featdesc,clin_rule", calibrations="select+steer",
                                release_levels="target,pairs", control_tables=0, register_champion=False),
               progress=False)
    best = max(res.study.best_trials, key=lambda t: t.user_attrs["score/harmonic"])
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "rescore_champion.py"), "--study-name", "t",
                        "--storage", storage, "--seeds", "3"], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"champion trial {best.number} (" in r.stdout and "seeds 1..3, 3 per arm" in r.stdout  # the study ran seed 0
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("| ")]
    assert rows[0].startswith("| arm (n = 3 fresh seeds) | harmonic | quality | privacy |")
    assert [ln.split(" | ")[0] for ln in rows[1:]] == [
        f"| champion (trial {best.number})", "| default run", "| control (`stats`, the default's release)",
        "| lift: champion − default run, paired by seed", "| smallest lift over the default run this could detect",
        "| lift: champion − control, paired by seed", "| smallest lift over the control this could detect"]
    parents = mlflow.search_runs(search_all_experiments=True, filter_string="tags.`synllm.repeats` = '3'",
                                 output_format="list")
    assert sorted(p.data.params["backend"] for p in parents) == ["fake", "fake", "stats"]
    for p in parents:
        assert p.data.params["seed"] == "1" and p.data.params["n_rows"] == "6"
        assert p.data.metrics["repeats/seeds"] == pytest.approx(3)
