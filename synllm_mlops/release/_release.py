"""The release stage: everything a run derives from real data, made once, charged once, logged as one artifact."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from synllm_mlops.privacy import PrivacyBudget
from synllm_mlops.release._floor import MIN_CELL
from synllm_mlops.release._levels import DEFAULT_LEVEL, level_parts
from synllm_mlops.release._plan import PlannedRelease, allocate
from synllm_mlops.release._stats import ALL_STATS, describe_statistics, dp_statistics, prompt_plan
from synllm_mlops.release._targets import CalibrationTargets, calibration_plan
from synllm_mlops.spec import DatasetSpec

ARTIFACT = "release/release.json"
"""Where a run logs its release; registration and serving read it back from there."""


@dataclass(frozen=True)
class Release:
    """What later stages may know about the real train split: aggregates only, never rows.

    Prompt rendering, steering, selection, the registered model and the server read a ``Release``,
    never the data; nothing re-releases. Under DP every part was charged to one budget whose ledger
    is ``ledger``; without DP (an explicit, non-private choice) the statistics are exact but k-floored: no count of
    1 to ``MIN_CELL - 1`` patients and no exact row count is published (:func:`~synllm_mlops.release.floor_counts`).

    Attributes:
        statistics: the prompt statistics as text (``None`` when the strategy carries none).
        targets: binned marginals and pair tables for steering and selection (``None`` without calibration).
        ledger: the DP budget's ledger (``PrivacyBudget.to_dict()``), ``None`` for an exact release.
        options: what was asked of the release (statistics families, correlations, targets, epsilon, level).
    """

    statistics: str | None
    targets: CalibrationTargets | None
    ledger: dict | None = None
    options: dict = field(default_factory=dict)

    @property
    def private(self) -> bool:
        """Whether this release is differentially private (it has a ledger)."""
        return self.ledger is not None

    @property
    def level(self) -> str:
        """The release level (:func:`~synllm_mlops.release.level_parts`); ``pairs`` for a release saved before levels."""
        return self.options.get("release_level", "pairs")

    @property
    def epsilon_spent(self) -> float:
        return float(self.ledger["spent"]) if self.ledger else 0.0

    def to_json(self) -> str:
        """The release as the run logs it (:data:`ARTIFACT`)."""
        return json.dumps({"options": self.options, "statistics": self.statistics, "ledger": self.ledger,
                           "targets": json.loads(self.targets.to_json()) if self.targets is not None else None},
                          indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Release":
        d = json.loads(text)
        targets = CalibrationTargets.from_json(json.dumps(d["targets"])) if d.get("targets") is not None else None
        return cls(d.get("statistics"), targets, d.get("ledger"), d.get("options", {}))


def release_plan(spec: DatasetSpec, *, statistics: tuple[str, ...] | None = ALL_STATS, max_correlations: int = 5,
                 targets: bool = True, release_level: str = DEFAULT_LEVEL) -> list[PlannedRelease]:
    """Every DP release a run makes at ``release_level``, prompt statistics first: what the budget is split over.

    A function of the spec and the options only. A lower level makes fewer releases, so each gets more epsilon.

    Example:
        >>> from synllm_mlops.spec import load_spec
        >>> spec = load_spec("cirrhosis")
        >>> [len(release_plan(spec, release_level=lv)) for lv in ("none", "marginals", "target", "pairs")]
        [0, 38, 67, 275]
    """
    parts = level_parts(spec, release_level)
    statistics = parts.allowed_statistics(statistics)
    return ((prompt_plan(spec, statistics, max_correlations) if statistics is not None else [])
            + (calibration_plan(spec, release_level) if targets and parts.targets else []))


def make_release(spec: DatasetSpec, train: pd.DataFrame, *, statistics: tuple[str, ...] | None = ALL_STATS,
                 max_correlations: int = 5, targets: bool = True, dp_epsilon: float | None = None,
                 release_level: str = DEFAULT_LEVEL) -> Release:
    """Release what a run asks for from ``train``, up to what ``release_level`` allows.

    The level (:func:`~synllm_mlops.release.level_parts`) cuts the prompt statistics to its families and the
    calibration targets to its pair tables, on the exact and the DP path alike; at ``none`` nothing is released.

    With ``dp_epsilon`` every release is planned first (:func:`~synllm_mlops.release.allocate` over the
    prompt's and the calibration's planned releases, a function of the spec and options only), then each
    is charged to one budget before its noisy counts exist.

    Args:
        statistics: the families of prompt statistics to release; ``None`` for none.
        max_correlations: how many correlations the prompt lists.
        targets: whether to release calibration targets.
        dp_epsilon: the run's budget; ``None`` for exact (non-private, k-floored) statistics.
        release_level: ``none`` | ``marginals`` | ``target`` | ``pairs`` (:func:`~synllm_mlops.release.level_parts`).

    Example:
        >>> from synllm_mlops.spec import load_data, load_spec
        >>> spec = load_spec("breast_cancer")
        >>> r = make_release(spec, load_data(spec), dp_epsilon=1.0)
        >>> r.private, round(r.epsilon_spent, 9), r.statistics.startswith("Statistics of the real table")
        (True, 1.0, True)
    """
    options = {"statistics": list(statistics) if statistics is not None else None,
               "max_correlations": max_correlations, "targets": targets, "dp_epsilon": dp_epsilon,
               "release_level": release_level}
    parts = level_parts(spec, release_level)
    statistics = parts.allowed_statistics(statistics)
    targets = targets and parts.targets
    if dp_epsilon is None:
        stats = (describe_statistics(train, spec, include=statistics, max_correlations=max_correlations)
                 if statistics is not None else None)
        released = (CalibrationTargets.from_table(train, spec, level=release_level, min_cell=MIN_CELL)
                    if targets else None)
        return Release(stats, released, None, options)
    budget = PrivacyBudget(dp_epsilon)
    plan = release_plan(spec, statistics=statistics, max_correlations=max_correlations, targets=targets,
                        release_level=release_level)
    eps = allocate(plan, dp_epsilon) if plan else {}
    stats = dp_statistics(train, spec, statistics, max_correlations, budget, eps) if statistics is not None else None
    released = CalibrationTargets.release_dp(train, spec, eps, budget, level=release_level) if targets else None
    return Release(stats, released, budget.to_dict(), options)
