"""The release stage: the only place that reads the real train split for generation's sake.

Input: spec + train + what to release (prompt statistics, calibration targets, up to a release level) + a
budget (or none).
Output: one :class:`Release` — bins, marginals, pair tables, prompt statistics and the DP ledger (DP at
:data:`DEFAULT_EPSILON` by default; every count k-floored at :data:`MIN_CELL`) —
logged as one artifact (:data:`ARTIFACT`). Prompt rendering, steering, selection, registration and
serving read a ``Release``, never the data. One bin type (:class:`Bins`), one budget planner
(:func:`allocate`); the DP mechanics (accountant, noise) come from :mod:`synllm_mlops.privacy`.
"""

from synllm_mlops.release._bins import DEFAULT_BINS, Bins, numeric_bins, spec_bins
from synllm_mlops.release._estimates import (
    binned_mean,
    binned_quantiles,
    binned_sd,
    missing_share,
    quantile_bins,
    table_spearman,
    value_weights,
)
from synllm_mlops.release._levels import (
    DEFAULT_LEVEL,
    RELEASE_LEVELS,
    TARGET_LEVELS,
    LevelParts,
    ReleaseLevel,
    level_parts,
)
from synllm_mlops.release._floor import COUNT_ROUNDING, MIN_CELL, floor_counts, public_count
from synllm_mlops.release._plan import DEFAULT_EPSILON, FAMILY_WEIGHTS, PART_WEIGHTS, PlannedRelease, allocate
from synllm_mlops.release._release import ARTIFACT, Release, make_release, release_plan
from synllm_mlops.release._stats import ALL_STATS, describe_statistics, prompt_plan
from synllm_mlops.release._targets import CalibrationTargets, calibration_plan

__all__ = [
    "ALL_STATS", "ARTIFACT", "COUNT_ROUNDING", "DEFAULT_BINS", "DEFAULT_EPSILON", "DEFAULT_LEVEL", "FAMILY_WEIGHTS",
    "MIN_CELL", "PART_WEIGHTS", "RELEASE_LEVELS", "TARGET_LEVELS", "Bins", "CalibrationTargets", "LevelParts",
    "PlannedRelease", "Release", "ReleaseLevel", "allocate", "binned_mean", "binned_quantiles", "binned_sd",
    "calibration_plan", "describe_statistics", "floor_counts", "level_parts", "make_release", "missing_share",
    "numeric_bins", "prompt_plan", "public_count", "quantile_bins", "release_plan", "spec_bins", "table_spearman",
    "value_weights",
]
