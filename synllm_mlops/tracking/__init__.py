"""MLflow tracking: runs, params, prompts, data inputs by digest, tables, metrics and figures."""

from synllm_mlops.tracking._mlflow import (
    EXPERIMENT,
    download_run_csv,
    download_run_text,
    git_commit,
    log_dataframe,
    log_dict,
    log_evaluation,
    log_figures,
    log_metrics,
    log_params,
    log_prompt,
    log_real_data_input,
    log_synthetic,
    log_text,
    register_prompt,
    run_params,
    set_tags,
    tracked_run,
)
from synllm_mlops.tracking._describe import HEADLINE_TAG, NOTE_TAG, headline, model_alias, run_description
from synllm_mlops.tracking._experiment import active_experiment_name, experiment_name, runs_view_url
from synllm_mlops.tracking._tracing import generation_trace, tracing_enabled
from synllm_mlops.tracking._model import (
    end_active_run,
    end_open_runs,
    find_child_run,
    log_matplotlib,
    log_plotly,
    log_run_params,
    record_generator,
    release_generator,
    run_tag,
    set_run_tags,
)
from synllm_mlops.tracking._reach import check_reachable
from synllm_mlops.tracking._compare import (
    CELL_HASH_TAG,
    CLAIM_TAG,
    EVALUATION_RUN_TAG,
    HEARTBEAT_TAG,
    OUTSIDE_DP_TAG,
    PARENT_TAG,
    PRIVATE_TAG,
    WORKER_TAG,
    CellRun,
    beat,
    cell_metrics,
    cell_runs,
    create_cell_run,
    discard_run,
    end_lost_run,
    finished_cells,
    record_failed_cell,
)

__all__ = ["CELL_HASH_TAG", "CLAIM_TAG", "CellRun", "EVALUATION_RUN_TAG", "EXPERIMENT", "HEADLINE_TAG", "HEARTBEAT_TAG",
           "NOTE_TAG", "OUTSIDE_DP_TAG", "PARENT_TAG", "PRIVATE_TAG",
           "WORKER_TAG", "active_experiment_name", "beat", "cell_metrics",
           "cell_runs", "check_reachable", "create_cell_run", "discard_run", "download_run_csv", "download_run_text",
           "end_active_run", "end_lost_run", "end_open_runs", "experiment_name", "find_child_run", "finished_cells",
           "generation_trace", "git_commit", "headline", "log_dataframe", "log_dict", "log_evaluation", "log_figures",
           "log_matplotlib", "log_metrics", "log_params", "log_plotly", "log_prompt",
           "log_real_data_input", "log_run_params", "log_synthetic", "log_text", "model_alias", "record_failed_cell",
           "record_generator", "register_prompt", "release_generator", "run_description", "run_params", "run_tag",
           "runs_view_url", "set_run_tags", "set_tags", "tracing_enabled", "tracked_run"]

