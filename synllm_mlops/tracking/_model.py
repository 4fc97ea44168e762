"""The run bookkeeping a tuning study needs, and a run's generator as an MLflow logged model.

mlflow is imported when a function runs, never at import. (Packaging a servable generator lives in
:mod:`synllm_mlops.serving`.)
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

from synllm_mlops.tracking._mlflow import _mlflow


# --- run bookkeeping for tuning ---

def find_child_run(tags: dict[str, str]) -> str | None:
    """Id of the newest child of the active run carrying ``tags`` (e.g. a trial run that ended FAILED)."""
    parent = _mlflow().active_run()
    if parent is None:
        return None
    filters = [f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"] + [f"tags.`{k}` = '{v}'" for k, v in tags.items()]
    found = _mlflow().MlflowClient().search_runs([parent.info.experiment_id], " and ".join(filters),
                                              order_by=["attributes.start_time DESC"], max_results=1)
    return found[0].info.run_id if found else None


def set_run_tags(run_id: str, tags: dict[str, str]) -> None:
    """Tag a run; a run missing from this store (a study resumed against another tracking store) is skipped."""
    from mlflow.exceptions import MlflowException

    client = _mlflow().MlflowClient()
    try:
        client.get_run(run_id)
    except MlflowException:
        warnings.warn(f"run {run_id} is not in the tracking store {_mlflow().get_tracking_uri()}; not tagging it "
                      "(was the study resumed against another MLflow store?)", stacklevel=2)
        return
    for k, v in tags.items():
        for attempt in range(3):
            try:
                client.set_tag(run_id, k, str(v))
                break
            except MlflowException as e:
                # Two workers of one study summarise it at once and both tag the same run: the store inserts a tag
                # it did not find, and the later insert hits the primary key. The tag exists now: retry to update.
                if attempt == 2 or not _duplicate_key(e):
                    raise


def _duplicate_key(error: Exception) -> bool:
    """Whether a store error is a unique-key violation (PostgreSQL, MySQL, SQLite wordings)."""
    text = str(error).lower()
    return any(w in text for w in ("duplicate key", "uniqueviolation", "unique constraint", "duplicate entry"))


def log_run_params(run_id: str, params: dict[str, Any]) -> None:
    """Log params on a (possibly finished) run, skipping keys it already has."""
    from mlflow.entities import Param

    client = _mlflow().MlflowClient()
    existing = client.get_run(run_id).data.params
    fresh = [Param(k, str(v)) for k, v in params.items() if k not in existing]
    if fresh:
        client.log_batch(run_id, params=fresh)


def run_tag(run_id: str, key: str) -> str | None:
    return _mlflow().MlflowClient().get_run(run_id).data.tags.get(key)


def end_open_runs(tags: dict[str, str], status: str, reason: str, *, with_parents: bool = False) -> list[str]:
    """End every RUNNING run (any experiment) carrying ``tags``, and its RUNNING children, with ``status``.

    For runs whose process died and cannot end them itself. ``with_parents`` also ends their RUNNING
    parent runs (the dead worker's study run). Returns the ids ended.
    """
    mlflow = _mlflow()
    client = mlflow.MlflowClient()

    def running(*filters: str) -> list:
        where = " and ".join([*filters, "attributes.status = 'RUNNING'"])
        return mlflow.search_runs(search_all_experiments=True, filter_string=where, output_format="list")

    ended: list[str] = []

    def end(run_id: str) -> None:
        if run_id in ended or client.get_run(run_id).info.status != "RUNNING":
            return
        client.set_tag(run_id, "synllm.incomplete", reason)
        client.set_terminated(run_id, status)
        ended.append(run_id)
        for child in running(f"tags.`mlflow.parentRunId` = '{run_id}'"):
            end(child.info.run_id)

    for run in running(*[f"tags.`{k}` = '{v}'" for k, v in tags.items()]):
        end(run.info.run_id)
        if with_parents and run.data.tags.get("mlflow.parentRunId"):
            end(run.data.tags["mlflow.parentRunId"])
    return ended


def end_active_run(status: str) -> None:
    """End the active run with ``status`` (``KILLED`` on Ctrl-C: mlflow's context manager would say FAILED)."""
    if _mlflow().active_run() is not None:
        _mlflow().end_run(status)


def log_plotly(fig, path: str) -> None:
    """An interactive plotly figure as a self-contained HTML artifact (viewable offline)."""
    _mlflow().log_text(fig.to_html(include_plotlyjs=True, full_html=True), path)


def log_matplotlib(fig, path: str) -> None:
    _mlflow().log_figure(fig, path)


# --- the generator of a run as an MLflow 3 logged model (the Models view compares runs by model) ---

GENERATOR_MODEL_TYPE = "synllm-generator"


def record_generator(*, name: str, params: dict[str, Any], tags: dict[str, str], files: dict[str, str]) -> str:
    """Record the active run's generator as a logged model (READY) and make it the active model.

    Its params are the run's settings (flat names, absent ones left out); ``files`` (name -> text: the
    RunConfig JSON, the spec YAML, the prompt reference) are its artifacts. Metrics logged afterwards on
    this run, and traces, are linked to it until :func:`release_generator`. Nothing here holds a real row.

    Returns:
        the logged model id.
    """
    mlflow = _mlflow()
    model = mlflow.initialize_logged_model(name=name, model_type=GENERATOR_MODEL_TYPE, tags=tags,
                                           params={k: str(v) for k, v in params.items() if v is not None and v != ""})
    with tempfile.TemporaryDirectory() as d:
        for fname, text in files.items():
            (Path(d) / fname).write_text(text)
        mlflow.MlflowClient().log_model_artifacts(model.model_id, d)
    mlflow.finalize_logged_model(model.model_id, "READY")
    mlflow.set_active_model(model_id=model.model_id)
    return model.model_id


def release_generator() -> None:
    """Metrics logged from now on are the run's own (e.g. the next trial of a study)."""
    _mlflow().clear_active_model()
