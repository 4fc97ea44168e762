"""Calibration settings of a run (a nested group of :class:`~synllm_mlops.config.RunConfig`)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CalibrationMode = Literal["none", "select", "steer", "select+steer"]


class CalibrationOptions(BaseModel):
    """How the table is calibrated to released binned statistics of train.

    Example:
        >>> CalibrationOptions(calibration="select", oversample=2).pool_size(100)
        200
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    calibration: CalibrationMode = Field(
        default="select+steer", description="none | select (keep n_rows of an oversampled pool that best match the "
        "released statistics) | steer (draw each field's bin from them while decoding; hf backend) | select+steer")
    oversample: float = Field(default=1.5, ge=1, le=20, description="pool size / n_rows when calibration selects")
    steer_strength: float = Field(default=1.0, ge=0, le=1,
                                  description="probability that steering forces a field into its drawn bin (0 = off)")

    @property
    def selects(self) -> bool:
        return "select" in self.calibration

    @property
    def steers(self) -> bool:
        return "steer" in self.calibration and self.steer_strength > 0

    def pool_size(self, n_rows: int) -> int:
        """Valid rows to generate for ``n_rows`` kept: ``oversample`` times as many when selecting."""
        return math.ceil(self.oversample * n_rows) if self.selects else n_rows
