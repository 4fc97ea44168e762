"""Many workers, one grid: ``synllm compare --claim true`` processes on one PostgreSQL-backed MLflow store run
every cell exactly once; a worker killed mid-cell (kill -9) has its cell ended FAILED and run by another."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HEARTBEAT_S = 2  # grace 6 s: a busy CI machine must not starve a live heartbeat thread that long

# The worker: the real CLI with evaluation replaced by known metrics (evaluation is tested on its own and
# would make each cell ~10 s here); everything the claim protocol touches is the real code.
_WORKER = """
import sys
from types import SimpleNamespace
from synllm_mlops import tracking, workflow

def evaluate_and_log(split, synthetic, spec, seed, *, progress=True, context=None, log=True):
    q = 0.5 + 0.1 * seed
    m = {"score/quality": q, "score/privacy": 0.8, "score/harmonic": 1.6 * q / (0.8 + q)}
    if log:
        tracking.log_metrics(m)
    return SimpleNamespace(metrics=m, summary=lambda: None)

workflow.evaluate_and_log = evaluate_and_log
from synllm_mlops.cli import cli
cli(sys.argv[1:])
"""


def _grid(tmp_path: Path) -> str:
    p = tmp_path / "grid.yaml"
    p.write_text(yaml.safe_dump({"name": "dist", "backend": "fake", "models": ["fake"],
                                 "strategies": ["featdesc", "clin_rule"], "datasets": ["cirrhosis"], "seeds": [0, 1],
                                 "n_rows": 6, "overrides": {"rows_per_completion": 3, "batch_size": 2}}))
    return str(p)


def _worker(base: str, cwd: Path, experiment: str) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"{base}/mlflow", "MLFLOW_EXPERIMENT_NAME": experiment,
           "SYNLLM_HEARTBEAT_S": str(HEARTBEAT_S), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cmd = [sys.executable, "-c", _WORKER, "compare", "--config", _grid(cwd), "--claim", "true"]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(p: subprocess.Popen) -> int:
    """Wait for a worker; the number of cells it ran."""
    out = p.communicate(timeout=240)[0]
    assert p.returncode == 0, out[-3000:]
    return int(re.search(r"parent run \w+: (\d+) cells ran", out).group(1))


def _runs(mlflow, experiment: str, where: str) -> list:
    return mlflow.search_runs(experiment_names=[experiment], output_format="list", filter_string=where)


def _check_complete(mlflow, experiment: str, n_cells: int = 4) -> list:
    """Exactly one FINISHED run per cell, and every FINISHED parent's leaderboard covers every cell."""
    finished = _runs(mlflow, experiment, "tags.`synllm.cell_hash` LIKE '%' and attributes.status = 'FINISHED'")
    hashes = [r.data.tags["synllm.cell_hash"] for r in finished]
    assert len(hashes) == n_cells and len(set(hashes)) == n_cells, hashes
    parents = _runs(mlflow, experiment, "tags.`synllm.stage` = 'compare' and attributes.status = 'FINISHED'")
    assert parents
    for p in parents:
        cells = pd.read_csv(io.StringIO(mlflow.artifacts.load_text(f"runs:/{p.info.run_id}/compare/cells.csv")))
        assert sorted(cells["cell_hash"]) == sorted(hashes) and set(cells["status"]) == {"FINISHED"}
        assert set(cells["run_id"]) == {r.info.run_id for r in finished}
        board = pd.read_csv(io.StringIO(mlflow.artifacts.load_text(f"runs:/{p.info.run_id}/compare/leaderboard.csv")))
        assert len(board) == 2 and board["n_cells"].tolist() == [2, 2]
    return finished


@pytest.fixture()
def store(postgres, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)  # artifacts land in ./mlruns here
    mlflow.set_tracking_uri(f"{postgres}/mlflow")
    yield mlflow
    mlflow.set_tracking_uri(None)


def test_two_workers_share_one_grid_and_run_every_cell_once(postgres, store, tmp_path):
    mlflow = store
    store.set_experiment("grid-two")  # the schema once, before two processes race to create it
    workers = [_worker(postgres, tmp_path, "grid-two") for _ in range(2)]
    ran = [_finish(p) for p in workers]
    assert sum(ran) == 4, ran  # every cell ran once, in one of the workers
    _check_complete(mlflow, "grid-two")
    cell_runs = _runs(mlflow, "grid-two", "tags.`synllm.cell_hash` LIKE '%'")
    assert {r.info.status for r in cell_runs} == {"FINISHED"}  # claims that backed off were deleted
    assert {r.data.tags["synllm.claim"] for r in cell_runs} == {"won"}


def test_a_worker_killed_mid_cell_has_its_cell_run_by_another(postgres, store, tmp_path):
    mlflow = store
    store.set_experiment("grid-kill")
    victim = _worker(postgres, tmp_path, "grid-kill")
    deadline, doomed = time.time() + 120, None
    while doomed is None:  # wait until the victim is inside a cell it has claimed
        assert time.time() < deadline and victim.poll() is None, "the victim never claimed a cell"
        mine = [r for r in _runs(mlflow, "grid-kill", "attributes.status = 'RUNNING' and tags.`synllm.claim` = 'won'")
                if r.data.tags.get("synllm.worker", "").split(":")[1:2] == [str(victim.pid)]]  # host:pid:nonce
        if mine:
            doomed = mine[0]
        else:
            time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    before = len(_runs(mlflow, "grid-kill", "tags.`synllm.cell_hash` LIKE '%' and attributes.status = 'FINISHED'"))

    survivor = _worker(postgres, tmp_path, "grid-kill")
    assert _finish(survivor) == 4 - before  # the dead worker's cell included

    finished = _check_complete(mlflow, "grid-kill")
    dead = mlflow.get_run(doomed.info.run_id)
    assert dead.info.status == "FAILED" and "sent no heartbeat" in dead.data.tags["synllm.incomplete"]
    retried = [r for r in finished if r.data.tags["synllm.cell_hash"] == doomed.data.tags["synllm.cell_hash"]]
    assert len(retried) == 1 and retried[0].info.run_id != doomed.info.run_id
    victim_parent = mlflow.get_run(doomed.data.tags["synllm.compare_parent"])
    assert victim_parent.info.status == "FAILED"  # its grid run no longer claims to be RUNNING
    assert not _runs(mlflow, "grid-kill", "attributes.status = 'RUNNING'")


def test_claims_that_race_for_one_cell_let_at_most_one_win(postgres, store, tmp_path, monkeypatch, grid_yaml):
    """Six threads (each its own parent run) claim the same cell at the same moment, for five cells."""
    import threading

    from synllm_mlops.compare import load_grid
    from synllm_mlops.compare._claim import Claims

    mlflow = store
    monkeypatch.setenv("SYNLLM_HEARTBEAT_S", "30")
    experiment = mlflow.set_experiment("grid-race").experiment_id
    cells = load_grid(grid_yaml(seeds=[0, 1, 2, 3, 4], strategies=["clin_rule"], models=["fake-a"])).cells()
    won: dict[str, list[str]] = {c.hash: [] for c in cells}
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def worker(i: int) -> None:
        try:
            with mlflow.start_run(run_name=f"worker-{i}", experiment_id=experiment) as parent:  # thread-local stack
                claims = Claims(parent.info.run_id)
                for cell in cells:
                    start.wait(timeout=60)
                    if rid := claims.claim(cell, run_name=cell.name, tags={}):
                        won[cell.hash].append(rid)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
            start.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert all(len(w) <= 1 for w in won.values()), won  # never two winners
    assert sum(len(w) for w in won.values()) >= 1
    runs = _runs(mlflow, "grid-race", "tags.`synllm.cell_hash` LIKE '%'")
    assert sorted(r.info.run_id for r in runs) == sorted(rid for w in won.values() for rid in w)  # losers deleted
