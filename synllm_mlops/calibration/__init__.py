"""Calibration: released binned statistics of train select the final rows (steering them is in ``constraints``).

Reads only the run's :class:`~synllm_mlops.release.Release` (aggregate counts on bins, exact or DP), never real rows.
"""

from synllm_mlops.calibration._figures import calibration_figure
from synllm_mlops.calibration._options import CalibrationMode, CalibrationOptions
from synllm_mlops.calibration._select import select_rows
from synllm_mlops.calibration._space import CALIBRATION_SPACE

__all__ = ["CALIBRATION_SPACE", "CalibrationMode", "CalibrationOptions", "calibration_figure", "select_rows"]
