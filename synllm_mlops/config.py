"""One validated run configuration shared by the CLI, the MLproject entry points and tuning."""

from __future__ import annotations

import math

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from synllm_mlops.errors import ConfigError
from synllm_mlops.generation import DEFAULT_MODEL, GenerationParams
from synllm_mlops.prompts import ALL_STATS, STRATEGIES, PromptOptions


class RunConfig(BaseModel):
    """Everything one generation (+ evaluation) run needs; a misspelt key is an error.

    Example:
        >>> cfg = RunConfig(dataset="cirrhosis", strategy="clin_rule", n_rows=50)
        >>> cfg.gen_params().temperature
        0.9
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = "cirrhosis"
    data: str = ""
    strategy: str = "clin_rule"
    model: str = DEFAULT_MODEL
    backend: str = "hf"
    n_rows: int = Field(default=200, ge=1, le=1_000_000)
    seed: int = Field(default=0, ge=0)
    temperature: float = Field(default=0.9, gt=0, le=5)
    top_p: float = Field(default=0.95, gt=0, le=1)
    top_k: int = Field(default=0, ge=0)
    repetition_penalty: float = Field(default=1.0, ge=0.5, le=3)
    batch_size: int = Field(default=16, ge=1, le=1024)
    rows_per_completion: int = Field(default=4, ge=1, le=50)
    constrained: bool = True
    max_attempts: int = Field(default=0, ge=0, description="completions budget; 0 = 3x what n_rows needs")
    n_examples: int = Field(default=5, ge=1, le=50)
    statistics: tuple[str, ...] = ALL_STATS
    max_correlations: int = Field(default=5, ge=0, le=30)
    max_rules: int | None = Field(default=None, ge=0)
    dp_epsilon: float | None = Field(default=None, gt=0)
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    calibration: Literal["none", "select", "steer", "select+steer"] = Field(
        default="select+steer", description="calibrate the table to released binned statistics of train: "
        "select n_rows from an oversampled pool, steer the decoder field by field, both, or none")
    oversample: float = Field(default=1.5, ge=1, le=20, description="pool size / n_rows when calibration selects")
    steer_strength: float = Field(default=1.0, ge=0, le=1,
                                  description="probability that steering forces a field into its drawn bin (0 = off)")

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; choose one of: {', '.join(STRATEGIES)}")
        return v

    @field_validator("statistics", mode="before")
    @classmethod
    def _stats(cls, v):
        if isinstance(v, str):
            v = tuple(s.strip() for s in v.split(",") if s.strip())
        bad = sorted(set(v) - set(ALL_STATS))
        if bad:
            raise ValueError(f"unknown statistics {bad}; choose from {', '.join(ALL_STATS)}")
        return tuple(v)

    @classmethod
    def build(cls, **kwargs) -> "RunConfig":
        """Validate keyword arguments, turning pydantic's errors into one clear :class:`ConfigError`."""
        try:
            return cls(**{k: v for k, v in kwargs.items() if v is not None})
        except ValidationError as e:
            lines = [f"  - {'.'.join(map(str, err['loc']))}: {err['msg']} (got {err.get('input')!r})" for err in e.errors()]
            raise ConfigError("invalid run configuration:\n" + "\n".join(lines)) from None

    def prompt_options(self) -> PromptOptions:
        return PromptOptions(n_examples=self.n_examples, statistics=self.statistics, max_correlations=self.max_correlations,
                             max_rules=self.max_rules, rows_per_completion=self.rows_per_completion,
                             dp_epsilon=self.dp_epsilon)

    def gen_params(self) -> GenerationParams:
        return GenerationParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                                repetition_penalty=self.repetition_penalty, batch_size=self.batch_size)

    def pool_size(self) -> int:
        """Valid rows to generate: ``n_rows``, or ``oversample`` times that when calibration selects."""
        return math.ceil(self.oversample * self.n_rows) if "select" in self.calibration else self.n_rows

    def completion_budget(self) -> int:
        """Maximum completions to sample before keeping what we have."""
        if self.max_attempts:
            return self.max_attempts
        return max(self.batch_size, 3 * -(-self.pool_size() // self.rows_per_completion))
