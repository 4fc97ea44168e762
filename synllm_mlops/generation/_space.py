"""Tunable sampling dimensions, declared next to :class:`GenerationParams` (typed data; tuning maps it to Optuna)."""

from __future__ import annotations

from synllm_mlops.searchspace import CategoricalDim, Dimension, FloatDim

GENERATION_SPACE: dict[str, Dimension] = {
    "temperature": FloatDim(0.3, 1.5),
    "top_p": FloatDim(0.7, 1.0),
    "top_k": CategoricalDim((0, 20, 50, 100)),  # 0 = off
    "repetition_penalty": FloatDim(1.0, 1.3),
}
