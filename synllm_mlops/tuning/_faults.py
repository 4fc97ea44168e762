"""Workers that die: heartbeats fail their trial, and their MLflow runs stop claiming to be RUNNING.

A worker killed mid-trial (kill -9, OOM, a lost machine) leaves its Optuna trial RUNNING and its MLflow
runs RUNNING. With heartbeats on, the next worker to start a trial after ``grace_period`` marks that trial
FAIL and calls :func:`fail_trial_runs`, which ends the dead worker's trial run and study run as FAILED.
When every worker is known to be gone (``team_stack.sh stop``), ``end_orphans`` (in ``_storage``) does the same
at once.
"""

from __future__ import annotations

import os
import socket
import uuid

from synllm_mlops.settings import settings


def worker_id() -> str:
    """A new id for this process as a worker (host, pid, random): unique even if a pid is reused or a process forks.

    Computed when a study or grid starts and passed to whatever tags its runs, never at import.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def heartbeat() -> tuple[int, int]:
    """(heartbeat_interval, grace_period) in seconds: ``SYNLLM_HEARTBEAT_S`` (default 60), grace 3x that."""
    interval = settings().heartbeat_s
    return interval, 3 * interval


def fail_trial_runs(study, trial) -> None:
    """Optuna ``heartbeat_stale_trial_callback``: the stale trial's MLflow run and its worker's study run -> FAILED."""
    from synllm_mlops import tracking

    reason = f"worker lost: trial {trial.number} sent no heartbeat"
    tracking.end_open_runs({"optuna.study_name": study.study_name, "optuna.trial_number": str(trial.number)}, "FAILED",
                           reason, with_parents=True)
    if worker := trial.user_attrs.get("worker"):  # its study run, and a trial run killed before it was tagged
        tracking.end_open_runs({"optuna.study_name": study.study_name, "synllm.worker": worker}, "FAILED", reason)

