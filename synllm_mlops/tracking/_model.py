"""The tuned generator as an MLflow pyfunc model, and the run bookkeeping a tuning study needs.

The model stores the spec YAML, the trial's :class:`RunConfig` (sampling + prompt options + model
reference) and the *rendered* prompt, so serving needs no real data: statistics-only prompts
(featdesc/statguide/clin_rule) carry no real rows. The privacy guard travels as salted SHA-256
digests of the real rows (never the rows), so the served model still rejects copies of real patients.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from synllm_mlops.errors import ConfigError, GenerationError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402 - tracking is the one layer that imports mlflow
import mlflow.pyfunc  # noqa: E402

MAX_SERVED_ROWS = 10_000


def _digest(key: tuple[str, ...], salt: str) -> str:
    return hashlib.sha256((salt + "\x1f".join(key)).encode()).hexdigest()


class _DigestKeys:
    """A ``real_keys`` mapping for :class:`RowParser` that holds only salted digests of the real rows."""

    def __init__(self, digests: dict[str, str], salt: str):
        self.digests, self.salt = digests, salt

    def get(self, key: tuple[str, ...], default: str | None = None) -> str | None:
        return self.digests.get(_digest(key, self.salt), default)

    def __len__(self) -> int:
        return len(self.digests)


def _requests(model_input: Any) -> list[dict[str, int]]:
    """``{"n_rows": 5, "seed": 1}``, a list of such dicts, or a DataFrame with those columns -> requests."""
    if isinstance(model_input, pd.DataFrame):
        records = model_input.to_dict(orient="records")
    elif isinstance(model_input, dict):
        records = [model_input] if not isinstance(next(iter(model_input.values()), None), (list, tuple)) \
            else pd.DataFrame(model_input).to_dict(orient="records")
    elif isinstance(model_input, list):
        records = list(model_input)
    else:
        raise ConfigError(f"predict input must be a DataFrame or dict with n_rows (and seed), got {type(model_input).__name__}")
    out = []
    for r in records:
        extra = sorted(set(r) - {"n_rows", "seed"})
        if extra or "n_rows" not in r:
            raise ConfigError(f"each request needs n_rows (and optionally seed) and nothing else, got keys {sorted(r)}")
        n, seed = int(r["n_rows"]), int(0 if r.get("seed") is None or pd.isna(r.get("seed")) else r["seed"])
        if not 1 <= n <= MAX_SERVED_ROWS or seed < 0:
            raise ConfigError(f"n_rows must be in 1..{MAX_SERVED_ROWS} and seed >= 0, got n_rows={n}, seed={seed}")
        out.append({"n_rows": n, "seed": seed})
    return out


warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method")  # input is free-form: n_rows, seed


class SynLLMGenerator(mlflow.pyfunc.PythonModel):
    """A registered synthetic-table generator: ``predict({"n_rows": 50, "seed": 1})`` -> a DataFrame of rows.

    The LLM loads once, in :meth:`load_context`. Rows are sampled with the tuned prompt and sampling
    parameters, grammar-constrained when the config says so, parsed against the spec and checked by
    the privacy guard; ``predict`` raises if the completion budget yields fewer than ``n_rows`` rows.

    Example:
        >>> import mlflow
        >>> gen = mlflow.pyfunc.load_model("models:/synllm-cirrhosis@champion")  # doctest: +SKIP
        >>> gen.predict({"n_rows": 5, "seed": 1})  # doctest: +SKIP
    """

    def load_context(self, context) -> None:
        from synllm_mlops.config import RunConfig
        from synllm_mlops.generation import RowGuide, completion_regex, make_backend
        from synllm_mlops.prompts import Prompt
        from synllm_mlops.spec import load_spec

        art = context.artifacts
        self.spec = load_spec(art["spec"])
        self.config = RunConfig.model_validate_json(Path(art["config"]).read_text())
        p = json.loads(Path(art["prompt"]).read_text())
        self.prompt = Prompt(p["strategy"], p["template"], p["system"], p["user"], p["uses_real_rows"], p["variables"])
        self.max_new_tokens = int(p["max_new_tokens"])
        guard = json.loads(Path(art["guard"]).read_text())
        self.real_keys = _DigestKeys(guard["digests"], guard["salt"])
        self.regex = completion_regex(self.spec, self.config.rows_per_completion) if self.config.constrained else None
        self.guide = RowGuide.for_spec(self.spec) if self.config.constrained else None
        kwargs = {"spec": self.spec} if self.config.backend == "fake" else {}
        self.backend = make_backend(self.config.backend, self.config.model, **kwargs)
        if hasattr(self.backend, "load"):
            self.backend.load()

    def _generate(self, n_rows: int, seed: int) -> pd.DataFrame:
        from synllm_mlops.parsing import RowParser

        cfg = self.config.model_copy(update={"n_rows": n_rows, "seed": seed})
        parser = RowParser(self.spec, self.real_keys)
        rows, n_valid, done, round_ = [], 0, 0, 0
        budget = cfg.completion_budget()
        while n_valid < n_rows and done < budget:
            n = min(budget - done, -(-(n_rows - n_valid) // cfg.rows_per_completion), cfg.batch_size)
            res = self.backend.generate(self.prompt, n, cfg.gen_params(), regex=self.regex, guide=self.guide,
                                        max_new_tokens=self.max_new_tokens, seed=seed * 10_007 + round_)
            round_, done = round_ + 1, done + n
            take = parser.parse([c.text for c in res.completions]).rows.iloc[: n_rows - n_valid]
            rows.append(take)
            n_valid += len(take)
        if n_valid < n_rows:
            raise GenerationError(f"only {n_valid} of {n_rows} valid rows after {done} completions; ask for fewer rows")
        return pd.concat(rows, ignore_index=True)

    def predict(self, context, model_input, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frames = [self._generate(r["n_rows"], r["seed"]) for r in _requests(model_input)]
        out = pd.concat(frames, ignore_index=True)
        return out.astype(object).where(out.notna(), None)  # missing values serialise as JSON null


def log_generator_model(*, config, spec, prompt, max_new_tokens: int, real_keys: set[tuple[str, ...]],
                        registered_model: str, source_run_id: str, prompt_uri: str, allow_real_rows: bool = False,
                        alias: str = "champion") -> tuple[str, str]:
    """Log the generator on the active run, register it and point ``alias`` at the new version.

    Returns:
        ``(model_uri, version)``.

    Raises:
        ConfigError: the prompt shows real rows (``seed_ex``) and ``allow_real_rows`` is false.
    """
    if prompt.uses_real_rows and not allow_real_rows:
        raise ConfigError(f"trial run {source_run_id} uses strategy {prompt.strategy!r}, whose prompt holds real patient "
                          "rows; a registered model would ship them. Choose another champion_trial, or pass "
                          "allow_real_rows=true to register it anyway (tagged synllm.uses_real_rows=true)")
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    salt = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as d:
        files = {
            "spec": (spec.to_yaml(), "spec.yaml"),
            "config": (config.model_dump_json(indent=2), "config.json"),
            "prompt": (json.dumps({"strategy": prompt.strategy, "template": prompt.template, "system": prompt.system,
                                   "user": prompt.user, "uses_real_rows": prompt.uses_real_rows,
                                   "variables": prompt.variables if prompt.uses_real_rows else
                                   {"n_rows": prompt.variables.get("n_rows", "1")},
                                   "max_new_tokens": max_new_tokens, "prompt_uri": prompt_uri}, indent=2), "prompt.json"),
            "guard": (json.dumps({"salt": salt, "digests": {_digest(k, salt): "real" for k in real_keys}}), "guard.json"),
        }
        artifacts = {}
        for key, (text, name) in files.items():
            (Path(d) / name).write_text(text)
            artifacts[key] = str(Path(d) / name)
        signature = ModelSignature(inputs=Schema([ColSpec("long", "n_rows"), ColSpec("long", "seed", required=False)]))
        info = mlflow.pyfunc.log_model(name="generator", python_model=SynLLMGenerator(), artifacts=artifacts,
                                       signature=signature, registered_model_name=registered_model,
                                       pip_requirements=["mlflow", "synllm-mlops"])
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    tags = {"synllm.source_run_id": source_run_id, "synllm.prompt_uri": prompt_uri, "synllm.strategy": config.strategy,
            "synllm.model": config.model, "synllm.uses_real_rows": str(prompt.uses_real_rows).lower()}
    for k, v in tags.items():
        client.set_model_version_tag(registered_model, version, k, v)
    client.set_registered_model_alias(registered_model, alias, version)
    return f"models:/{registered_model}@{alias}", version


# --- run bookkeeping for tuning (only this layer talks to MLflow) ---

def find_child_run(tags: dict[str, str]) -> str | None:
    """Id of the newest child of the active run carrying ``tags`` (e.g. a trial run that ended FAILED)."""
    parent = mlflow.active_run()
    if parent is None:
        return None
    filters = [f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"] + [f"tags.`{k}` = '{v}'" for k, v in tags.items()]
    found = mlflow.MlflowClient().search_runs([parent.info.experiment_id], " and ".join(filters),
                                              order_by=["attributes.start_time DESC"], max_results=1)
    return found[0].info.run_id if found else None


def set_run_tags(run_id: str, tags: dict[str, str]) -> None:
    """Tag a run; a run missing from this store (a study resumed against another tracking store) is skipped."""
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        client.get_run(run_id)
    except MlflowException:
        warnings.warn(f"run {run_id} is not in the tracking store {mlflow.get_tracking_uri()}; not tagging it "
                      "(was the study resumed against another MLflow store?)", stacklevel=2)
        return
    for k, v in tags.items():
        client.set_tag(run_id, k, str(v))


def log_run_params(run_id: str, params: dict[str, Any]) -> None:
    """Log params on a (possibly finished) run, skipping keys it already has."""
    from mlflow.entities import Param

    client = mlflow.MlflowClient()
    existing = client.get_run(run_id).data.params
    fresh = [Param(k, str(v)) for k, v in params.items() if k not in existing]
    if fresh:
        client.log_batch(run_id, params=fresh)


def run_tag(run_id: str, key: str) -> str | None:
    return mlflow.MlflowClient().get_run(run_id).data.tags.get(key)


def end_open_runs(tags: dict[str, str], status: str, reason: str, *, with_parents: bool = False) -> list[str]:
    """End every RUNNING run (any experiment) carrying ``tags``, and its RUNNING children, with ``status``.

    For runs whose process died and cannot end them itself. ``with_parents`` also ends their RUNNING
    parent runs (the dead worker's study run). Returns the ids ended.
    """
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
    if mlflow.active_run() is not None:
        mlflow.end_run(status)


def log_plotly(fig, path: str) -> None:
    """An interactive plotly figure as a self-contained HTML artifact (viewable offline)."""
    mlflow.log_text(fig.to_html(include_plotlyjs=True, full_html=True), path)


def log_matplotlib(fig, path: str) -> None:
    import matplotlib.pyplot as plt

    mlflow.log_figure(fig, path)
    plt.close(fig)
