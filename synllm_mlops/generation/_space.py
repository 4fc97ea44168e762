"""Tunable sampling dimensions, declared next to :class:`GenerationParams` (plain data; tuning maps it to Optuna)."""

from __future__ import annotations

GENERATION_SPACE: dict[str, dict] = {
    "temperature": {"kind": "float", "low": 0.3, "high": 1.5},
    "top_p": {"kind": "float", "low": 0.7, "high": 1.0},
    "top_k": {"kind": "categorical", "choices": (0, 20, 50, 100)},  # 0 = off
    "repetition_penalty": {"kind": "float", "low": 1.0, "high": 1.3},
}
