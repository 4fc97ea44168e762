"""Prompt strategies (seed_ex, featdesc, statguide, clin_rule) rendered from spec + the run's release."""

from synllm_mlops.prompts._space import PROMPT_SPACE
from synllm_mlops.prompts._strategies import (
    STRATEGIES,
    TEMPLATES,
    Prompt,
    PromptOptions,
    PromptStrategy,
    format_rows,
    format_value,
    get_strategy,
    to_csv,
)

__all__ = ["PROMPT_SPACE", "STRATEGIES", "TEMPLATES", "Prompt", "PromptOptions", "PromptStrategy",
           "format_rows", "format_value", "get_strategy", "to_csv"]
