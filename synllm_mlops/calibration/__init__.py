"""Calibration: released binned statistics of train steer the sampler and select the final rows.

Reads only the run's :class:`~synllm_mlops.release.Release` (aggregate counts on bins, exact or DP), never real rows.
"""

from synllm_mlops.calibration._figures import calibration_figure
from synllm_mlops.calibration._options import CalibrationMode, CalibrationOptions
from synllm_mlops.calibration._select import select_rows
from synllm_mlops.calibration._space import CALIBRATION_SPACE
from synllm_mlops.calibration._steer import Steering

__all__ = ["CALIBRATION_SPACE", "CalibrationMode", "CalibrationOptions", "Steering", "calibration_figure", "select_rows"]
