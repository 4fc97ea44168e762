"""The one place where the declared search spaces (prompts, generation) become Optuna suggestions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synllm_mlops.calibration import CALIBRATION_SPACE
from synllm_mlops.errors import ConfigError
from synllm_mlops.generation import GENERATION_SPACE
from synllm_mlops.prompts import PROMPT_SPACE

KINDS = ("categorical", "int", "float", "subset")


@dataclass(frozen=True)
class SearchSpace:
    """Prompt + sampling dimensions for one study.

    Args:
        strategies: the strategies to search (a subset of the declared ones).
        models: models to search; one model means the model is fixed (not a dimension).
        n_rules: rules in the dataset's spec (upper bound of ``max_rules``).
        tune_dp: also search ``dp_epsilon`` for the statistics strategies.
        calibrations: the calibration modes to search; one means the mode is fixed.
    """

    strategies: tuple[str, ...] = PROMPT_SPACE["strategy"]["choices"]
    models: tuple[str, ...] = ()
    n_rules: int = 0
    tune_dp: bool = False
    calibrations: tuple[str, ...] = CALIBRATION_SPACE["calibration"]["choices"]
    dims: dict[str, dict] = field(default_factory=lambda: {**PROMPT_SPACE, **GENERATION_SPACE, **CALIBRATION_SPACE})

    def __post_init__(self) -> None:
        known = self.dims["strategy"]["choices"]
        bad = [s for s in self.strategies if s not in known]
        if bad or not self.strategies:
            raise ConfigError(f"unknown strategies {bad}; choose from: {', '.join(known)}" if bad else
                              f"strategies must name at least one of: {', '.join(known)}")
        bad = [c for c in self.calibrations if c not in CALIBRATION_SPACE["calibration"]["choices"]]
        if bad or not self.calibrations:
            raise ConfigError(f"unknown calibrations {bad}; choose from: "
                              f"{', '.join(CALIBRATION_SPACE['calibration']['choices'])}")
        for name, d in self.dims.items():
            if d["kind"] not in KINDS:
                raise ConfigError(f"search dimension {name!r} has kind {d['kind']!r}; choose one of: {', '.join(KINDS)}")

    def suggest(self, trial) -> dict[str, Any]:
        """Ask ``trial`` for one point; returns ``RunConfig`` keyword arguments (conditional dims only when active)."""
        out: dict[str, Any] = {}
        if len(self.models) > 1:
            out["model"] = trial.suggest_categorical("model", list(self.models))
        strategy = (trial.suggest_categorical("strategy", list(self.strategies)) if len(self.strategies) > 1
                    else self.strategies[0])
        out["strategy"] = strategy
        for name, d in self.dims.items():
            if name == "strategy" or ("when" in d and strategy not in d["when"]):
                continue
            if d.get("optional") and not (name == "dp_epsilon" and self.tune_dp):
                continue
            if "requires" in d and out.get(d["requires"][0]) not in d["requires"][1]:
                continue  # e.g. oversample only when calibration selects
            if name == "calibration":  # restricted by the study; fixed (not a dimension) when one is given
                out[name] = (trial.suggest_categorical(name, list(self.calibrations)) if len(self.calibrations) > 1
                             else self.calibrations[0])
            elif d["kind"] == "categorical":
                out[name] = trial.suggest_categorical(name, list(d["choices"]))
            elif d["kind"] == "int":
                high = self.n_rules if d["high"] is None else d["high"]
                if high < d["low"]:
                    continue  # e.g. a spec without rules: nothing to choose
                out[name] = trial.suggest_int(name, d["low"], high)
            elif d["kind"] == "float":
                out[name] = trial.suggest_float(name, d["low"], d["high"], log=d.get("log", False))
            else:  # subset: one boolean per member, empty subsets fall back to all members
                chosen = tuple(c for c in d["choices"] if trial.suggest_categorical(f"{name}.{c}", [True, False]))
                out[name] = chosen or tuple(d["choices"])
        return out
