"""Typed search-space dimensions: plain data that each stage declares next to its options, tuning maps to Optuna.

A stage says what of its configuration is worth searching (``prompts.PROMPT_SPACE``,
``generation.GENERATION_SPACE``, ``calibration.CALIBRATION_SPACE``); choices come from the stage's own
registry, so a new strategy or mode is searched without editing a list here. Nothing in this module
knows Optuna: ``tuning`` turns a space into suggestions in one function.

Example:
    >>> top_p = FloatDim(0.7, 1.0)
    >>> oversample = FloatDim(1.0, 3.0, active_if=ActiveIf("calibration", ("select",)))
    >>> oversample.active_if.holds({"calibration": "none"})
    False
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Union

from synllm_mlops.errors import ConfigError, show


@dataclass(frozen=True)
class ActiveIf:
    """A dimension exists only when the earlier dimension ``name`` took one of ``values``.

    Otherwise it is left out (the run's default applies), or, when ``otherwise`` is set, fixed to that value:
    the way a space excludes a combination that is not a valid run (e.g. calibration without a release).
    """

    name: str
    values: tuple[Any, ...]
    otherwise: Any = None

    def holds(self, point: Mapping[str, Any]) -> bool:
        return point.get(self.name) in self.values


@dataclass(frozen=True)
class AllOf:
    """A dimension exists only when every condition holds, e.g. a language-model arm *and* a strategy with rows.

    ``otherwise`` works as in :class:`ActiveIf`.
    """

    conditions: tuple["ActiveIf | AllOf | AnyOf", ...]
    otherwise: Any = None

    def holds(self, point: Mapping[str, Any]) -> bool:
        return all(c.holds(point) for c in self.conditions)


@dataclass(frozen=True)
class AnyOf:
    """A dimension exists when any condition holds, e.g. a strategy with statistics *or* the ``stats`` arm."""

    conditions: tuple["ActiveIf | AllOf | AnyOf", ...]
    otherwise: Any = None

    def holds(self, point: Mapping[str, Any]) -> bool:
        return any(c.holds(point) for c in self.conditions)


Condition = Union[ActiveIf, AllOf, AnyOf]
"""When a dimension exists: one condition, or all / any of several."""


@dataclass(frozen=True)
class Bound:
    """An integer bound known only per study, e.g. ``Bound("n_rules")``: the number of rules in the spec."""

    name: str


@dataclass(frozen=True, kw_only=True)
class Dim:
    """What every dimension has: a condition, and whether it is searched only when a study opts in."""

    active_if: Condition | None = None
    optional: bool = False


@dataclass(frozen=True)
class FloatDim(Dim):
    """A real number in ``[low, high]``, on a log scale when ``log``."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high or (self.log and self.low <= 0):
            raise ConfigError(f"a float dimension needs low < high (and low > 0 on a log scale), got low={show(self.low)}, "
                              f"high={show(self.high)}, log={show(self.log)}")


@dataclass(frozen=True)
class IntDim(Dim):
    """A whole number in ``[low, high]``; ``high`` may be a :class:`Bound` the study supplies."""

    low: int
    high: int | Bound

    def __post_init__(self) -> None:
        if isinstance(self.high, int) and self.high < self.low:
            raise ConfigError(f"an int dimension needs low <= high, got low={self.low}, high={self.high}")

    def resolve(self, bounds: Mapping[str, int]) -> "IntDim | None":
        """This dimension with its bound filled in; None when the range is empty (e.g. a spec without rules)."""
        if not isinstance(self.high, Bound):
            return self
        if self.high.name not in bounds:
            raise ConfigError(f"search bound {self.high.name!r} is not given; give it as one of: {', '.join(bounds) or 'none'}")
        high = bounds[self.high.name]
        return replace(self, high=high) if high >= self.low else None


@dataclass(frozen=True)
class CategoricalDim(Dim):
    """One of ``choices``; with a single choice the value is fixed (not searched)."""

    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.choices:
            raise ConfigError("a categorical dimension needs at least one choice")

    def restrict(self, values: tuple[Any, ...], label: str) -> "CategoricalDim":
        """Only ``values`` (a study searching some strategies); ``label`` names them in the error.

        Raises:
            ConfigError: a value that is not a choice, or no value at all.
        """
        known = ", ".join(map(str, self.choices))
        bad = [v for v in values if v not in self.choices]
        if bad:
            raise ConfigError(f"unknown {label} {bad}; choose from: {known}")
        if not values:
            raise ConfigError(f"{label} must name at least one of: {known}")
        return replace(self, choices=tuple(values))


@dataclass(frozen=True)
class SubsetDim(Dim):
    """A non-empty subset of ``choices``: one yes/no per member; none chosen means all."""

    choices: tuple[Any, ...]


Dimension = Union[FloatDim, IntDim, CategoricalDim, SubsetDim]
"""Any one dimension of a search space."""

__all__ = ["ActiveIf", "AllOf", "AnyOf", "Bound", "CategoricalDim", "Condition", "Dim", "Dimension", "FloatDim",
           "IntDim", "SubsetDim"]
