"""The tuning study: storage, sampler, one parent MLflow run, trials, summaries, the registered champion."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synllm_mlops import tracking
from synllm_mlops.config import RunConfig, Seed, config_error
from synllm_mlops.errors import CONTINUE_AFTER, ConfigError, redact, show
from synllm_mlops.generation import GenerationBackend, make_backend
from synllm_mlops.calibration import CALIBRATION_SPACE
from synllm_mlops.prompts import PROMPT_SPACE
from synllm_mlops.tuning._faults import worker_id
from synllm_mlops.tuning._objective import DIRECTIONS, BackendCache, Objective
from synllm_mlops.tuning._report import hypervolume_2d, importances, pareto_figures, trials_table
from synllm_mlops.tuning._space import SearchSpace
from synllm_mlops.tuning._storage import DEFAULT_STORAGE, check_storage, open_storage, refuse_logged_secret

SAMPLERS = ("tpe", "nsga2", "random")


def _csv(v):
    return tuple(s.strip() for s in v.split(",") if s.strip()) if isinstance(v, str) else tuple(v)


TRIAL_ROWS = 200
"""Rows per trial (the study's fidelity): the smallest size at which a 12-trial study ranked its trials the same way on
two seeds (Spearman of ``score/harmonic`` >= 0.7, ``scripts/bench_tuning_ranks.py``, README "Trial fidelity"); at 20
rows the ranking was noise. Fixed rather than successive halving: Optuna's pruners cannot prune a multi-objective
study (``Trial.report`` raises), and more rows barely shrink the noise that a study of alike trials cannot beat."""
_RUN_DEFAULTS = {"n_rows": TRIAL_ROWS, "batch_size": 8}


class TuneConfig(BaseModel):
    """Everything a tuning study needs; a misspelt key is an error.

    ``run`` is the base :class:`RunConfig` of every trial (the search space overrides its searched
    fields); its fields may also be given flat, ``TuneConfig(dataset="diabetes", n_rows=40)``.

    Example:
        >>> TuneConfig(dataset="cirrhosis", n_trials=8, sampler="nsga2").study_name
        'synllm-cirrhosis'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: RunConfig = Field(default_factory=lambda: RunConfig(**_RUN_DEFAULTS))
    models: tuple[str, ...] = Field(default=(), description="comma-separated models to search over (default: just --model)")
    n_trials: int = Field(default=20, ge=0, description="trials this process runs (0 = only summarise/register)")
    timeout_s: float = Field(default=0, ge=0, description="stop starting trials after N s (0 = none)",
                             json_schema_extra={"flag": "timeout"})
    storage: str = Field(default=DEFAULT_STORAGE, description="optuna.sqlite3 (default) | path.journal | postgresql://user@host:port/db")
    study_name: str = Field(default="", description="default synllm-<dataset>; same name = resume")
    sampler: str = Field(default="tpe", description=" | ".join(SAMPLERS))
    sampler_seed: Seed | None = Field(default=None, description="default: seed; give each worker its own")
    strategies: tuple[str, ...] = Field(default=PROMPT_SPACE["strategy"].choices, description="strategies to search")
    calibrations: tuple[str, ...] = Field(default=CALIBRATION_SPACE["calibration"].choices,
                                          description="calibration modes to search (one = fixed)")
    release_levels: tuple[str, ...] = Field(default=PROMPT_SPACE["release_level"].choices,
                                            description="release levels to search (one = fixed; none only with "
                                            "calibration none)")
    backends: tuple[str, ...] = Field(default=(), description="backends to search, e.g. hf,stats: the no-LLM control as "
                                      "an arm (default: just the run's backend)")
    tune_dp: bool = Field(default=False, description="also search dp_epsilon")
    trial_seeds: int = Field(default=1, ge=1, le=10, description="seeds each trial is scored on (the mean): k times "
                             "the cost, 1/k the noise variance of a trial's score")
    min_validity: float = Field(default=0.9, ge=0, le=1, description="feasible trials reach this validity")
    min_rule_adherence: float = Field(default=0.8, ge=0, le=1, description="feasible trials reach this rule adherence")
    register_champion: bool = Field(default=True, description="register the champion generator",
                                    json_schema_extra={"flag": "register"})
    registered_model: str = Field(default="", description="default synllm-<dataset>")
    champion_trial: int | None = Field(default=None, ge=0, description="trial to register (empty = best feasible Pareto)")
    allow_real_rows: bool = Field(default=False, description="allow registering a seed_ex trial (its prompt holds real rows)")
    n_startup_trials: int = Field(default=5, ge=0, description="TPE: random trials before the model kicks in")

    @model_validator(mode="before")
    @classmethod
    def _run_fields(cls, data):
        """Flat run fields (``dataset=``, ``n_rows=``) go into ``run``, on top of the tuning defaults."""
        if not isinstance(data, dict):
            return data
        flat = set(RunConfig.flat_fields()) | set(RunConfig.model_fields)
        given = {k: v for k, v in data.items() if k in flat}
        if not given:
            return data
        run = data.get("run", _RUN_DEFAULTS)
        run = run.given_params() if isinstance(run, RunConfig) else dict(run)
        return {**{k: v for k, v in data.items() if k not in given}, "run": {**run, **given}}

    @field_validator("models", mode="before")
    @classmethod
    def _lists(cls, v):
        return _csv(v)

    @field_validator("backends", mode="before")
    @classmethod
    def _backends(cls, v):
        from synllm_mlops.generation import BACKENDS

        items = _csv(v)
        bad = [b for b in items if b not in BACKENDS]
        if bad:
            raise ValueError(f"unknown backends {bad}; choose from: {', '.join(BACKENDS)}")
        return tuple(dict.fromkeys(items))

    @field_validator("strategies", "calibrations", "release_levels", mode="before")
    @classmethod
    def _known(cls, v, info):
        known = {"strategies": PROMPT_SPACE["strategy"], "calibrations": CALIBRATION_SPACE["calibration"],
                 "release_levels": PROMPT_SPACE["release_level"]}[info.field_name].choices
        items = _csv(v)
        bad = [s for s in items if s not in known]
        if bad:
            raise ValueError(f"unknown {info.field_name} {bad}; choose from: {', '.join(known)}")
        if not items:
            raise ValueError(f"{info.field_name} names none (got {show(v)}); choose one or more from: {', '.join(known)}, "
                             "comma-separated, or leave it out to search them all")
        return items

    @field_validator("storage")
    @classmethod
    def _storage(cls, v: str) -> str:
        check_storage(v)
        return v

    @field_validator("sampler")
    @classmethod
    def _sampler(cls, v: str) -> str:
        if v not in SAMPLERS:
            raise ValueError(f"unknown sampler {v!r}; choose one of: {', '.join(SAMPLERS)}")
        return v

    def model_post_init(self, _ctx) -> None:
        object.__setattr__(self, "study_name", self.study_name or f"synllm-{Path(self.run.dataset).stem}")
        object.__setattr__(self, "models", self.models or (self.run.model,))
        object.__setattr__(self, "backends", self.backends or (self.run.backend,))
        other = [b for b in self.backends if b not in ("stats", self.run.backend)]
        if other:
            raise ConfigError(f"backends {list(self.backends)} names {other}, but the run's backend is "
                              f"{self.run.backend!r}; a study searches the run's backend and the stats control; fix: "
                              f"list {self.run.backend} (and stats), or set the run's backend to {other[0]}")

    @property
    def searched_levels(self) -> tuple[str, ...]:
        """``release_levels`` less ``none`` for a study of the stats control (it samples the release: none has nothing)."""
        return tuple(lv for lv in self.release_levels if lv != "none" or self.backends != ("stats",))

    @classmethod
    def tune_fields(cls) -> dict:
        """The study's own fields (not the base run's), for the CLI."""
        return {k: f for k, f in cls.model_fields.items() if k != "run"}

    @classmethod
    def build(cls, **kwargs) -> "TuneConfig":
        """Validate keyword arguments (``None`` = default) into one clear :class:`ConfigError`."""
        try:
            return cls(**{k: v for k, v in kwargs.items() if v is not None})
        except ValidationError as e:
            raise config_error("tune configuration", e, {**RunConfig.flat_fields(), **cls.tune_fields()}) from None


def resume_seed(sampler_seed: int, n_existing_trials: int) -> int:
    """The sampler's seed for a process joining a study that already holds ``n_existing_trials`` trials.

    A resumed study re-seeded with the bare ``sampler_seed`` would draw its earlier trials again;
    mixing in the trial count gives every (re)start its own stream, still reproducible from the two numbers.
    """
    import numpy as np

    return int(np.random.SeedSequence([sampler_seed, n_existing_trials]).generate_state(1)[0])


def make_sampler(name: str, seed: int, n_startup_trials: int = 5):
    """The sampler, seeded (constraints come from ``trial.set_constraint``, which all three respect)."""
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)
    return optuna.samplers.RandomSampler(seed=seed)


@dataclass
class TuneResult:
    """What a study produced: the parent run, the study, the trials table and the champion (if registered)."""

    run_id: str
    study: object
    table: object
    hypervolume: float
    champion_trial: int | None = None
    model_uri: str | None = None
    model_version: str | None = None


def _backend_factory(cfg: TuneConfig, spec) -> Callable[[str], GenerationBackend]:
    def build(model: str) -> GenerationBackend:
        return make_backend(cfg.run.backend, model, spec=spec).load()
    return build


def tune(cfg: TuneConfig, *, backend_factory: Callable[[str], GenerationBackend] | None = None,
         progress: bool = True) -> TuneResult:
    """Run (or resume) a multi-objective study: maximise ``score/quality``, minimise ``1 - score/privacy``.

    Each trial is a nested MLflow run; the model of each ``models`` entry loads once and serves every trial.

    Example:
        >>> from synllm_mlops.tuning import TuneConfig, tune
        >>> res = tune(TuneConfig(n_trials=4, n_rows=20))  # doctest: +SKIP
        >>> res.model_uri  # doctest: +SKIP
        'models:/synllm-cirrhosis@champion'
    """
    import optuna
    from tqdm.auto import tqdm

    from synllm_mlops import tracking as runs

    from synllm_mlops.pipeline import load_inputs

    refuse_logged_secret(cfg.storage)
    spec = load_inputs(cfg.run)[0]  # spec/data errors before any model loads; nothing is released here
    space = SearchSpace(strategies=cfg.strategies, models=cfg.models, n_rules=len(spec.rules),
                        opt_in=("dp_epsilon",) if cfg.tune_dp else (), calibrations=cfg.calibrations,
                        release_levels=cfg.searched_levels, backends=cfg.backends)
    sampler_seed = cfg.run.seed if cfg.sampler_seed is None else cfg.sampler_seed
    if cfg.n_trials == 0:
        refuse_empty_summary(cfg)
    if backend_factory is None:  # an unknown or absent model fails now, not once per trial
        for model in cfg.models:
            make_backend(cfg.run.backend, model, spec=spec)
    tracking.check_reachable()  # before the study is created and any model loads
    study = _open_study(cfg)
    # a resumed study must not replay its earlier trials: seed from (sampler_seed, trials so far)
    derived_seed = resume_seed(sampler_seed, len(study.get_trials(deepcopy=False)))
    study.sampler = make_sampler(cfg.sampler, derived_seed, cfg.n_startup_trials)
    # a stats trial samples the release: its backend is built here, whatever the factory (no model loads for it)
    backends = BackendCache(backend_factory or _backend_factory(cfg, spec),
                            control=lambda: make_backend("stats", "stats", spec=spec).load())
    worker = worker_id()  # this process, in its study run's tags and each trial's user attrs
    objective = Objective(space, cfg.run, backends, study_name=cfg.study_name, worker=worker,
                          min_validity=cfg.min_validity, min_rule_adherence=cfg.min_rule_adherence,
                          trial_seeds=cfg.trial_seeds)
    # the cache closes every model it loaded when the study ends, registered champion included, or fails
    with backends, tracking.tracked_run("tune", run_name=f"tune-{cfg.study_name}", system_metrics=True) as parent:
        run = cfg.run
        tracking.log_params({"dataset": run.dataset, "data": run.data, "model": run.model, "models": ",".join(cfg.models),
                             "backend": run.backend, "backends": ",".join(cfg.backends), "n_trials": cfg.n_trials, "sampler": cfg.sampler, "seed": run.seed,
                             "sampler_seed": sampler_seed, "storage": redact(cfg.storage or DEFAULT_STORAGE),
                             "study_name": cfg.study_name, "strategies": ",".join(cfg.strategies),
                             "calibrations": ",".join(cfg.calibrations), "n_rows": run.n_rows,
                             "release_levels": ",".join(cfg.searched_levels),
                             "tune_dp": cfg.tune_dp, "min_validity": cfg.min_validity,
                             "min_rule_adherence": cfg.min_rule_adherence, "optuna_version": optuna.__version__})
        tracking.set_tags({"optuna.study_name": cfg.study_name, "optuna.sampler_seed_derived": str(derived_seed),
                           "synllm.worker": worker})
        bar = tqdm(total=cfg.n_trials, desc=f"tune {cfg.study_name}", unit="trial", disable=not progress or not cfg.n_trials)

        def on_trial(study, trial) -> None:
            bar.update(1)
            h = trial.user_attrs.get("score/harmonic")
            bar.set_postfix(last=trial.state.name, harmonic=f"{h:.3f}" if h is not None else "-")

        try:
            if cfg.n_trials:
                study.optimize(objective, n_trials=cfg.n_trials, timeout=cfg.timeout_s or None,
                               catch=CONTINUE_AFTER, callbacks=[on_trial])
        except KeyboardInterrupt:  # finished trials are already in storage; the parent says KILLED
            tracking.set_tags({"synllm.incomplete": "interrupted by the user"})
            runs.end_active_run("KILLED")
            raise
        finally:
            bar.close()
        table, hv = _summarise(study, cfg)
        result = TuneResult(parent.info.run_id, study, table, hv)
        if cfg.register_champion:
            _register_champion(study, cfg, backends, result)
        return result


def _existing_trials(cfg: TuneConfig) -> int | None:
    """Trials of the named study, or None when there is no such study (a missing file is not created)."""
    import optuna

    storage = cfg.storage or DEFAULT_STORAGE
    if "://" not in storage and not Path(storage).expanduser().is_file():
        return None
    try:
        return len(optuna.load_study(study_name=cfg.study_name, storage=open_storage(storage)).get_trials(deepcopy=False))
    except KeyError:  # optuna: no study of that name
        return None


def refuse_empty_summary(cfg: TuneConfig) -> None:
    """``n_trials=0`` reports an existing study; on a study without trials there is nothing to report."""
    n = _existing_trials(cfg)
    if not n:
        raise ConfigError(f"n_trials=0 only summarises an existing study, but study {cfg.study_name!r} in "
                          f"{redact(cfg.storage or DEFAULT_STORAGE)!r} {'has no trials' if n == 0 else 'does not exist'}; "
                          "fix: pass --n-trials 1 or more, or the --study-name and --storage of a study with trials")


def _open_study(cfg: TuneConfig):
    """Create or resume the study; a storage that cannot be opened is a :class:`ConfigError` with the fix."""
    import optuna

    try:
        return optuna.create_study(storage=open_storage(cfg.storage), study_name=cfg.study_name,
                                   directions=list(DIRECTIONS), load_if_exists=True)
    except ValueError as e:  # e.g. an existing study of that name with other directions
        raise ConfigError(f"cannot use study {cfg.study_name!r} in {redact(cfg.storage)!r}: {e}; fix: pass another "
                          "--study-name") from None
    except (ImportError, OSError, RuntimeError) as e:
        raise _storage_error(cfg, e) from None
    except Exception as e:  # sqlalchemy's errors (bad URL, server down, driver missing) without importing it here
        if type(e).__module__.startswith("sqlalchemy"):
            raise _storage_error(cfg, e) from None
        raise


def _storage_error(cfg: TuneConfig, e: BaseException) -> ConfigError:
    cause = e.__cause__ or e
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
    return ConfigError(f"cannot open the study storage {redact(cfg.storage)!r}: {redact(first)}; fix: check the URL, that "
                       "the database server is running and its driver installed (PostgreSQL: pip install psycopg2-binary and "
                       "use postgresql+psycopg2://...), "
                       "or pass --storage a local file such as optuna.sqlite3")


def _summarise(study, cfg: TuneConfig):
    from synllm_mlops import tracking as runs

    table = trials_table(study)
    tracking.log_dataframe(table, "tuning/trials.csv")
    front = table[table["pareto"] & (table["state"] == "COMPLETE")]
    for _, row in table[(table["state"] == "COMPLETE") & (table["mlflow_run_id"] != "")].iterrows():
        runs.set_run_tags(row["mlflow_run_id"], {"synllm.pareto": str(bool(row["pareto"])).lower()})
    hv = hypervolume_2d(list(zip(front["quality"], front["privacy_risk"])))
    done = table["state"] == "COMPLETE"
    tracking.log_metrics({"tune/hypervolume": hv, "tune/n_trials": len(table), "tune/n_complete": int(done.sum()),
                          "tune/n_fail": int((table["state"] == "FAIL").sum()), "tune/n_pareto": len(front),
                          "tune/best_harmonic": float(front["harmonic"].max()) if len(front) else math.nan})
    if done.any():
        pfig, mfig = pareto_figures(table, f"{cfg.study_name}: Pareto front ({int(done.sum())} complete trials)")
        runs.log_plotly(pfig, "plots/pareto_front.html")
        runs.log_matplotlib(mfig, "plots/pareto_front.png")
    imp = importances(study)
    if imp is not None:
        tracking.log_dict(imp, "tuning/param_importances.json")
    return table, hv


def choose_champion(study, cfg: TuneConfig):
    """The user's ``champion_trial``, else the best ``score/harmonic`` among feasible Pareto trials (None if none).

    Without ``allow_real_rows``, trials whose prompt shows real rows (seed_ex) are not candidates.
    """
    from optuna.trial import TrialState

    if cfg.champion_trial is not None:
        trials = [t for t in study.get_trials(deepcopy=False) if t.number == cfg.champion_trial]
        if not trials or trials[0].state != TrialState.COMPLETE:
            raise ConfigError(f"champion_trial must be a COMPLETE trial of study {cfg.study_name!r}, got "
                              f"{cfg.champion_trial} ({trials[0].state.name if trials else 'no such trial'})")
        return trials[0]
    candidates = [t for t in study.best_trials
                  if cfg.allow_real_rows or t.user_attrs.get("config", {}).get("strategy") != "seed_ex"]
    return max(candidates, key=lambda t: t.user_attrs.get("score/harmonic", -1.0), default=None)


def guard_size(release, run_config) -> int | None:
    """How many rows a DP champion's guard claims to hold: read off the release's noisy patient count.

    The noisy count describes train; the guard holds train and holdout. Twice the estimate of the whole
    table plus 100 makes "more real rows than the padded size" (the one case in which the size is exact)
    vanishingly rare at the budgets we run. ``None`` (no padding) for an exact run or a release without
    calibration targets.
    """
    if not release.private or release.targets is None:
        return None
    return int(2 * max(release.targets.n, 0.0) / (1 - run_config.holdout_fraction)) + 100


def _register_champion(study, cfg: TuneConfig, backends: BackendCache, result: TuneResult) -> None:
    from synllm_mlops.config import RunConfig
    from synllm_mlops.pipeline import load_inputs, max_new_tokens
    from synllm_mlops.parsing import table_keys
    from synllm_mlops.prompts import get_strategy
    from synllm_mlops.release import ARTIFACT, Release
    from synllm_mlops import tracking as runs
    from synllm_mlops.serving import log_generator_model

    trial = choose_champion(study, cfg)
    if trial is None:
        tracking.set_tags({"synllm.champion": "none: no feasible Pareto trial without real rows in its prompt"})
        return
    run_config = RunConfig.build(**trial.user_attrs["config"])
    run_id = trial.user_attrs["mlflow_run_id"]
    spec, _, split = load_inputs(run_config)  # the guard's keys need the real rows; nothing is released again
    # the release the trial itself made and was scored with, and its prompt rendered from it again
    release_json = runs.download_run_text(run_id, ARTIFACT)
    release = Release.from_json(release_json)
    prompt = get_strategy(run_config.strategy).render(spec, release, run_config.prompt, seed=run_config.seed,
                                                      train=split.train)
    keys = table_keys(split.train, spec) | table_keys(split.holdout, spec)
    name = cfg.registered_model or f"synllm-{spec.name}"
    uri, version = log_generator_model(
        config=run_config, spec=spec, prompt=prompt,
        max_new_tokens=max_new_tokens(backends.for_config(run_config), run_config, spec),
        real_keys=keys, registered_model=name, source_run_id=run_id, prompt_uri=runs.run_tag(run_id, "synllm.prompt_uri") or "",
        allow_real_rows=cfg.allow_real_rows, release_json=release_json, guard_pad_to=guard_size(release, run_config))
    runs.set_run_tags(run_id, {"synllm.champion": "true", "synllm.registered_model": f"{name}/{version}"})
    tracking.set_tags({"synllm.champion_trial": str(trial.number), "synllm.champion_run_id": run_id,
                       "synllm.registered_model": f"{name}/{version}"})
    if prompt.uses_real_rows:
        tracking.set_tags({"synllm.uses_real_rows": "true"})
    result.champion_trial, result.model_uri, result.model_version = trial.number, uri, version
