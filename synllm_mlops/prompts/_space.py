"""Tunable prompt dimensions, declared next to :class:`PromptOptions` (typed data; tuning maps it to Optuna).

Choices and conditions come from the strategy registry: ``n_examples`` exists for the strategies that
show real rows, ``statistics`` for those that carry statistics of train. ``max_rules`` goes up to the
number of rules in the dataset's spec (a bound each study supplies).
"""

from __future__ import annotations

from synllm_mlops.prompts._strategies import STRATEGIES
from synllm_mlops.release import ALL_STATS, RELEASE_LEVELS
from synllm_mlops.searchspace import ActiveIf, Bound, CategoricalDim, Dimension, FloatDim, IntDim, SubsetDim

STAT_STRATEGIES = tuple(name for name, s in STRATEGIES.items() if s.uses_statistics)
_ROW_STRATEGIES = tuple(name for name, s in STRATEGIES.items() if s.uses_real_rows)

PROMPT_SPACE: dict[str, Dimension] = {
    # first: what the run may know of train bounds what calibration can use (see CALIBRATION_SPACE)
    "release_level": CategoricalDim(RELEASE_LEVELS),
    "strategy": CategoricalDim(tuple(STRATEGIES)),
    "n_examples": IntDim(1, 10, active_if=ActiveIf("strategy", _ROW_STRATEGIES)),
    "statistics": SubsetDim(ALL_STATS, active_if=ActiveIf("strategy", STAT_STRATEGIES)),
    "max_rules": IntDim(0, Bound("n_rules"), active_if=ActiveIf("strategy", ("clin_rule",))),
    "rows_per_completion": IntDim(1, 8),
    # searched only when a study opts in (tune --tune-dp)
    "dp_epsilon": FloatDim(0.1, 10.0, log=True, active_if=ActiveIf("strategy", STAT_STRATEGIES), optional=True),
}
