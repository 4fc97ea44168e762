"""Prompt registration is idempotent, also when workers register the same template at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow

from synllm_mlops.tracking import register_prompt


def _versions(name: str) -> list[tuple[int, str]]:
    return sorted((int(v.version), v.template) for v in mlflow.MlflowClient().search_prompt_versions(name))


def test_same_text_same_version_new_text_new_version(mlflow_store):
    a = register_prompt("clin_rule", "rows of {n}", uses_real_rows=False)
    assert register_prompt("clin_rule", "rows of {n}", uses_real_rows=False) == a == "prompts:/synllm-clin-rule/1"
    assert register_prompt("clin_rule", "more rows of {n}", uses_real_rows=False) == "prompts:/synllm-clin-rule/2"
    assert register_prompt("clin_rule", "rows of {n}", uses_real_rows=False) == a  # an older text keeps its version


_WORKER = """
import os, sys, time
from synllm_mlops.tracking import register_prompt
open(sys.argv[1] + ".ready", "w").close()
while not os.path.exists(sys.argv[2]):  # everyone imported: start together
    time.sleep(0.005)
print(register_prompt("statguide", "the statistics: {stats}", uses_real_rows=False))
"""


def test_concurrent_registrations_from_processes_end_with_one_version(mlflow_store, tmp_path):
    n, go = 4, tmp_path / "go"
    mlflow.search_experiments()  # create the store's schema once, before four processes race to migrate it
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path / f"w{i}"), str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]
    deadline = time.time() + 120
    while not all((tmp_path / f"w{i}.ready").exists() for i in range(n)) and time.time() < deadline:
        time.sleep(0.05)
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    versions = _versions("synllm-statguide")
    assert len(versions) == 1, versions
    assert [out.strip().splitlines()[-1] for out, _ in outs] == [f"prompts:/synllm-statguide/{versions[0][0]}"] * n
