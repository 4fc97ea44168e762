"""Tunable calibration dimensions, declared next to the calibration code (typed data; tuning maps it to Optuna).

The cost/quality trade-off of calibration — how large a pool to select from, how hard to steer — is
exactly what a study should search. The modes come from :data:`CalibrationMode`; ``oversample`` exists
only for the modes that select, ``steer_strength`` only for those that steer.
"""

from __future__ import annotations

from typing import get_args

from synllm_mlops.calibration._options import CalibrationMode
from synllm_mlops.searchspace import ActiveIf, CategoricalDim, Dimension, FloatDim

_MODES: tuple[str, ...] = get_args(CalibrationMode)

CALIBRATION_SPACE: dict[str, Dimension] = {
    "calibration": CategoricalDim(_MODES),
    "oversample": FloatDim(1.0, 3.0, active_if=ActiveIf("calibration", tuple(m for m in _MODES if "select" in m))),
    "steer_strength": FloatDim(0.25, 1.0, active_if=ActiveIf("calibration", tuple(m for m in _MODES if "steer" in m))),
}
