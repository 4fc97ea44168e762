"""The release stage: everything a run derives from real data, made once, charged once, logged as one artifact."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from synllm_mlops.privacy import PrivacyBudget
from synllm_mlops.release._plan import allocate
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
    is ``ledger``; without DP the statistics are exact (an explicit, non-private choice).

    Attributes:
        statistics: the prompt statistics as text (``None`` when the strategy carries none).
        targets: binned marginals and pair tables for steering and selection (``None`` without calibration).
        ledger: the DP budget's ledger (``PrivacyBudget.to_dict()``), ``None`` for an exact release.
        options: what was asked of the release (statistics families, correlations, targets, epsilon).
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


def make_release(spec: DatasetSpec, train: pd.DataFrame, *, statistics: tuple[str, ...] | None = ALL_STATS,
                 max_correlations: int = 5, targets: bool = True, dp_epsilon: float | None = None) -> Release:
    """Release what a run asks for from ``train``: the prompt statistics and/or the calibration targets.

    With ``dp_epsilon`` every release is planned first (:func:`~synllm_mlops.release.allocate` over the
    prompt's and the calibration's planned releases, a function of the spec and options only), then each
    is charged to one budget before its noisy counts exist.

    Args:
        statistics: the families of prompt statistics to release; ``None`` for none.
        max_correlations: how many correlations the prompt lists.
        targets: whether to release calibration targets.
        dp_epsilon: the run's budget; ``None`` for exact (non-private) statistics.

    Example:
        >>> from synllm_mlops.spec import load_data, load_spec
        >>> spec = load_spec("breast_cancer")
        >>> r = make_release(spec, load_data(spec), dp_epsilon=1.0)
        >>> r.private, round(r.epsilon_spent, 9), r.statistics.startswith("Statistics of the real table")
        (True, 1.0, True)
    """
    options = {"statistics": list(statistics) if statistics is not None else None,
               "max_correlations": max_correlations, "targets": targets, "dp_epsilon": dp_epsilon}
    if dp_epsilon is None:
        stats = (describe_statistics(train, spec, include=statistics, max_correlations=max_correlations)
                 if statistics is not None else None)
        return Release(stats, CalibrationTargets.from_table(train, spec) if targets else None, None, options)
    budget = PrivacyBudget(dp_epsilon)
    plan = ((prompt_plan(spec, statistics, max_correlations) if statistics is not None else [])
            + (calibration_plan(spec) if targets else []))
    eps = allocate(plan, dp_epsilon) if plan else {}
    stats = dp_statistics(train, spec, statistics, max_correlations, budget, eps) if statistics is not None else None
    released = CalibrationTargets.release_dp(train, spec, eps, budget) if targets else None
    return Release(stats, released, budget.to_dict(), options)
