"""Backend-neutral sampling parameters, validated once."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GenerationParams(BaseModel):
    """Sampling parameters every backend understands.

    ``max_new_tokens`` of ``None`` lets the pipeline size it from the rows asked per completion.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.9, gt=0, le=5, description="sampling temperature")
    top_p: float = Field(default=0.95, gt=0, le=1, description="nucleus sampling mass")
    top_k: int = Field(default=0, ge=0, description="0 disables top-k")
    repetition_penalty: float = Field(default=1.0, ge=0.5, le=3, description="1 = off")
    batch_size: int = Field(default=16, ge=1, le=1024, description="sequences sampled together")
    max_new_tokens: int | None = Field(default=None, ge=1, description="token limit per completion (empty = sized from the rows asked)")
