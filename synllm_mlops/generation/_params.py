"""Backend-neutral sampling parameters, validated once."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_BATCH_SIZE = 1024


class GenerationParams(BaseModel):
    """Sampling parameters every backend understands.

    ``max_new_tokens`` of ``None`` lets the pipeline size it from the rows asked per completion.
    ``batch_size`` of ``"auto"`` lets the backend choose once per run (:meth:`GenerationBackend.auto_batch_size`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.9, gt=0, le=5, description="sampling temperature")
    top_p: float = Field(default=0.95, gt=0, le=1, description="nucleus sampling mass")
    top_k: int = Field(default=0, ge=0, description="0 disables top-k")
    repetition_penalty: float = Field(default=1.0, ge=0.5, le=3, description="1 = off")
    batch_size: int | Literal["auto"] = Field(
        default=16, description=f"sequences sampled together (1-{MAX_BATCH_SIZE}), or auto: the largest whose KV "
                                "cache fits the GPU's free memory (16 on CPU)")
    max_new_tokens: int | None = Field(default=None, ge=1, description="token limit per completion (empty = sized from the rows asked)")

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, v):
        """A whole number in range (``16.0``, as MLflow renders a float parameter, is 16) or ``auto``."""
        if isinstance(v, str) and v.strip().lower() == "auto":
            return "auto"
        try:
            n = float(v) if not isinstance(v, bool) else float("nan")
        except (TypeError, ValueError):
            n = float("nan")
        if not (n.is_integer() and 1 <= n <= MAX_BATCH_SIZE):
            raise ValueError(f"batch_size must be a whole number from 1 to {MAX_BATCH_SIZE} or auto (got {v}); "
                             "fix: set --batch-size to e.g. 16, or auto")
        return int(n)
