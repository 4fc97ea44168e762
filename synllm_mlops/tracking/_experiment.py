"""Which experiment a run goes to, where its artifacts go, and the run ``mlflow run`` made in Default.

Every run of every entry point lands in one named experiment: ``MLFLOW_EXPERIMENT_NAME`` (or ``mlflow run
--experiment-name``) when the user gave one, else ``SYNLLM_EXPERIMENT``, else ``synllm``. ``mlflow run``
without ``--experiment-name`` creates its run in ``Default`` before our code starts; that run is
relocated: the work is logged to a run in the named experiment (with the launch tags copied); the empty
launch run is ended, points to the real run, and is deleted by the next run (``mlflow run`` itself ends it
after our process exits and fails on a deleted run, so it cannot go at once).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, unquote, urlencode, urlparse

from synllm_mlops.settings import settings

EXPERIMENT = "synllm"
DEFAULT_EXPERIMENT_ID = "0"
UI = "http://127.0.0.1:5000"  # where `mlflow ui --host 127.0.0.1` serves
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"
# tags `mlflow run` puts on its run that say where it came from: the relocated run keeps them
LAUNCH_TAGS = ("mlflow.source.name", "mlflow.source.type", "mlflow.source.git.commit", "mlflow.source.git.branch",
               "mlflow.source.git.repoURL", "mlflow.gitRepoURL", "mlflow.project.entryPoint", "mlflow.project.env",
               "mlflow.project.backend", "mlflow.user")


def experiment_name(explicit: str | None = None) -> str:
    """The experiment a run goes to: MLflow's own setting first, then ``explicit``, ``SYNLLM_EXPERIMENT``, ``synllm``."""
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or explicit or settings().experiment or EXPERIMENT


def active_experiment_name() -> str:
    """The name of the active run's experiment (where the run really is, whoever chose it)."""
    import mlflow

    run = mlflow.active_run()
    return mlflow.MlflowClient().get_experiment(run.info.experiment_id).name if run else experiment_name()


def local_artifact_root(tracking_uri: str) -> str | None:
    """``<folder of the database>/mlruns`` for a SQLite store outside the working directory, else None.

    MLflow gives a new experiment of a SQLite store the artifact root ``./mlruns`` of the *working directory*:
    runs logged to another store would write their artifacts into the checkout's ``mlruns``.
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = Path(unquote(urlparse(tracking_uri).path)).resolve()
    if path.parent == Path.cwd().resolve():
        return None  # MLflow's own default (./mlflow.db, ./mlruns): nothing to correct
    return (path.parent / "mlruns").as_uri()


def ensure_experiment(name: str) -> str:
    """The id of experiment ``name``, created (artifacts next to the store, see :func:`local_artifact_root`) if new."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is None:
        root = local_artifact_root(mlflow.get_tracking_uri())
        try:
            client.create_experiment(name, artifact_location=f"{root}/{name}" if root else None)
        except MlflowException:  # another worker created it a moment ago
            pass
        exp = client.get_experiment_by_name(name)
    if KIND_TAG not in exp.tags:  # runs, not a GenAI app: the UI lists runs, not trace charts
        try:
            client.set_experiment_tag(exp.experiment_id, KIND_TAG, KIND)
        except MlflowException:  # e.g. a user without MANAGE permission on a shared server: a UI nicety only
            pass
    return exp.experiment_id


def exists(experiment_id: str) -> bool:
    """Whether the current tracking store has an active experiment with this id."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.MlflowClient().get_experiment(experiment_id).lifecycle_stage == "active"
    except MlflowException:
        return False


def runs_view_url(experiment_id: str | None, *, base: str = UI, best_first: str = "score/harmonic") -> str:
    """The MLflow UI's runs table of an experiment, sorted by metric ``best_first``, highest first.

    MLflow 3.17's experiment page (a hash route) reads the table's sort from its query string: ``orderByKey``
    is the column's canonical key ``metrics.`<name>``` (backquoted: our names hold ``/``) and ``orderByAsc=false``
    sorts descending; ``workflowType=machine_learning`` opens the runs table rather than the GenAI view. With
    no experiment id (nothing logged yet) it is the list of experiments.

    Example:
        >>> runs_view_url("3")
        'http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning&orderByKey=metrics.%60score%2Fharmonic%60&orderByAsc=false'
        >>> runs_view_url(None)
        'http://127.0.0.1:5000/#/experiments'
    """
    if not experiment_id:
        return f"{base}/#/experiments"
    query = urlencode({"workflowType": "machine_learning", "orderByKey": f"metrics.`{best_first}`", "orderByAsc": "false"},
                      safe="", quote_via=quote)
    return f"{base}/#/experiments/{experiment_id}/runs?{query}"


def launch_run_to_relocate() -> str | None:
    """The id of the run ``mlflow run`` created in Default when no experiment was chosen, else None."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id or os.environ.get("MLFLOW_EXPERIMENT_NAME") or experiment_name() == "Default":
        return None
    import mlflow

    run = mlflow.MlflowClient().get_run(run_id)
    return run_id if run.info.experiment_id == DEFAULT_EXPERIMENT_ID else None


def adopt_launch_run(launch_id: str) -> dict[str, str]:
    """Take the launch run out of ``mlflow run``'s hands: returns the tags the relocated run keeps.

    ``MLFLOW_RUN_ID`` / ``MLFLOW_EXPERIMENT_ID`` are dropped from this process so that ``start_run`` makes a
    new run in the named experiment instead of resuming the launch run.
    """
    import mlflow

    tags = mlflow.MlflowClient().get_run(launch_id).data.tags
    for var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        os.environ.pop(var, None)
    return {k: v for k, v in tags.items() if k in LAUNCH_TAGS} | {"synllm.launch_run_id": launch_id}


RELOCATED_TAG = "synllm.relocated_to"


def retire_launch_run(launch_id: str, run_id: str, status: str) -> None:
    """End the empty launch run with the real run's status and point it to the real run."""
    import mlflow

    client = mlflow.MlflowClient()
    client.set_tag(launch_id, RELOCATED_TAG, run_id)
    client.set_tag(launch_id, "mlflow.note.content", f"Relocated: this launch's run is `{run_id}` in experiment "
                   f"`{experiment_name()}`; this empty run is deleted by the next run.")
    client.set_terminated(launch_id, status)


def delete_retired_launch_runs() -> None:
    """Delete the ended launch runs left in Default by earlier relocations (see the module docstring)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        old = client.search_runs([DEFAULT_EXPERIMENT_ID], f"tags.`{RELOCATED_TAG}` != ''", max_results=100)
    except MlflowException:  # no Default experiment in this store
        return
    for run in old:
        if run.info.status != "RUNNING" and run.info.run_id != os.environ.get("MLFLOW_RUN_ID"):
            client.delete_run(run.info.run_id)
