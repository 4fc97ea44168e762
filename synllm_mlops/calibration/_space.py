"""Tunable calibration dimensions, declared next to the calibration code (typed data; tuning maps it to Optuna).

The cost/quality trade-off of calibration — how large a pool to select from, how hard to steer — is
exactly what a study should search. The modes come from :data:`CalibrationMode`; ``oversample`` exists
only for the modes that select, ``steer_strength`` only for those that steer; the mode is searched only at a
release level that releases calibration targets (at ``none`` it is ``none``).
"""

from __future__ import annotations

from typing import get_args

from synllm_mlops.calibration._options import CalibrationMode
from synllm_mlops.release import TARGET_LEVELS
from synllm_mlops.searchspace import ActiveIf, CategoricalDim, Dimension, FloatDim

_MODES: tuple[str, ...] = get_args(CalibrationMode)

CALIBRATION_SPACE: dict[str, Dimension] = {
    # a release level that releases no targets leaves nothing to calibrate on: the mode is then none, not searched
    "calibration": CategoricalDim(_MODES, active_if=ActiveIf("release_level", TARGET_LEVELS, otherwise="none")),
    "oversample": FloatDim(1.0, 3.0, active_if=ActiveIf("calibration", tuple(m for m in _MODES if "select" in m))),
    # from 0 (the model writes every bin itself) to 1 (every field forced into a drawn bin)
    "steer_strength": FloatDim(0.0, 1.0, active_if=ActiveIf("calibration", tuple(m for m in _MODES if "steer" in m))),
}
