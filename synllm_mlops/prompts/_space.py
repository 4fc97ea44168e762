"""Tunable prompt dimensions, declared next to :class:`PromptOptions` (plain data; tuning maps it to Optuna).

Each entry is ``name -> {"kind": "categorical"|"int"|"float"|"subset", ...}``; ``when`` lists the
strategies for which the dimension exists (a conditional search space); ``high: None`` on
``max_rules`` means "the number of rules in the dataset's spec".
"""

from __future__ import annotations

from synllm_mlops.release import ALL_STATS

STAT_STRATEGIES = ("statguide", "clin_rule")

PROMPT_SPACE: dict[str, dict] = {
    "strategy": {"kind": "categorical", "choices": ("seed_ex", "featdesc", "statguide", "clin_rule")},
    "n_examples": {"kind": "int", "low": 1, "high": 10, "when": ("seed_ex",)},
    "statistics": {"kind": "subset", "choices": ALL_STATS, "when": STAT_STRATEGIES},
    "max_rules": {"kind": "int", "low": 0, "high": None, "when": ("clin_rule",)},
    "rows_per_completion": {"kind": "int", "low": 1, "high": 8},
    # only searched when the user asks for DP statistics (tune --tune-dp)
    "dp_epsilon": {"kind": "float", "low": 0.1, "high": 10.0, "log": True, "when": STAT_STRATEGIES, "optional": True},
}
