"""The one budget planner: which releases a run makes and the epsilon each one spends.

The plan is a function of the spec and the run's options, never of the data: the list of releases,
their labels and their epsilons are fixed before any count is read. The run's epsilon is split
between the *parts* present (prompt statistics, calibration targets) by :data:`PART_WEIGHTS`, within
a part between its *families* by :data:`FAMILY_WEIGHTS`, and equally within a family.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_EPSILON = 4.0
"""The epsilon a run spends when it does not say (``dp_epsilon``): chosen from the measured quality-epsilon curve
(README, "Differential privacy"); a non-private run is the explicit ``dp_epsilon=none``."""

PART_WEIGHTS = {"prompt": 1.0, "calibration": 1.0}
FAMILY_WEIGHTS = {
    # prompt statistics: the marginals feed every number in the prompt, so they get twice the others
    "prompt": {"marginal": 2.0, "by_target": 1.0, "correlation": 1.0},
    # calibration targets: every histogram and table alike
    "calibration": {"histogram": 1.0, "table": 1.0},
}


@dataclass(frozen=True)
class PlannedRelease:
    """One histogram or 2-way table a run releases: its part, family and ledger label."""

    part: str
    family: str
    label: str


def allocate(plan: list[PlannedRelease], epsilon: float) -> dict[str, float]:
    """Each planned release's epsilon; they add up to ``epsilon``.

    Example:
        >>> plan = [PlannedRelease("prompt", "marginal", "histogram:a"), PlannedRelease("calibration", "table", "t:ab")]
        >>> allocate(plan, 1.0)
        {'histogram:a': 0.5, 't:ab': 0.5}
    """
    labels = [r.label for r in plan]
    if len(set(labels)) != len(labels):
        raise ValueError(f"a release plan needs unique labels, got duplicates in {labels}")
    parts = {r.part for r in plan}
    part_total = sum(PART_WEIGHTS[p] for p in parts)
    out = {}
    for r in plan:
        families = {q.family for q in plan if q.part == r.part}
        family_total = sum(FAMILY_WEIGHTS[r.part][f] for f in families)
        size = sum(q.part == r.part and q.family == r.family for q in plan)
        out[r.label] = epsilon * PART_WEIGHTS[r.part] / part_total * FAMILY_WEIGHTS[r.part][r.family] / family_total / size
    return out
