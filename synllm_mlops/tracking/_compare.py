"""MLflow queries and records for comparison grids: finished cells by config hash, failed cells, parent status.

Cells are found by the ``synllm.cell_hash`` tag across the whole experiment (not only under one
parent run), so a grid re-run after an interruption resumes where the last one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synllm_mlops.tracking._mlflow import _mlflow

CELL_HASH_TAG = "synllm.cell_hash"
PARENT_TAG = "synllm.compare_parent"
ERROR_TAG = "synllm.cell_error"


def _active_experiment_id() -> str:
    run = _mlflow().active_run()
    if run is None:
        raise RuntimeError("grid queries need an active (parent) run to know the experiment")
    return run.info.experiment_id


def _search(filter_string: str) -> list[Any]:
    mlflow = _mlflow()
    return mlflow.search_runs(experiment_ids=[_active_experiment_id()], filter_string=filter_string,
                              output_format="list", order_by=["attributes.start_time DESC"])


def finished_cells(hashes: set[str] | list[str]) -> dict[str, str]:
    """Map each cell hash that already has a FINISHED run in the active experiment to its latest run id."""
    wanted, found = set(hashes), {}
    for run in _search(f"attributes.status = 'FINISHED' and tags.`{CELL_HASH_TAG}` LIKE '%'"):
        h = run.data.tags.get(CELL_HASH_TAG)
        if h in wanted and h not in found:  # newest first
            found[h] = run.info.run_id
    return found


EVALUATION_RUN_TAG, OUTSIDE_DP_TAG = "synllm.evaluation_run_id", "synllm.outside_dp_guarantee"
"""A DP run's evaluation lives in its own child run (it reads exact train data), named on the run by the first
tag and marked on the child by the second."""

PRIVATE_TAG = "synllm.private"
"""``true`` on a run whose release is DP (the default), ``false`` on an explicitly non-private one."""


def cell_metrics(run_ids: list[str]) -> dict[str, dict[str, float]]:
    """The latest value of every metric of each run, with its evaluation child's (a DP run) merged in."""
    client = _mlflow().MlflowClient()
    out = {}
    for rid in run_ids:
        run = client.get_run(rid)
        child = run.data.tags.get(EVALUATION_RUN_TAG)
        out[rid] = {**run.data.metrics, **(client.get_run(child).data.metrics if child else {})}
    return out


def _child_of(parent_id: str, cell_hash: str) -> str | None:
    runs = _search(f"tags.`{CELL_HASH_TAG}` = '{cell_hash}' and tags.`{PARENT_TAG}` = '{parent_id}' "
                   "and attributes.status != 'FINISHED'")
    return runs[0].info.run_id if runs else None


def record_failed_cell(parent_id: str, cell_hash: str, *, run_name: str, params: dict[str, Any], error: str,
                       status: str = "FAILED", tags: dict[str, str] | None = None) -> str:
    """Record a cell that did not finish: the child run the cell started, or a new one if it never started.

    The error goes into the ``synllm.cell_error`` tag (first 500 characters) and ``error.txt``;
    ``status`` is FAILED (an exception, a model that is not available) or KILLED (Ctrl-C).
    Returns the run id.
    """
    mlflow = _mlflow()
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

    client = mlflow.MlflowClient()
    run_id = _child_of(parent_id, cell_hash)
    if run_id is None:  # failed before run_generation opened a run (bad data, model not available)
        run = client.create_run(_active_experiment_id(), run_name=run_name,
                                tags={MLFLOW_PARENT_RUN_ID: parent_id, MLFLOW_RUN_NAME: run_name,
                                      CELL_HASH_TAG: cell_hash, PARENT_TAG: parent_id, "synllm.stage": "main"})
        run_id = run.info.run_id
        existing: dict[str, str] = {}
    else:
        existing = dict(client.get_run(run_id).data.params)
    for k, v in params.items():
        if k not in existing:
            client.log_param(run_id, k, "" if v is None else str(v))
    for k, v in {ERROR_TAG: error[:500], **(tags or {})}.items():
        client.set_tag(run_id, k, v)
    client.log_text(run_id, error, "error.txt")
    client.set_terminated(run_id, status)
    return run_id


# --- claims: several workers on one grid (``synllm compare --claim``) --------------------------------------------

HEARTBEAT_TAG = "synllm.heartbeat"  # unix seconds, refreshed by the worker while it runs the cell
WORKER_TAG = "synllm.worker"
CLAIM_TAG = "synllm.claim"  # "won" once the claim survived its first check


@dataclass(frozen=True)
class CellRun:
    """A (not deleted) run of a grid cell, as the claim protocol sees it."""

    run_id: str
    status: str
    start_time: int  # ms, the creating client's clock
    tags: dict[str, str]

    @property
    def heartbeat(self) -> float | None:
        try:
            return float(self.tags[HEARTBEAT_TAG])
        except (KeyError, ValueError):
            return None


def _cell_run(run: Any) -> CellRun:
    return CellRun(run.info.run_id, run.info.status, run.info.start_time or 0, dict(run.data.tags))


def cell_runs(hashes: set[str] | list[str] | None = None, *, cell_hash: str | None = None) -> dict[str, list[CellRun]]:
    """Every run of the active experiment tagged with a cell hash (one query), grouped by hash, oldest first.

    ``cell_hash`` narrows the query to one cell (the claim protocol's re-checks); ``hashes`` filters the result.
    """
    where = f"tags.`{CELL_HASH_TAG}` = '{cell_hash}'" if cell_hash else f"tags.`{CELL_HASH_TAG}` LIKE '%'"
    wanted = set(hashes) if hashes is not None else None
    out: dict[str, list[CellRun]] = {}
    for run in reversed(_search(where)):
        h = run.data.tags.get(CELL_HASH_TAG)
        if wanted is None or h in wanted:
            out.setdefault(h, []).append(_cell_run(run))
    return out


def create_cell_run(parent_id: str, cell_hash: str, *, run_name: str, tags: dict[str, str]) -> CellRun:
    """A RUNNING child run of ``parent_id`` for a cell, tagged at creation (a claim that says whose it is)."""
    mlflow = _mlflow()
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

    run = mlflow.MlflowClient().create_run(
        _active_experiment_id(), run_name=run_name,
        tags={MLFLOW_PARENT_RUN_ID: parent_id, MLFLOW_RUN_NAME: run_name, CELL_HASH_TAG: cell_hash,
              PARENT_TAG: parent_id, "synllm.stage": "main", **tags})
    return _cell_run(run)


def discard_run(run_id: str) -> None:
    """Delete a claim run that lost (it never ran anything); searches no longer see it."""
    _mlflow().MlflowClient().delete_run(run_id)


def beat(run_ids: list[str]) -> None:
    """Refresh the heartbeat tag of ``run_ids`` to now."""
    import time

    client = _mlflow().MlflowClient()
    now = f"{time.time():.3f}"
    for rid in run_ids:
        client.set_tag(rid, HEARTBEAT_TAG, now)


def end_lost_run(run_id: str, reason: str) -> bool:
    """A RUNNING run whose worker is gone -> FAILED, ``synllm.incomplete`` = ``reason``; False if it was not RUNNING."""
    client = _mlflow().MlflowClient()
    if client.get_run(run_id).info.status != "RUNNING":
        return False
    client.set_tag(run_id, "synllm.incomplete", reason)
    client.set_terminated(run_id, "FAILED")
    return True
