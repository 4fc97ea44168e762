"""Prompt strategies (seed_ex, featdesc, statguide, clin_rule) rendered from spec + train."""

from synllm_mlops.prompts._space import PROMPT_SPACE
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

__all__ = ["ALL_STATS", "PROMPT_SPACE", "STRATEGIES", "TEMPLATES", "Prompt", "PromptOptions", "PromptStrategy",
           "describe_statistics", "format_rows", "get_strategy", "to_csv"]
