"""A grid reads a finished cell's metrics back; a DP cell's evaluation metrics live in its child run."""

import mlflow

from synllm_mlops import tracking


def test_cell_metrics_merge_a_dp_runs_evaluation_child(mlflow_store):
    mlflow.set_experiment("synllm-test")  # this store's: mlflow's fluent API may still hold an earlier store's id
    with mlflow.start_run() as run:
        mlflow.log_metric("gen/rows_valid", 12.0)
        with mlflow.start_run(nested=True) as child:
            mlflow.log_metric("score/harmonic", 0.5)
        mlflow.set_tag(tracking.EVALUATION_RUN_TAG, child.info.run_id)
    with mlflow.start_run() as plain:
        mlflow.log_metric("score/harmonic", 0.7)
    got = tracking.cell_metrics([run.info.run_id, plain.info.run_id])
    assert got[run.info.run_id] == {"gen/rows_valid": 12.0, "score/harmonic": 0.5}
    assert got[plain.info.run_id] == {"score/harmonic": 0.7}
