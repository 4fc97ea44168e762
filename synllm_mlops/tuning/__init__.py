"""Optuna tuning: prompt + sampling search, one MLflow parent run per study, a registered champion generator."""

from synllm_mlops.tuning._cli import tune_cmd
from synllm_mlops.tuning._faults import heartbeat, worker_id
from synllm_mlops.tuning._report import hypervolume_2d, trials_table
from synllm_mlops.tuning._space import SearchSpace
from synllm_mlops.tuning._storage import end_orphans, open_storage
from synllm_mlops.tuning._study import TuneConfig, TuneResult, choose_champion, redact, tune

__all__ = ["SearchSpace", "TuneConfig", "TuneResult", "choose_champion", "end_orphans", "heartbeat", "hypervolume_2d",
           "open_storage", "redact", "trials_table", "tune", "tune_cmd", "worker_id"]
