"""Tunable calibration dimensions, declared next to the calibration code (plain data; tuning maps it to Optuna).

The cost/quality trade-off of calibration — how large a pool to select from, how hard to steer — is
exactly what a study should search. ``requires`` makes a dimension exist only for some values of an
earlier one.
"""

from __future__ import annotations

CALIBRATION_SPACE: dict[str, dict] = {
    "calibration": {"kind": "categorical", "choices": ("none", "select", "steer", "select+steer")},
    "oversample": {"kind": "float", "low": 1.0, "high": 3.0, "requires": ("calibration", ("select", "select+steer"))},
    "steer_strength": {"kind": "float", "low": 0.25, "high": 1.0, "requires": ("calibration", ("steer", "select+steer"))},
}
