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


def mean_metrics(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's mean over the seeds that have it (a trial scored on several seeds).

    Example:
        >>> mean_metrics([{"score/quality": 0.6, "a": 1.0}, {"score/quality": 0.8}])
        {'score/quality': 0.7, 'a': 1.0}
    """
    from synllm_mlops.evaluation import t_interval

    keys = dict.fromkeys(k for m in per_seed for k in m)
    return {k: t_interval([m.get(k, math.nan) for m in per_seed])[0] for k in keys}  # NaNs dropped


class Objective:
    """Suggest -> :meth:`RunConfig.build` -> ``run_generation`` (nested trial run) -> (quality, privacy risk).

    With ``trial_seeds`` k > 1 a trial runs on seeds ``seed`` .. ``seed + k - 1`` (one nested run each: its own
    split, release, table and evaluation) and its objectives, constraints and user metrics are the means over
    the seeds: k times the cost, 1/k the noise variance of one scoring (README, Trial fidelity).

    Constraints (feasible when <= 0) are set on the trial: ``validity`` = min_validity - gen/validity_rate,
    ``rule_adherence`` = min_rule_adherence - clinical/rule_adherence; the same numbers are user attrs.
    """

    def __init__(self, space: SearchSpace, base: RunConfig, backends: BackendCache, *, study_name: str, worker: str,
                 min_validity: float, min_rule_adherence: float, trial_seeds: int = 1):
        self.space, self.base, self.backends, self.worker = space, base, backends, worker
        self.study_name, self.min_validity, self.min_rule_adherence = study_name, min_validity, min_rule_adherence
        self.trial_seeds = trial_seeds
        self.control_cache: dict = {}  # the no-LLM control, scored once per release and settings of the study

    def __call__(self, trial) -> tuple[float, float]:
        from synllm_mlops import tracking as runs
        from synllm_mlops.workflow import run_generation

        trial.set_user_attr("worker", self.worker)  # whose runs to end if this trial goes silent
        cfg = RunConfig.build(**{**self.base.given_params(), **self.space.suggest(trial)})  # defaults stay defaults
        trial.set_user_attr("config", cfg.flat_params())
        seeds = [cfg.seed + j for j in range(self.trial_seeds)]
        trial.set_user_attr("seeds", seeds)
        backend = self.backends.for_config(cfg)
        tags = {"optuna.trial_number": str(trial.number), "optuna.study_name": self.study_name}
        outs = []
        for seed in seeds:  # seed s: its own split, release, table and evaluation; the trial scores their mean
            seed_tags = {**tags, "optuna.trial_seed": str(seed)}
            name = f"trial-{trial.number}-{cfg.strategy}" + (f"-s{seed}" if len(seeds) > 1 else "")
            try:
                outs.append(run_generation(cfg.model_copy(update={"seed": seed}), backend=backend, stage="trial",
                                           nested=True, progress=False, run_name=name, extra_tags=seed_tags,
                                           control_cache=self.control_cache))
            except BaseException as e:  # the run (if one started) is FAILED/KILLED; link it, then Optuna records FAIL
                run_id = runs.find_child_run(seed_tags)  # None when it failed before its run started (a config error)
                if run_id:
                    self._link(trial, run_id)
                if isinstance(e, CONTINUE_AFTER):  # recorded (with the traceback of a bug); Optuna marks the trial FAIL
                    text = failure_text(e)
                    trial.set_user_attr("error", text.splitlines()[0][:2000])
                    if not is_user_error(e):
                        trial.set_user_attr("traceback", text[-8000:])
                raise
        for out in reversed(outs):  # the first seed's run is the trial's run (its champion is registered from it)
            self._link(trial, out.run_id)
        if len(outs) > 1:
            trial.set_user_attr("mlflow_run_ids", [o.run_id for o in outs])
        m = mean_metrics([o.metrics for o in outs])
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
