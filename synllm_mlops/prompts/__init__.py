"""Prompt strategies (seed_ex, featdesc, statguide, clin_rule) rendered from spec + train."""

from synllm_mlops.prompts._stats import ALL_STATS, describe_statistics
from synllm_mlops.prompts._strategies import (
    STRATEGIES,
    TEMPLATES,
    Prompt,
    PromptOptions,
    PromptStrategy,
    format_rows,
    get_strategy,
    to_csv,
)

__all__ = ["ALL_STATS", "STRATEGIES", "TEMPLATES", "Prompt", "PromptOptions", "PromptStrategy",
           "describe_statistics", "format_rows", "get_strategy", "to_csv"]
