"""Calibration: released binned statistics of train select the final rows (steering them is in ``constraints``).

Reads only :class:`CalibrationTargets` (aggregate counts on bins, exact or DP), never real rows.
"""

from synllm_mlops.calibration._bins import ColumnBins
from synllm_mlops.calibration._figures import calibration_figure
from synllm_mlops.calibration._options import CalibrationMode, CalibrationOptions
from synllm_mlops.calibration._select import select_rows
from synllm_mlops.calibration._space import CALIBRATION_SPACE
from synllm_mlops.calibration._targets import CalibrationTargets

__all__ = ["CALIBRATION_SPACE", "CalibrationMode", "CalibrationOptions", "CalibrationTargets", "ColumnBins", "calibration_figure", "select_rows"]
