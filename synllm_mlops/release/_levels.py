"""Release levels: how much a run publishes about train, from the spec alone to every pair table.

One function, :func:`level_parts`, says what a level releases. The exact path, the DP path and the DP
planner all read it, so under DP a level is charged for exactly what it publishes (fewer releases, more
epsilon each), and steering and selection can use only what it published. What a level leaves out is
what the language model has to supply.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal, get_args

from synllm_mlops.errors import unknown
from synllm_mlops.release._stats import ALL_STATS
from synllm_mlops.spec import DatasetSpec

ReleaseLevel = Literal["none", "marginals", "target", "pairs"]
RELEASE_LEVELS: tuple[str, ...] = get_args(ReleaseLevel)
DEFAULT_LEVEL: ReleaseLevel = "target"
"""What a DP release publishes: marginals and target x feature tables (feature-feature dependence is the model's)."""
TARGET_LEVELS: tuple[str, ...] = tuple(lv for lv in RELEASE_LEVELS if lv != "none")
"""The levels that release calibration targets (steering, selection and the stats control need them)."""

_MARGINAL_STATS = ("moments", "quartiles", "frequencies", "missing")
_LEVEL_STATS: dict[str, tuple[str, ...]] = {
    "none": (),
    "marginals": _MARGINAL_STATS,
    "target": _MARGINAL_STATS + ("target_differences",),
    "pairs": ALL_STATS,
}


@dataclass(frozen=True)
class LevelParts:
    """What one level releases for one spec.

    Attributes:
        level: the level.
        statistics: the families of prompt statistics it may carry (a run's ``statistics`` is cut to these).
        targets: whether it releases calibration targets (histograms) at all.
        pairs: the column pairs ``(i, j)``, ``i < j``, whose 2-way tables it releases.
    """

    level: str
    statistics: tuple[str, ...]
    targets: bool
    pairs: tuple[tuple[int, int], ...]

    def allowed_statistics(self, wanted: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """``wanted`` cut to this level's families, in ``wanted``'s order; ``None`` when nothing is released."""
        if wanted is None or self.level == "none":
            return None
        return tuple(s for s in wanted if s in self.statistics)


def level_parts(spec: DatasetSpec, level: str) -> LevelParts:
    """What ``level`` releases for ``spec``: a function of the spec and the level, never of the data.

    ``marginals``: every column's histogram and per-column prompt statistics. ``target``: + the tables of the
    target with every other column and the per-class prompt statistics. ``pairs``: + every pair table and the
    prompt's correlations. ``none``: nothing (the spec alone).

    Raises:
        ConfigError: an unknown level (the known ones are listed).

    Example:
        >>> from synllm_mlops.spec import load_spec
        >>> spec = load_spec("cirrhosis")
        >>> [len(level_parts(spec, lv).pairs) for lv in RELEASE_LEVELS]
        [0, 0, 18, 171]
    """
    if level not in RELEASE_LEVELS:
        raise unknown("release_level", level, list(RELEASE_LEVELS))
    every = list(combinations(range(len(spec.columns)), 2))
    t = spec.column_names.index(spec.target) if spec.target in spec.column_names else None
    pairs = {"none": [], "marginals": [], "target": [p for p in every if t in p], "pairs": every}[level]
    return LevelParts(level, _LEVEL_STATS[level], level != "none", tuple(pairs))
