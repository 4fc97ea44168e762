"""set_run_tags: two study workers tagging the same run at once (a unique-key race in the store) is retried."""

from __future__ import annotations

import pytest


def test_a_duplicate_key_from_a_concurrent_tagger_is_retried_and_other_errors_are_not(mlflow_store, monkeypatch):
    import mlflow
    from mlflow.exceptions import MlflowException

    from synllm_mlops.tracking._model import set_run_tags

    mlflow.set_experiment("synllm-test")  # this store's experiment, not one cached from an earlier test's store
    with mlflow.start_run() as run:
        pass
    real = mlflow.MlflowClient.set_tag
    raised = []

    def racing(self, run_id, key, value, *a, **kw):
        if not raised:  # the other worker inserted the tag between this store's lookup and its insert
            real(self, run_id, key, "true", *a, **kw)
            raised.append(key)
            raise MlflowException('(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint '
                                  f'"tag_pk" DETAIL: Key (key, run_uuid)=({key}, {run_id}) already exists.')
        return real(self, run_id, key, value, *a, **kw)

    monkeypatch.setattr(mlflow.MlflowClient, "set_tag", racing)
    set_run_tags(run.info.run_id, {"synllm.pareto": "false"})
    assert raised == ["synllm.pareto"]
    assert mlflow.MlflowClient().get_run(run.info.run_id).data.tags["synllm.pareto"] == "false"  # this call's value

    def broken(self, run_id, key, value, *a, **kw):
        raise MlflowException("tag value too long")

    monkeypatch.setattr(mlflow.MlflowClient, "set_tag", broken)
    with pytest.raises(MlflowException, match="too long"):
        set_run_tags(run.info.run_id, {"synllm.pareto": "true"})
