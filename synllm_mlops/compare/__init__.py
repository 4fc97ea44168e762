"""Comparison grids: models x strategies x datasets x seeds, one MLflow parent run, a leaderboard and figures."""

from synllm_mlops.compare._cli import compare_cmd
from synllm_mlops.compare._grid import Cell, DatasetEntry, GridConfig, VLLMSettings, cell_hash, load_grid
from synllm_mlops.compare._leaderboard import LEADERBOARD_METRICS, leaderboard, t_interval
from synllm_mlops.compare._runner import CompareOutcome, run_compare

__all__ = ["LEADERBOARD_METRICS", "Cell", "CompareOutcome", "DatasetEntry", "GridConfig", "VLLMSettings",
           "cell_hash", "compare_cmd", "leaderboard", "load_grid", "run_compare", "t_interval"]
