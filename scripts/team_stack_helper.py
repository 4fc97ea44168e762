"""scripts/team_stack.sh's Python steps. Secrets come from the environment only, never from argv or stdout.

    create-user EXPERIMENT   as the MLflow admin (MLFLOW_TRACKING_USERNAME/PASSWORD), create the worker user
                             SYNLLM_NEW_USER / SYNLLM_NEW_PASSWORD, then, as that user, the experiment
    end-orphans STORAGE STUDY   after every worker is stopped: RUNNING trials -> FAIL, RUNNING runs -> KILLED
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, as `mlflow run .` uses


def create_user(experiment: str) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client

    user, password = os.environ["SYNLLM_NEW_USER"], os.environ["SYNLLM_NEW_PASSWORD"]
    client = get_app_client("basic-auth", tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    try:
        client.create_user(username=user, password=password)
    except MlflowException as e:
        if "already exists" not in str(e):
            raise
    os.environ.update(MLFLOW_TRACKING_USERNAME=user, MLFLOW_TRACKING_PASSWORD=password)
    mlflow.set_experiment(experiment)  # its creator (the worker user) may MANAGE it; others READ
    print(f"MLflow user {user!r} ready; experiment {experiment!r}")


def end_orphans(storage: str, study: str) -> None:
    from synllm_mlops.tuning import end_orphans as end

    trials, runs = end(storage, study, "KILLED")
    print(f"study {study}: trials {trials or 'none'} marked FAIL, {len(runs)} RUNNING MLflow run(s) marked KILLED")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"create-user": create_user, "end-orphans": end_orphans}[cmd](*args)
