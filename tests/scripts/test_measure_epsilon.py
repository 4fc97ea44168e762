"""scripts/measure_epsilon.py: the rule that picks DEFAULT_EPSILON, on known curves, and a tiny real run."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("measure_epsilon", ROOT / "scripts" / "measure_epsilon.py")
measure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(measure)


def _runs(quality: dict[str, list[float]], harmonic: dict[str, list[float]]) -> dict:
    return {"d": {e: [{"score/quality": q, "score/harmonic": h} for q, h in zip(quality[e], harmonic[e])]
                  for e in quality}}


def test_the_smallest_epsilon_inside_the_non_private_interval_wins():
    q = {"1": [0.5, 0.52, 0.51], "2": [0.89, 0.9, 0.91], "4": [0.9, 0.9, 0.9], "none": [0.9, 0.91, 0.89]}
    assert measure.choose(_runs(q, q))[0] == "2"


def test_else_the_smallest_epsilon_without_a_detectable_harmonic_loss():
    q = {"1": [0.5, 0.52, 0.51], "2": [0.6, 0.61, 0.59], "4": [0.7, 0.71, 0.69], "none": [0.9, 0.91, 0.89]}
    h = {"1": [0.5, 0.52, 0.51], "2": [0.74, 0.76, 0.75], "4": [0.76, 0.77, 0.75], "none": [0.9, 0.91, 0.89]}
    e, why = measure.choose(_runs(q, h))
    assert e == "2" and "minimum detectable" in why
    h["2"] = [0.6, 0.62, 0.61]  # now a detectable loss against epsilon 4
    assert measure.choose(_runs(q, h))[0] == "4"


def test_the_script_runs_on_the_stats_control(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)})
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "measure_epsilon.py"), "--seeds", "2", "--datasets",
                        "breast_cancer", "--epsilons", "4", "none", "--json", str(tmp_path / "runs.json")],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "| breast_cancer | 4 |" in r.stdout and "| breast_cancer | none |" in r.stdout
    assert "DEFAULT_EPSILON by the rule: 4" in r.stdout  # the only private epsilon asked
    again = subprocess.run([sys.executable, str(ROOT / "scripts" / "measure_epsilon.py"), "--load",
                            str(tmp_path / "runs.json")], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.split("\n\n")[1] == r.stdout.split("\n\n")[1]  # the same table
