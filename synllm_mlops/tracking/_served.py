"""The tuned generator as an MLflow pyfunc model (this module subclasses mlflow's ``PythonModel``).

The model stores the spec YAML, the trial's :class:`RunConfig` (sampling + prompt options + model
reference) and the *rendered* prompt, so serving needs no real data: statistics-only prompts
(featdesc/statguide/clin_rule) carry no real rows. The privacy guard travels as keyed digests
(HMAC-SHA256) of the real rows whose key is kept out of the artifact (see ``_guard``): the served model
rejects copies of real patients while the artifact alone reveals nothing about them. The trial's
released calibration targets travel with it, so serving calibrates as the trial did.
Rows are drawn by the pipeline's own :func:`~synllm_mlops.pipeline.sample_rows`; the loaded backend
keeps no per-call state, so one model may serve several threads.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from synllm_mlops.errors import CONTINUE_AFTER, ConfigError, GenerationError, failure_text, is_user_error
from synllm_mlops.tracking._guard import GuardKeys, load_key

MAX_SERVED_ROWS = 10_000
log = logging.getLogger(__name__)


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
        from synllm_mlops.generation import make_backend
        from synllm_mlops.prompts import Prompt
        from synllm_mlops.spec import load_spec

        art = context.artifacts
        self.spec = load_spec(art["spec"])
        self.config = RunConfig.model_validate_json(Path(art["config"]).read_text())
        p = json.loads(Path(art["prompt"]).read_text())
        self.prompt = Prompt(p["strategy"], p["template"], p["system"], p["user"], p["uses_real_rows"], p["variables"])
        self.max_new_tokens = int(p["max_new_tokens"])
        guard = json.loads(Path(art["guard"]).read_text())
        key = load_key(guard)  # raises with the fix when the key is missing, unless unguarded serving is allowed
        self.guarded = key is not None
        self.real_keys = GuardKeys(guard, key) if key is not None else {}
        self.targets = None
        if "targets" in art:
            from synllm_mlops.calibration import CalibrationTargets

            self.targets = CalibrationTargets.from_json(Path(art["targets"]).read_text())
        self.backend = make_backend(self.config.backend, self.config.model, spec=self.spec).load()

    def _generate(self, n_rows: int, seed: int) -> pd.DataFrame:
        from synllm_mlops.parsing import RowParser
        from synllm_mlops.pipeline import sample_rows

        cfg = self.config.model_copy(update={"n_rows": n_rows, "seed": seed})
        s = sample_rows(self.backend, self.prompt, self.spec, cfg, RowParser(self.spec, self.real_keys),
                        max_new_tokens=self.max_new_tokens, targets=self.targets)
        if s.interrupted:
            raise KeyboardInterrupt
        if len(s.rows) < n_rows:
            raise GenerationError(f"only {len(s.rows)} of {n_rows} valid rows after {s.n_completions} completions; "
                                  "ask for fewer rows")
        return s.rows

    # pyfunc hands predict a DataFrame (the logged signature turns a dict or a JSON request into one). MLflow
    # wants a type hint here, and a DataFrame hint is one it infers no schema from: no warning, no second validation.
    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frames = []
        for r in _requests(model_input):
            try:
                frames.append(self._generate(r["n_rows"], r["seed"]))
            except CONTINUE_AFTER as e:  # the request fails; a bug is recorded with its traceback, the server goes on
                if not is_user_error(e):
                    log.error("request %s failed:\n%s", r, failure_text(e))
                raise
        out = pd.concat(frames, ignore_index=True)
        if not self.guarded:  # the caller asked for no guard: every response says so
            out["synllm_guard"] = "off: rows equal to real patients were not rejected"
        return out.astype(object).where(out.notna(), None)  # missing values serialise as JSON null
