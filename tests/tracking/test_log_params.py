"""log_params under `mlflow run`: a -P value the run resolved differently is shown as tag synllm.effective.<key>."""

from __future__ import annotations


def test_a_param_already_logged_with_another_value_gets_its_effective_value_as_a_tag(mlflow_store):
    import mlflow

    from synllm_mlops import tracking

    mlflow.set_experiment("synllm-test")  # this store's experiment, not one cached from an earlier test's store
    with mlflow.start_run() as run:
        mlflow.log_params({"dp_epsilon": "", "n_rows": "200"})  # as `mlflow run` logs its -P defaults
        tracking.log_params({"dp_epsilon": 4.0, "n_rows": 200, "seed": 0, "data": ""})
    got = mlflow.MlflowClient().get_run(run.info.run_id).data
    assert got.params == {"dp_epsilon": "", "n_rows": "200", "seed": "0"}  # params are never rewritten
    assert got.tags["synllm.effective.dp_epsilon"] == "4.0"
    assert "synllm.effective.n_rows" not in got.tags  # the same value: nothing to say
