"""The one place where the declared search spaces (prompts, generation, calibration) become Optuna suggestions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from synllm_mlops.calibration import CALIBRATION_SPACE
from synllm_mlops.errors import ConfigError
from synllm_mlops.generation import GENERATION_SPACE
from synllm_mlops.prompts import PROMPT_SPACE
from synllm_mlops.searchspace import CategoricalDim, Dimension, FloatDim, IntDim, SubsetDim

DECLARED: dict[str, Dimension] = {**PROMPT_SPACE, **GENERATION_SPACE, **CALIBRATION_SPACE}
"""Every declared dimension, in suggestion order (a condition refers to an earlier dimension)."""


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
    dims: dict[str, Dimension] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        optional = [n for n, d in DECLARED.items() if d.optional]
        bad = [n for n in self.opt_in if n not in optional]
        if bad:
            raise ConfigError(f"unknown optional dimensions {bad}; choose from: {', '.join(optional)}")
        levels = tuple(lv for lv in self.release_levels if lv != "none" or "none" in self.calibrations)
        if self.release_levels and not levels:
            raise ConfigError(f"release level none releases nothing to calibrate on, and calibrations "
                              f"{list(self.calibrations)} does not hold none; fix: add none to calibrations, or "
                              "search other release levels")
        restricted = {"strategy": DECLARED["strategy"].restrict(tuple(self.strategies), "strategies"),
                      "calibration": DECLARED["calibration"].restrict(tuple(self.calibrations), "calibrations"),
                      "release_level": DECLARED["release_level"].restrict(levels, "release_levels")}
        dims: dict[str, Dimension] = {"model": CategoricalDim(tuple(self.models))} if self.models else {}
        for name, d in DECLARED.items():
            d = restricted.get(name, d)
            if d.optional and name not in self.opt_in:
                continue
            if isinstance(d, IntDim) and (d := d.resolve({"n_rules": self.n_rules})) is None:
                continue  # an empty range (a spec without rules): nothing to choose
            dims[name] = d
        object.__setattr__(self, "dims", dims)

    def suggest(self, trial) -> dict[str, Any]:
        """Ask ``trial`` for one point; returns ``RunConfig`` keyword arguments (conditional dims only when active)."""
        return suggest(trial, self.dims)


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
