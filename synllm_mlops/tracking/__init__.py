"""MLflow tracking: runs, params, prompts, data inputs by digest, tables, metrics and figures."""

from synllm_mlops.tracking._mlflow import (
    EXPERIMENT,
    active_run_id,
    download_run_csv,
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

__all__ = ["EXPERIMENT", "active_run_id", "download_run_csv", "git_commit", "log_dataframe", "log_dict",
           "log_evaluation", "log_figures", "log_metrics", "log_params", "log_prompt", "log_real_data_input",
           "log_synthetic", "log_text", "register_prompt", "run_params", "set_tags", "tracked_run"]
