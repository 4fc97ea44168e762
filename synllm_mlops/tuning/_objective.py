"""One Optuna trial = one tracked generation run with a suggested prompt and sampling configuration."""

from __future__ import annotations

import math
from contextlib import ExitStack
from typing import Callable

from synllm_mlops.config import RunConfig
from synllm_mlops.errors import CONTINUE_AFTER, failure_text, is_user_error
from synllm_mlops.generation import GenerationBackend
from synllm_mlops.tuning._space import SearchSpace

OBJECTIVES = ("score/quality", "privacy/risk")  # privacy/risk = 1 - score/privacy
DIRECTIONS = ("maximize", "minimize")
OBJECTIVE_SCORES = ("score/quality", "score/privacy", "score/harmonic")
USER_METRICS = ("score/quality", "score/privacy", "score/harmonic", "gen/validity_rate", "clinical/rule_adherence",
                "control/score/quality", "control/score/privacy", "lift/score/harmonic")


_CONTROL_KEY = ("stats",)  # not a string: never a model's name


class BackendCache:
    """One backend per model, built on first use and reused by every later trial (the model loads once).

    The cache owns what it built: :meth:`close` (or leaving a ``with`` block) closes every backend, so a
    study over several models gives their memory back when it ends, however it ends. ``control`` builds the
    no-LLM ``stats`` backend for the trials of that arm: a study whose trials are all stats loads no model.
    """

    def __init__(self, factory: Callable[[str], GenerationBackend],
                 control: Callable[[], GenerationBackend] | None = None):
        self.factory, self.control, self.backends = factory, control, {}

    def for_config(self, cfg: RunConfig) -> GenerationBackend:
        """The backend of one run: the control for a stats trial (when the cache has one), else ``cfg.model``'s."""
        if cfg.backend == "stats" and self.control is not None:
            if _CONTROL_KEY not in self.backends:
                self.backends[_CONTROL_KEY] = self.control()
            return self.backends[_CONTROL_KEY]
        return self.get(cfg.model)

    def get(self, model: str) -> GenerationBackend:
        if model not in self.backends:
            self.backends[model] = self.factory(model)
        return self.backends[model]

    def close(self) -> None:
        """Close every backend built so far (all of them, even when one fails to close); the cache is then empty."""
        import gc

        backends, self.backends = list(self.backends.values()), {}
        with ExitStack() as stack:
            for backend in backends:
                stack.callback(backend.close)
        gc.collect()  # a closed model's tensors go now, before the next study or grid loads its own

    def __enter__(self) -> "BackendCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Objective:
    """Suggest -> :meth:`RunConfig.build` -> ``run_generation`` (nested trial run) -> (quality, privacy risk).

    Constraints (feasible when <= 0) are set on the trial: ``validity`` = min_validity - gen/validity_rate,
    ``rule_adherence`` = min_rule_adherence - clinical/rule_adherence; the same numbers are user attrs.
    """

    def __init__(self, space: SearchSpace, base: RunConfig, backends: BackendCache, *, study_name: str, worker: str,
                 min_validity: float, min_rule_adherence: float):
        self.space, self.base, self.backends, self.worker = space, base, backends, worker
        self.study_name, self.min_validity, self.min_rule_adherence = study_name, min_validity, min_rule_adherence
        self.control_cache: dict = {}  # the no-LLM control, scored once per release and settings of the study

    def __call__(self, trial) -> tuple[float, float]:
        from synllm_mlops import tracking as runs
        from synllm_mlops.workflow import run_generation

        trial.set_user_attr("worker", self.worker)  # whose runs to end if this trial goes silent
        cfg = RunConfig.build(**{**self.base.given_params(), **self.space.suggest(trial)})  # defaults stay defaults
        trial.set_user_attr("config", cfg.flat_params())
        backend = self.backends.for_config(cfg)
        tags = {"optuna.trial_number": str(trial.number), "optuna.study_name": self.study_name}
        try:
            out = run_generation(cfg, backend=backend, stage="trial", nested=True, progress=False,
                                 run_name=f"trial-{trial.number}-{cfg.strategy}", extra_tags=tags,
                                 control_cache=self.control_cache)
            run_id = out.run_id
        except BaseException as e:  # the run (if one started) is FAILED/KILLED; link it, then let Optuna record FAIL
            run_id = runs.find_child_run(tags)  # None when it failed before its run started (e.g. a config error)
            if run_id:
                self._link(trial, run_id)
            if isinstance(e, CONTINUE_AFTER):  # recorded (with the traceback of a bug); Optuna marks the trial FAIL
                text = failure_text(e)
                trial.set_user_attr("error", text.splitlines()[0][:2000])
                if not is_user_error(e):
                    trial.set_user_attr("traceback", text[-8000:])
            raise
        self._link(trial, run_id)
        m = out.metrics
        if cfg.backend == "stats":  # the control arm is its own control: lift 0 by definition, not a missing value
            m = {**m, **{f"control/{k}": m[k] for k in OBJECTIVE_SCORES if k in m},
                 **{f"lift/{k}": 0.0 for k in OBJECTIVE_SCORES if k in m}}
        trial.set_user_attr("backend", cfg.backend)
        for k in USER_METRICS:
            trial.set_user_attr(k, float(m.get(k, math.nan)))
        adherence = m.get("clinical/rule_adherence", math.nan)
        trial.set_constraint("validity", self.min_validity - m["gen/validity_rate"])
        trial.set_constraint("rule_adherence", 0.0 if math.isnan(adherence) else self.min_rule_adherence - adherence)
        return m["score/quality"], 1.0 - m["score/privacy"]

    @staticmethod
    def _link(trial, run_id: str) -> None:
        from synllm_mlops import tracking as runs

        trial.set_user_attr("mlflow_run_id", run_id)
        runs.log_run_params(run_id, {f"optuna.{k}": v for k, v in trial.params.items()})
