"""scripts/llm_value_verdict.py: the pre-registered criterion on known numbers, and the script end to end on a
small grid (fake model arms + stats arms) in a temporary MLflow store."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("llm_value_verdict", ROOT / "scripts" / "llm_value_verdict.py")
verdict = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = verdict  # dataclasses look their module up while the script is being executed
_spec.loader.exec_module(verdict)

SEEDS = range(10)
BASE = 0.80 + 0.01 * np.sin(np.arange(10))  # seed-to-seed spread shared by the arms (what pairing removes)
JITTER = 0.004 * np.array([1, -1] * 5)  # mean exactly 0


def cells(b_gain=0.04, c_gain=0.0, det_b=0.71, tstr_b=0.84, drop=()) -> pd.DataFrame:
    """Arms A, B, C, D over 10 seeds: D - A = 0.10 on every seed, B - A = b_gain (+ jitter), C - A = c_gain (+ jitter)."""
    fpt = {"A": BASE, "B": BASE + b_gain + JITTER, "C": BASE + c_gain - JITTER, "D": BASE + 0.10}
    det, tstr = {"A": 0.70, "B": det_b}, {"A": 0.85, "B": tstr_b}
    rows = [{"arm": arm, "seed": s, verdict.TARGET: fpt[arm][s], verdict.DETECTION: det.get(arm, 0.7),
             verdict.TSTR: tstr.get(arm, 0.85)} for arm in "ABCD" for s in SEEDS if (arm, s) not in drop]
    return pd.DataFrame(rows)


def test_pass_when_b_closes_the_gap_c_does_not_and_the_guards_hold():
    v = verdict.decide(cells(), planned=10)
    assert v.status == "PASS", v.reasons
    assert v.numbers["g"] == pytest.approx(0.4)  # 0.04 / 0.10: the jitter has mean 0
    assert v.numbers["B-A"] == pytest.approx(0.04) and v.numbers["B-A_low"] > 0
    assert v.numbers["g_low"] < 0.4 < v.numbers["g_high"] and v.numbers["g_low"] > 0.25
    assert v.numbers["C-A_low"] < 0 < v.numbers["C-A_high"]
    # the paired t-interval of B - A: jitter sd 0.004216 over 10 seeds -> half-width 2.262 * 0.004216 / sqrt(10)
    assert v.numbers["B-A_high"] - 0.04 == pytest.approx(2.2622 * 0.0042164 / np.sqrt(10), rel=1e-3)
    assert v.numbers["mde_B-A"] == pytest.approx(verdict.paired_min_detectable(0.0042164, 10), rel=1e-3)


def test_fail_when_b_closes_too_little_of_the_gap():
    v = verdict.decide(cells(b_gain=0.01), planned=10)
    assert v.status == "FAIL" and v.numbers["g"] == pytest.approx(0.1)
    assert [r for r in v.reasons if r.startswith("gap closure g = 0.100 < 0.25")]


def test_fail_when_the_scrambled_arm_gains_as_well():
    v = verdict.decide(cells(c_gain=0.04), planned=10)
    assert v.status == "FAIL" and v.numbers["g_C"] == pytest.approx(0.4)
    assert len(v.reasons) == 1 and v.reasons[0].startswith("C gains too")


def test_fail_when_b_is_worse_on_detection_or_tstr_by_more_than_the_margin():
    assert verdict.decide(cells(det_b=0.719), planned=10).status == "PASS"  # within 0.02
    v = verdict.decide(cells(det_b=0.73, tstr_b=0.80), planned=10)
    assert v.status == "FAIL" and len(v.reasons) == 2
    assert "detection AUC is worse than A's by +0.0300" in v.reasons[0] and "+0.0500" in v.reasons[1]


def test_inconclusive_only_when_an_arm_has_fewer_seeds_than_planned():
    v = verdict.decide(cells(drop={("B", 3)}), planned=10)
    assert v.status == "INCONCLUSIVE (9 seeds)" and "finished: A 10, B 9, C 10, D 10" in v.reasons[0]
    assert verdict.decide(cells(drop={("B", 3)}), planned=9).status == "PASS"


def test_the_script_reads_a_grid_from_mlflow_and_reports_every_arm(mlflow_store):
    from synllm_mlops.compare import GridConfig, run_compare

    arms = [{"name": "A", "backend": "stats"}, {"name": "B", "overrides": {"steer_strength": 0.5}},
            {"name": "C", "overrides": {"steer_strength": 0.5, "scramble_names": True}},
            {"name": "D", "backend": "stats", "overrides": {"oversample": 2.0}}]
    grid = GridConfig(name="llm-value-test", backend="fake", models=["fake-a"], strategies=["featdesc"],
                      datasets=["cirrhosis"], seeds=[0, 1], n_rows=24, arms=arms,
                      overrides={"rows_per_completion": 4, "batch_size": 4, "control_tables": 0})
    out = run_compare(grid, progress=False)
    assert out.counts == {"ran": 8, "skipped": 0, "failed": 0}
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)})
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "llm_value_verdict.py"), "--experiment", "synllm-test",
                        "--tracking-uri", mlflow_store, "--grid", "llm-value-test"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    text = r.stdout
    assert "### fake-a · cirrhosis" in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| arm")]
    assert [ln.split()[1] for ln in rows] == ["A", "B", "C", "D"]
    assert all(ln.split("|")[2].strip() == "2" for ln in rows)  # 2 seeds each
    assert all("–" not in ln.split("|")[5] for ln in rows)  # fidelity/feature_pair_trends was logged for every arm
    assert "Minimum detectable B - A difference" in text
    assert any(f"**Verdict: {s}" in text for s in ("PASS**", "FAIL**")), text  # 2 of 2 planned seeds: not inconclusive
