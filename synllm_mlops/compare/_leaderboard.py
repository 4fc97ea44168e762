"""Leaderboard: per model x strategy x dataset, the mean over seeds with a 95 % t-interval."""

from __future__ import annotations

import math

import pandas as pd

from synllm_mlops.evaluation import t_interval

LEADERBOARD_METRICS = ("score/quality", "score/privacy", "score/harmonic", "control/score/harmonic",
                       "lift/score/harmonic", "gen/validity_rate",
                       "fidelity/column_shapes", "fidelity/column_pair_trends", "fidelity/feature_pair_trends",
                       "fidelity/detection_auc",
                       "utility/tstr_auc", "utility/trtr_auc", "privacy/dcr_share_closer_to_train", "gen/seconds",
                       "calib/rows_generated_per_kept")
GROUP = ["arm", "model", "strategy", "calibration", "dataset"]


def leaderboard(cells: pd.DataFrame, metrics: tuple[str, ...] = LEADERBOARD_METRICS) -> pd.DataFrame:
    """One row per arm x model x strategy x calibration x dataset over the *finished* cells, best
    ``score/harmonic`` first.

    Args:
        cells: one row per cell with columns (arm,) model, strategy, (calibration,) dataset, status and the metrics.

    Returns:
        columns arm, model, strategy, calibration, dataset, n_cells, n_failed, then ``<metric>_mean`` and
        ``<metric>_ci95``; ``arm`` is empty for a grid without arms.
    """
    rows = []
    if "calibration" not in cells:  # cells recorded before the calibration axis existed
        cells = cells.assign(calibration="none")
    if "arm" not in cells:  # cells recorded before grids had arms
        cells = cells.assign(arm="")
    for key, g in cells.groupby(GROUP, sort=True):
        ok = g[g["status"] == "FINISHED"]
        row = dict(zip(GROUP, key), n_cells=len(ok), n_failed=len(g) - len(ok))
        for m in metrics:
            row[f"{m}_mean"], row[f"{m}_ci95"] = t_interval(ok[m].tolist() if m in ok else [])
        rows.append(row)
    cols = GROUP + ["n_cells", "n_failed"] + [f"{m}_{s}" for m in metrics for s in ("mean", "ci95")]
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["dataset", "score/harmonic_mean"] if "score/harmonic" in metrics else GROUP,
                           ascending=[True, False] if "score/harmonic" in metrics else True,
                           na_position="last", ignore_index=True)


def leaderboard_html(board: pd.DataFrame, metrics: tuple[str, ...] = LEADERBOARD_METRICS, title: str = "") -> str:
    """The leaderboard as an HTML table with ``mean ± ci95`` cells."""
    def fmt(mean: float, ci: float) -> str:
        if math.isnan(mean):
            return "–"
        return f"{mean:.3f}" + ("" if math.isnan(ci) else f" ± {ci:.3f}")

    view = board[GROUP + ["n_cells", "n_failed"]].copy()
    for m in metrics:
        view[m] = [fmt(a, b) for a, b in zip(board[f"{m}_mean"], board[f"{m}_ci95"])]
    note = ("<p>Mean over seeds ± half-width of the 95 % t-interval (blank with one seed). "
            "Scores are on fixed 0–1 scales, higher is better.</p>")
    return (f"<html><head><meta charset='utf-8'><title>{title}</title></head><body><h2>{title}</h2>{note}"
            + view.to_html(index=False, border=0) + "</body></html>")
