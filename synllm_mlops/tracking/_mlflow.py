"""MLflow tracking: the only module that imports mlflow.

Real rows never reach MLflow: the real table is logged as an ``mlflow.data`` input by digest and
schema only; rejected copies of real rows are redacted before the rejects table is written.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

import synllm_mlops
from synllm_mlops.errors import ConfigError, redact
from synllm_mlops.spec import DatasetSpec
from synllm_mlops.tracking._reach import check_reachable

from synllm_mlops.tracking._experiment import EXPERIMENT  # noqa: E402  (re-exported)
PROMPT_PREFIX = "synllm-"


# MLflow loggers that narrate what every run does (system-metrics monitor start/stop, the active logged model
# set/cleared, the trace queue flushed at exit): nothing a user can act on, so they speak only at WARNING,
# unless the user has set a level on them
_CHATTY_LOGGERS = ("mlflow.system_metrics", "mlflow.tracking.fluent", "mlflow.tracing.export.async_export_queue")


def _mlflow():
    import logging

    import mlflow

    for name in _CHATTY_LOGGERS:
        log = logging.getLogger(name)
        if log.level == logging.NOTSET:
            log.setLevel(logging.WARNING)
    return mlflow


def git_commit() -> str:
    """The checkout's commit (with ``-dirty`` when it has local changes), or ``unknown``."""
    root = Path(synllm_mlops.__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True,
                               text=True, timeout=5).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@contextmanager
def tracked_run(stage: str, *, run_name: str | None = None, nested: bool = False, tags: dict[str, str] | None = None,
                experiment: str | None = None, run_id: str | None = None, description: str | None = None,
                system_metrics: bool = False) -> Iterator[Any]:
    """Start (or join, under ``mlflow run``) a run tagged with its stage, package version and commit.

    The run goes to the named experiment (see ``_experiment``), whatever started it: a run ``mlflow run``
    made in Default because no experiment was given is relocated there. ``system_metrics`` samples CPU,
    memory (and GPU where available) while the run is open. ``run_id`` continues a run created beforehand
    (a grid cell a worker claimed by creating its run).
    """
    from synllm_mlops.tracking import _experiment

    mlflow = _mlflow()
    check_reachable()  # a server that is down fails here, in seconds, with the fix
    launch = None
    if not nested and mlflow.active_run() is None and run_id is None:
        _experiment.delete_retired_launch_runs()
        launch = _experiment.launch_run_to_relocate()
        if launch:
            tags = {**_experiment.adopt_launch_run(launch), **(tags or {})}
        exp_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
        if exp_id and not _experiment.exists(exp_id):  # exported by set_experiment for another store: not a choice
            os.environ.pop("MLFLOW_EXPERIMENT_ID")
        if not os.environ.get("MLFLOW_RUN_ID") and not os.environ.get("MLFLOW_EXPERIMENT_ID"):
            mlflow.set_experiment(experiment_id=_experiment.ensure_experiment(_experiment.experiment_name(experiment)))
    # tags go in with the run itself: a worker killed a moment later leaves a run that says whose it is
    run = mlflow.start_run(run_id=run_id, run_name=run_name, nested=nested, description=description,
                           log_system_metrics=system_metrics and _system_metrics_available() or None, tags={
        "synllm.stage": stage, "synllm.version": synllm_mlops.__version__, "synllm.git_commit": git_commit(), **(tags or {})})
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    except KeyboardInterrupt:  # the user stopped it: KILLED, not FAILED; what was logged stays
        status = "KILLED"
        raise
    finally:
        mlflow.end_run(status)
        if launch:
            _experiment.retire_launch_run(launch, run.info.run_id, status)


def _system_metrics_available() -> bool:
    """MLflow samples system metrics with psutil (and pynvml for GPUs); without psutil there is nothing to log."""
    import importlib.util

    return importlib.util.find_spec("psutil") is not None


def log_params(params: dict[str, Any]) -> None:
    """Log params, skipping keys the run already has (``mlflow run`` logs its -P values itself) and absent
    values (None, ""): the UI would show them as empty strings.

    A param cannot be logged twice with another value, so where the run already holds a key as "" (``mlflow run``
    logs the MLproject's ``dp_epsilon`` default "" = "the default", which the run resolves to 4.0), the value the
    run used is set as tag ``synllm.effective.<key>``.
    """
    mlflow = _mlflow()
    run = mlflow.active_run()
    existing = mlflow.MlflowClient().get_run(run.info.run_id).data.params
    given = {k: str(v) for k, v in params.items() if v is not None and v != ""}
    fresh = {k: v for k, v in given.items() if k not in existing}
    if fresh:
        mlflow.log_params(fresh)
    resolved = {f"synllm.effective.{k}": v for k, v in given.items() if existing.get(k) == ""}
    if resolved:
        mlflow.set_tags(resolved)


def set_tags(tags: dict[str, str]) -> None:
    _mlflow().set_tags(tags)


def log_text(text: str, path: str) -> None:
    _mlflow().log_text(text, path)


def log_dict(d: dict, path: str) -> None:
    _mlflow().log_dict(d, path)


def log_dataframe(df: pd.DataFrame, path: str) -> None:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    _mlflow().log_text(buf.getvalue(), path)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    clean = {k: float(v) for k, v in metrics.items() if v is not None and pd.notna(v)}
    if clean:
        _mlflow().log_metrics(clean, step=step)


def log_real_data_input(spec: DatasetSpec, digest: str, n_rows: int | None, *, context: str, source: str) -> None:
    """Record the real table as a dataset input: name, digest, schema and size only, never its rows.

    ``n_rows=None`` leaves the size out (a DP run: an exact count next to the noisy one would undo the noise).
    """
    mlflow = _mlflow()
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.types import ColSpec, Schema

    schema = Schema([ColSpec("double" if c.is_numeric else "string", c.name) for c in spec.columns])
    src = HTTPDatasetSource(url=source if "://" in source else f"file://{source}")
    ds = MetaDataset(source=src, name=f"{spec.name}-{context}", digest=digest, schema=schema)
    mlflow.log_input(ds, context=context, tags={"rows": str(n_rows)} if n_rows is not None else None)


def register_prompt(strategy: str, template: str, *, uses_real_rows: bool) -> str:
    """Register a strategy's template in the Prompt Registry, idempotently: one version per distinct text.

    Workers of one study register the same template at the same moment: each looks for a version with
    this text first, and one that registered anyway re-checks and, when a lower version holds the same
    text, deletes its own and converges on the lowest.

    Returns:
        the prompt version URI, e.g. ``prompts:/synllm-clin-rule/2``.
    """
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    name = PROMPT_PREFIX + strategy.replace("_", "-")

    def same_text() -> list[int]:
        try:  # the registry itself, not load_prompt (whose cache would hide a version registered elsewhere)
            versions = client.search_prompt_versions(name, max_results=1000)
        except MlflowException:
            return []  # not registered yet
        return sorted(int(v.version) for v in versions if v.template == template)

    for attempt in range(6):
        if found := same_text():
            return f"prompts:/{name}/{found[0]}"
        try:
            mine = int(mlflow.genai.register_prompt(
                name=name, template=template, commit_message=f"{strategy} template, synllm {synllm_mlops.__version__}",
                tags={"strategy": strategy, "uses_real_rows": str(uses_real_rows).lower()}).version)
        except MlflowException:  # e.g. two workers creating the prompt itself at once
            if attempt == 5:
                raise
            time.sleep(0.2 * (attempt + 1))
            continue
        lowest = min(same_text(), default=mine)
        if lowest < mine:  # someone registered the same text concurrently: keep theirs (the lowest), drop ours
            try:
                client.delete_prompt_version(name, str(mine))
            except MlflowException:
                pass  # still harmless: every caller returns the lowest version
        return f"prompts:/{name}/{min(lowest, mine)}"
    raise AssertionError("unreachable")


def log_prompt(prompt, rendered_text: str) -> str:
    """Register the template, link it to the run, log the rendered prompt as ``prompt/prompt.txt``."""
    mlflow = _mlflow()
    uri = register_prompt(prompt.strategy, prompt.template, uses_real_rows=prompt.uses_real_rows)
    try:
        pv = mlflow.genai.load_prompt(uri)
        mlflow.MlflowClient().link_prompt_version_to_run(mlflow.active_run().info.run_id, pv)
    except Exception:  # noqa: BLE001 - linking is a UI nicety; the URI is logged below regardless
        pass
    mlflow.set_tags({"synllm.prompt_uri": uri, "synllm.uses_real_rows": str(prompt.uses_real_rows).lower()})
    link_prompt_to_runs(uri, mlflow.active_run().info.run_id)
    log_text(rendered_text, "prompt/prompt.txt")
    return uri


def link_prompt_to_runs(uri: str, run_id: str) -> None:
    """Tag the prompt version with the runs that used it: a runs-search filter (paste it into the UI's search
    box) and the latest run id. The Prompt Registry then leads to the runs, not only the runs to the prompt."""
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    name, version = uri.removeprefix("prompts:/").split("/")
    client = mlflow.MlflowClient()
    try:
        client.set_prompt_version_tag(name, version, "synllm.runs_filter", f"tags.`synllm.prompt_uri` = '{uri}'")
        client.set_prompt_version_tag(name, version, "synllm.last_run_id", run_id)
    except MlflowException:  # a registry without prompt tags: the run still names its prompt (synllm.prompt_uri)
        pass


def log_synthetic(synthetic: pd.DataFrame, csv_text: str, rejects: pd.DataFrame, sample_rows: int = 100) -> None:
    """The full table as ``synthetic/synthetic.csv`` (spec formatting), rejects, and a ``log_table`` sample."""
    mlflow = _mlflow()
    log_text(csv_text, "synthetic/synthetic.csv")
    log_dataframe(rejects, "generation/rejects.csv")
    mlflow.log_table(synthetic.head(sample_rows).astype(object).where(synthetic.head(sample_rows).notna(), None),
                     artifact_file="synthetic/sample.json")


def log_figures(figures: dict[str, Any], folder: str = "plots") -> None:
    mlflow = _mlflow()
    import matplotlib.pyplot as plt

    for name, fig in figures.items():
        mlflow.log_figure(fig, f"{folder}/{name}")
        plt.close(fig)


def log_evaluation(result) -> None:
    """Metrics, ``evaluation/report.json``, ``evaluation/report.html`` and the figures under ``plots/``."""
    log_metrics(result.metrics)
    log_text(result.to_json(), "evaluation/report.json")
    log_text(result.to_html(), "evaluation/report.html")
    log_png(result.png_figures())


def log_png(images: dict[str, bytes], folder: str = "plots") -> None:
    """PNG images (already rendered) as artifacts under ``folder``."""
    with tempfile.TemporaryDirectory() as d:
        for name, png in images.items():
            (Path(d) / name).write_bytes(png)
        _mlflow().log_artifacts(d, folder)


def download_run_csv(run_id: str, artifact_path: str = "synthetic/synthetic.csv") -> pd.DataFrame:
    """Fetch a CSV artifact of an earlier run as strings; a run without it is a :class:`ConfigError`."""
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as d:
        try:
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=d)
        except (MlflowException, OSError):
            info = _get_run(run_id).info
            raise ConfigError(f"run {run_id!r} has no {artifact_path} (its status is {info.status}); fix: pass --run-id "
                              "of a finished generate or main run") from None
        return pd.read_csv(local, dtype=str, keep_default_na=False)


def download_run_text(run_id: str, artifact_path: str) -> str | None:
    """A text artifact of an earlier run, or None when the run has no such artifact."""
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as d:
        try:
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=d)
        except (MlflowException, OSError):
            return None
        return Path(local).read_text()


def _get_run(run_id: str):
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    check_reachable()
    try:
        return mlflow.MlflowClient().get_run(run_id)
    except MlflowException as e:
        uri = redact(mlflow.get_tracking_uri())
        if e.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            first = str(e.message).strip().splitlines()[0][:200] if str(e.message).strip() else e.error_code
            raise ConfigError(f"the tracking store {uri} could not return run {run_id!r} ({first}); fix: set "
                              "MLFLOW_TRACKING_URI to an MLflow tracking server or store that holds the run") from None
        raise ConfigError(f"no run {run_id!r} in the tracking store {uri}; fix: pass "
                          "--run-id of a generate or main run there (printed when it ends, listed by `mlflow ui`), or "
                          "set MLFLOW_TRACKING_URI to the store that holds it") from None


def run_params(run_id: str) -> dict[str, str]:
    """The params of an earlier run; an id the tracking store does not know is a :class:`ConfigError`."""
    return dict(_get_run(run_id).data.params)


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
