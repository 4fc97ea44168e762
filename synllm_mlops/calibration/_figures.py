"""Before/after figure of calibration: per column, target vs pool vs kept shares on the released bins."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synllm_mlops.release import CalibrationTargets

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def calibration_figure(targets: CalibrationTargets, pool: pd.DataFrame, kept: pd.DataFrame) -> "Figure":
    """Bars per bin: the released target, the generated pool (before selection) and the kept table (after)."""
    from matplotlib.figure import Figure  # no pyplot: no global state

    k = len(targets.bins)
    ncol = 4
    nrow = max(1, math.ceil(k / ncol))
    fig = Figure(figsize=(4 * ncol, 2.6 * nrow), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    codes = {"pool (before selection)": targets.codes(pool), "kept (after)": targets.codes(kept)}
    for j, (ax, b) in enumerate(zip(axes, targets.bins)):
        x = np.arange(b.n_bins)
        ax.bar(x - 0.27, targets.marginals[j], width=0.27, color="#1f77b4", label="target (released)")
        for off, (name, c), color in zip((0.0, 0.27), codes.items(), ("#ff7f0e", "#d62728")):
            col = c[:, j] if len(c) else np.zeros(0, dtype=int)
            counts = np.bincount(col[col >= 0], minlength=b.n_bins)
            ax.bar(x + off, counts / max(counts.sum(), 1), width=0.27, color=color, label=name)
        ax.set_title(b.column, fontsize=9)
        ax.set_xticks(x, [b.label(i) for i in x], rotation=60, fontsize=6)
    for ax in axes[k:]:
        ax.axis("off")
    axes[0].legend(fontsize=7)
    fig.suptitle("Calibration: released target shares vs generated pool vs kept rows, per bin")
    return fig
