"""Workers that die: heartbeats fail their trial, and their MLflow runs stop claiming to be RUNNING.

A worker killed mid-trial (kill -9, OOM, a lost machine) leaves its Optuna trial RUNNING and its MLflow
runs RUNNING. With heartbeats on, the next worker to start a trial after ``grace_period`` marks that trial
FAIL and calls :func:`fail_trial_runs`, which ends the dead worker's trial run and study run as FAILED.
When every worker is known to be gone (``team_stack.sh stop``), :func:`end_orphans` does the same at once.
"""

from __future__ import annotations

import os
import socket
import uuid

WORKER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process; unique even if a pid is reused


def heartbeat() -> tuple[int, int]:
    """(heartbeat_interval, grace_period) in seconds: ``SYNLLM_HEARTBEAT_S`` (default 60), grace 3x that."""
    raw = os.environ.get("SYNLLM_HEARTBEAT_S", "60")
    try:
        interval = int(raw)
        if interval < 1:
            raise ValueError
    except ValueError:
        from synllm_mlops.errors import ConfigError

        raise ConfigError(f"SYNLLM_HEARTBEAT_S must be a whole number of seconds >= 1, got {raw!r}") from None
    return interval, 3 * interval


def fail_trial_runs(study, trial) -> None:
    """Optuna ``heartbeat_stale_trial_callback``: the stale trial's MLflow run and its worker's study run -> FAILED."""
    from synllm_mlops import tracking

    reason = f"worker lost: trial {trial.number} sent no heartbeat"
    tracking.end_open_runs({"optuna.study_name": study.study_name, "optuna.trial_number": str(trial.number)}, "FAILED",
                           reason, with_parents=True)
    if worker := trial.user_attrs.get("worker"):  # its study run, and a trial run killed before it was tagged
        tracking.end_open_runs({"optuna.study_name": study.study_name, "synllm.worker": worker}, "FAILED", reason)


def end_orphans(storage: str, study_name: str, status: str = "KILLED") -> tuple[list[int], list[str]]:
    """After every worker of ``study_name`` has been stopped: RUNNING trials -> FAIL, RUNNING runs -> ``status``.

    Only safe when no worker of the study is alive anywhere. Returns (trial numbers failed, run ids ended).
    """
    import optuna
    from optuna.trial import TrialState

    from synllm_mlops import tracking
    from synllm_mlops.tuning._study import open_storage

    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
            failed.append(t.number)
    ended = tracking.end_open_runs({"optuna.study_name": study_name}, status, "worker stopped")
    return failed, ended
