"""The one place where the declared search spaces (prompts, generation, calibration) become Optuna suggestions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from synllm_mlops.calibration import CALIBRATION_SPACE
from synllm_mlops.errors import ConfigError
from synllm_mlops.generation import GENERATION_SPACE
from synllm_mlops.prompts import PROMPT_SPACE
from synllm_mlops.searchspace import ActiveIf, AllOf, AnyOf, CategoricalDim, Dimension, FloatDim, IntDim, SubsetDim

DECLARED: dict[str, Dimension] = {**PROMPT_SPACE, **GENERATION_SPACE, **CALIBRATION_SPACE}
"""Every declared dimension, in suggestion order (a condition refers to an earlier dimension)."""

CONTROL = "stats"
"""The no-LLM control backend: an arm of a study that lists it in ``backends``."""
MODEL_ONLY = ("model", "strategy", "rows_per_completion", "temperature", "top_p", "top_k", "repetition_penalty")
"""What only a language model reads (the prompt's own dimensions follow ``strategy``): no dimension of a stats trial."""
STEER_MODES = tuple(m for m in CALIBRATION_SPACE["calibration"].choices if "steer" in m)
"""The calibration modes the stats control can run under: it samples the release through steering."""


@dataclass(frozen=True)
class SearchSpace:
    """Prompt + sampling dimensions for one study: the declared space, restricted and bounded by the study.

    Args:
        strategies: the strategies to search (a subset of the declared ones); one means the strategy is fixed.
        models: models to search; one model means the model is fixed (not a dimension).
        n_rules: rules in the dataset's spec (the ``n_rules`` bound of ``max_rules``).
        opt_in: optional dimensions to search too (e.g. ``("dp_epsilon",)`` for ``tune --tune-dp``).
        calibrations: the calibration modes to search; one means the mode is fixed.
        release_levels: the release levels to search; one means the level is fixed. ``none`` releases nothing to
            calibrate on: it is searched only when ``calibrations`` holds ``none`` (its trials are uncalibrated).
        backends: the backends to search; empty (the default) leaves the run's backend alone. With ``stats`` in it,
            ``backend`` is a dimension (after the release level and the calibration mode: the control exists only
            where it has steered targets to sample) and a stats trial has no model, prompt or sampling dimension;
            ``stats`` alone is a study of the control (its release, steering and DP dimensions only).

    Example:
        >>> import optuna
        >>> space = SearchSpace(strategies=("featdesc",), calibrations=("none",))
        >>> trial = optuna.trial.FixedTrial({"release_level": "target", "rows_per_completion": 4, "temperature": 0.7,
        ...                                  "top_p": 0.9, "top_k": 50, "repetition_penalty": 1.0})
        >>> point = space.suggest(trial)  # one strategy and one mode: fixed; n_examples: not a featdesc dimension
        >>> point["strategy"], point["calibration"], "n_examples" in point
        ('featdesc', 'none', False)
    """

    strategies: tuple[str, ...] = PROMPT_SPACE["strategy"].choices
    models: tuple[str, ...] = ()
    n_rules: int = 0
    opt_in: tuple[str, ...] = ()
    calibrations: tuple[str, ...] = CALIBRATION_SPACE["calibration"].choices
    release_levels: tuple[str, ...] = PROMPT_SPACE["release_level"].choices
    backends: tuple[str, ...] = ()
    dims: dict[str, Dimension] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        optional = [n for n, d in DECLARED.items() if d.optional]
        bad = [n for n in self.opt_in if n not in optional]
        if bad:
            raise ConfigError(f"unknown optional dimensions {bad}; choose from: {', '.join(optional)}")
        arms = tuple(b for b in self.backends if b != CONTROL)  # the language-model backends
        control_only = CONTROL in self.backends and not arms
        calibrations = tuple(m for m in self.calibrations if m in STEER_MODES or not control_only)
        if CONTROL in self.backends and not set(calibrations) & set(STEER_MODES):
            raise ConfigError(f"the stats control samples the release through steering, but calibrations "
                              f"{list(self.calibrations)} holds no steering mode; fix: search one of "
                              f"{', '.join(STEER_MODES)}, or leave stats out of backends")
        if len(arms) > 1:
            raise ConfigError(f"backends {list(self.backends)} names {len(arms)} language-model backends; a study "
                              "searches one (with or without the stats control); fix: run one study per backend")
        keep_none = "none" in calibrations and not control_only  # none: no targets, so a model trial, uncalibrated
        levels = tuple(lv for lv in self.release_levels if lv != "none" or keep_none)
        if self.release_levels and not levels:
            raise ConfigError(f"release level none releases nothing to calibrate on, and calibrations "
                              f"{list(self.calibrations)} does not hold none; fix: add none to calibrations, or "
                              "search other release levels")
        restricted = {"strategy": DECLARED["strategy"].restrict(tuple(self.strategies), "strategies"),
                      "calibration": DECLARED["calibration"].restrict(calibrations, "calibrations"),
                      "release_level": DECLARED["release_level"].restrict(levels, "release_levels")}
        dims: dict[str, Dimension] = {"model": CategoricalDim(tuple(self.models))} if self.models else {}
        for name, d in DECLARED.items():
            d = restricted.get(name, d)
            if d.optional and name not in self.opt_in:
                continue
            if isinstance(d, IntDim) and (d := d.resolve({"n_rules": self.n_rules})) is None:
                continue  # an empty range (a spec without rules): nothing to choose
            dims[name] = d
        if CONTROL in self.backends:
            dims = _with_control_arm(dims, self.backends, arms)
        object.__setattr__(self, "dims", dims)

    def suggest(self, trial) -> dict[str, Any]:
        """Ask ``trial`` for one point; returns ``RunConfig`` keyword arguments (conditional dims only when active)."""
        return suggest(trial, self.dims)


def _with_control_arm(dims: dict[str, Dimension], backends: tuple[str, ...], arms: tuple[str, ...]):
    """``dims`` with ``backend`` after the release level and the mode, and the model's dimensions only on model trials.

    The control needs steered targets: at a mode without steering (or at level ``none``) the trial is a model trial.
    A stats trial's ``model`` is ``stats`` (nothing to load); its DP budget is still searched when the study opts in.
    """
    model_arm = ActiveIf("backend", arms)
    steered = tuple(m for m in STEER_MODES if m in getattr(dims["calibration"], "choices", ()))
    backend = CategoricalDim(backends, active_if=ActiveIf("calibration", steered, otherwise=arms[0]) if arms else None)
    out = {"release_level": dims["release_level"], "calibration": dims["calibration"], "backend": backend}
    for name, d in dims.items():
        if name in out:
            continue
        if name in MODEL_ONLY:
            own = (d.active_if,) if d.active_if is not None else ()
            d = replace(d, active_if=AllOf((model_arm, *own), otherwise=CONTROL if name == "model" else None))
        elif name == "dp_epsilon" and d.active_if is not None:
            d = replace(d, active_if=AnyOf((d.active_if, ActiveIf("backend", (CONTROL,)))))
        out[name] = d
    return out


def suggest(trial, dims: Mapping[str, Dimension]) -> dict[str, Any]:
    """Map typed dimensions to Optuna, in order: an inactive dimension is skipped, a single choice is fixed.

    A subset asks one yes/no per member (``statistics.moments``, ...); an empty subset means all members. An inactive
    dimension with an ``otherwise`` value takes that value (not searched).
    """
    out: dict[str, Any] = {}
    for name, d in dims.items():
        if d.active_if is not None and not d.active_if.holds(out):
            if d.active_if.otherwise is not None:
                out[name] = d.active_if.otherwise
            continue
        match d:
            case CategoricalDim(choices=(only,)):
                out[name] = only
            case CategoricalDim():
                out[name] = trial.suggest_categorical(name, list(d.choices))
            case IntDim():
                out[name] = trial.suggest_int(name, d.low, d.high)
            case FloatDim():
                out[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
            case SubsetDim():
                chosen = tuple(c for c in d.choices if trial.suggest_categorical(f"{name}.{c}", [True, False]))
                out[name] = chosen or tuple(d.choices)
            case _:
                raise TypeError(f"search dimension {name!r} is a {type(d).__name__}; not one of the dimension types")
    return out
