"""Serving: the registered generator as an MLflow pyfunc model, its request checks, copy guard and pinned wheel.

Sits above ``pipeline`` (rows come from the pipeline's sampling loop) and ``tracking`` (registration logs
the model on the run tracking opened); ``tracking`` only logs and imports nothing from here.
``SynLLMGenerator`` subclasses mlflow's ``PythonModel`` and is imported on first use, so importing this
package does not import mlflow.
"""

from synllm_mlops.serving._guard import (
    KEY_ENV,
    KEY_FILE_ENV,
    UNGUARDED_ENV,
    GuardKeys,
    data_digest_key,
    key_id,
    load_key,
    new_guard,
    row_digest,
)
from synllm_mlops.serving._register import log_generator_model
from synllm_mlops.serving._requests import DEFAULT_MAX_ROWS, MAX_ROWS_ENV, SEED_MAX, max_rows_from_env, parse_requests
from synllm_mlops.serving._wheel import WHEEL_ENV, own_wheel

__all__ = ["DEFAULT_MAX_ROWS", "GuardKeys", "KEY_ENV", "KEY_FILE_ENV", "MAX_ROWS_ENV", "SEED_MAX", "SynLLMGenerator",
           "UNGUARDED_ENV", "WHEEL_ENV", "data_digest_key", "key_id", "load_key", "log_generator_model", "max_rows_from_env", "new_guard",
           "own_wheel", "parse_requests", "row_digest"]


def __getattr__(name: str):
    if name == "SynLLMGenerator":  # subclasses mlflow's PythonModel: importing it imports mlflow
        from synllm_mlops.serving._served import SynLLMGenerator

        return SynLLMGenerator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
