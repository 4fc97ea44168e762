"""The tuned generator as an MLflow pyfunc model (this module subclasses mlflow's ``PythonModel``).

The model stores the spec YAML, the trial's :class:`RunConfig` (sampling + prompt options + model
reference) and the *rendered* prompt, so serving needs no real data: statistics-only prompts
(featdesc/statguide/clin_rule) carry no real rows. The privacy guard travels as keyed digests
(HMAC-SHA256) of the real rows whose key is kept out of the artifact (see ``_guard``): the served model
rejects copies of real patients while the artifact alone reveals nothing about them. The trial's
logged release (aggregates, no rows) travels with it, so serving calibrates as the trial did.
Rows are drawn by the pipeline's own :func:`~synllm_mlops.pipeline.sample_rows`.

Serving: a call is checked whole before any generation (``_requests``: strict types, ranges, a cap on
its total rows); a bad call is an MLflow ``INVALID_PARAMETER_VALUE`` error, which the scoring server
answers with HTTP 400 and the message alone.

State: what depends on the model alone is built once, in ``load_context``, and reused by every call
(the backend, the rule guide with its verdict caches); what a call's rows depend on is built per call
(its config and seed, the steering's running counts, the parser), so a call's rows depend on its seed
only, never on what else the server is doing. Calls run concurrently (the scoring server gives each a
thread) when the backend declares ``concurrent_safe``; otherwise one call generates at a time per
loaded model (torch's process-wide RNG, one prompt KV cache).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from synllm_mlops.errors import CONTINUE_AFTER, GenerationError, failure_text, is_user_error
from synllm_mlops.serving._guard import GuardKeys, load_key
from synllm_mlops.serving._requests import max_rows_from_env, parse_requests

log = logging.getLogger(__name__)


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
        from synllm_mlops.constraints import RowGuide
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
        if "release" in art:  # the trial's own release: serving never releases again
            from synllm_mlops.release import Release

            self.targets = Release.from_json(Path(art["release"]).read_text()).targets
        self.max_rows = max_rows_from_env()  # read where the model is served; a bad value stops the load
        self.backend = make_backend(self.config.backend, self.config.model, spec=self.spec).load()
        # the rules between columns and the verdict caches the guide keeps for this backend's tokenizer: every call
        # reuses them (sample_rows gives each call its own steering)
        self.guide = RowGuide(self.spec) if self.config.constrained else None
        # a backend whose generate calls may overlap runs calls concurrently; any other, one call at a time
        self._lock = contextlib.nullcontext() if self.backend.concurrent_safe else threading.Lock()

    def _generate(self, n_rows: int, seed: int) -> pd.DataFrame:
        from synllm_mlops.parsing import RowParser
        from synllm_mlops.pipeline import sample_rows

        cfg = self.config.model_copy(update={"n_rows": n_rows, "seed": seed})
        parser = RowParser(self.spec, self.real_keys, self.real_keys or None)  # copies and near copies (keyed)
        s = sample_rows(self.backend, self.prompt, self.spec, cfg, parser,
                        max_new_tokens=self.max_new_tokens, targets=self.targets, guide=self.guide)
        if s.interrupted:
            raise KeyboardInterrupt
        if len(s.rows) < n_rows:
            raise GenerationError(f"only {len(s.rows)} of {n_rows} valid rows after {s.n_completions} completions; "
                                  "ask for fewer rows")
        return s.rows

    # MLflow wants a type hint on predict (else it warns at import); a DataFrame hint is one it infers no schema from.
    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE

        try:
            requests = parse_requests(model_input, self.max_rows)
            frames = []
            with self._lock:  # held only for a backend that is not concurrent_safe
                for r in requests:
                    try:
                        frames.append(self._generate(r["n_rows"], r["seed"]))
                    except CONTINUE_AFTER as e:  # the call fails; a bug is logged with its traceback, the server goes on
                        if not is_user_error(e):
                            log.error("request %s failed:\n%s", r, failure_text(e))
                        raise
        except CONTINUE_AFTER as e:
            # MlflowException: the scoring server answers with its message and the HTTP status of its code;
            # anything else it would answer with the traceback in the body
            if is_user_error(e):
                raise MlflowException(str(e), error_code=INVALID_PARAMETER_VALUE) from None
            raise MlflowException(f"internal error while generating ({type(e).__name__}); the server's log has the "
                                  "traceback: please report it", error_code=INTERNAL_ERROR) from None
        out = pd.concat(frames, ignore_index=True)
        if not self.guarded:  # the caller asked for no guard: every response says so
            out["synllm_guard"] = "off: rows equal to real patients were not rejected"
        return out.astype(object).where(out.notna(), None)  # missing values serialise as JSON null
