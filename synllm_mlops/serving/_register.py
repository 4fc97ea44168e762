"""Registering a servable generator: the tuned run's spec, config, rendered prompt, guard and release as a pyfunc model.

mlflow is imported when the function runs, never at import.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

from synllm_mlops.errors import ConfigError
from synllm_mlops.serving._guard import KEY_ENV, KEY_FILE_ENV, new_guard
from synllm_mlops.serving._wheel import model_requirements, own_wheel


def log_generator_model(*, config, spec, prompt, max_new_tokens: int, real_keys: set[tuple[str, ...]],
                        registered_model: str, source_run_id: str, prompt_uri: str, allow_real_rows: bool = False,
                        alias: str = "champion", release_json: str | None = None,
                        guard_pad_to: int | None = None) -> tuple[str, str]:
    """Log the generator on the active run, register it and point ``alias`` at the new version.

    The copy guard ships as keyed digests of ``real_keys``; the key is saved outside the model (see
    ``_guard``). ``release_json``, the trial's logged release (aggregates and ledger, no rows), lets
    the served model steer and select like the trial did; nothing is released again. ``guard_pad_to`` pads
    the guard's digest lists with decoys (a DP trial: see :func:`~synllm_mlops.serving.new_guard`).

    Returns:
        ``(model_uri, version)``.

    Raises:
        ConfigError: the prompt shows real rows (``seed_ex``) and ``allow_real_rows`` is false.
    """
    if prompt.uses_real_rows and not allow_real_rows:
        raise ConfigError(f"trial run {source_run_id} uses strategy {prompt.strategy!r}, whose prompt holds real patient "
                          "rows; a registered model would ship them. Choose another champion_trial, or pass "
                          "allow_real_rows=true to register it anyway (tagged synllm.uses_real_rows=true)")
    import mlflow
    import mlflow.pyfunc

    with tempfile.TemporaryDirectory() as d:
        wheel = own_wheel(Path(d) / "wheel")  # before anything is logged: a failure here leaves no half-registered model
        guard, key_path = new_guard(real_keys, pad_to=guard_pad_to)
        files = {
            "spec": (spec.to_yaml(), "spec.yaml"),
            "config": (config.model_dump_json(indent=2), "config.json"),
            "prompt": (json.dumps({"strategy": prompt.strategy, "template": prompt.template, "system": prompt.system,
                                   "user": prompt.user, "uses_real_rows": prompt.uses_real_rows,
                                   "variables": prompt.variables if prompt.uses_real_rows else
                                   {"n_rows": prompt.variables.get("n_rows", "1")},
                                   "max_new_tokens": max_new_tokens, "prompt_uri": prompt_uri}, indent=2), "prompt.json"),
            "guard": (json.dumps(guard), "guard.json"),
        }
        if release_json is not None:
            files["release"] = (release_json, "release.json")
        artifacts = {}
        for key, (text, name) in files.items():
            (Path(d) / name).write_text(text)
            artifacts[key] = str(Path(d) / name)
        artifacts["wheel"] = str(wheel)  # lands at artifacts/<wheel name>; requirements.txt names it by that path
        with warnings.catch_warnings():  # the input is free-form ({n_rows, seed}): no type hints to add
            warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method")
            from synllm_mlops.serving._served import SynLLMGenerator

            # no input signature: a typed one made MLflow cast 2.9 to 2 and drop unknown keys before the
            # model saw them; the model checks its input itself, strictly (see _requests)
            info = mlflow.pyfunc.log_model(name="generator", python_model=SynLLMGenerator(), artifacts=artifacts,
                                           registered_model_name=registered_model,
                                           pip_requirements=model_requirements(f"artifacts/{wheel.name}", config.model))
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    tags = {"synllm.source_run_id": source_run_id, "synllm.prompt_uri": prompt_uri, "synllm.strategy": config.strategy,
            "synllm.model": config.model, "synllm.uses_real_rows": str(prompt.uses_real_rows).lower(),
            "synllm.guard_key_id": guard["key_id"]}
    for k, v in tags.items():
        client.set_model_version_tag(registered_model, version, k, v)
    client.set_registered_model_alias(registered_model, alias, version)
    warnings.warn(f"the copy guard key of {registered_model} v{version} is in {key_path} (not in the model): keep it; "
                  f"serving elsewhere needs it as {KEY_FILE_ENV} or {KEY_ENV}", stacklevel=2)
    return f"models:/{registered_model}@{alias}", version
