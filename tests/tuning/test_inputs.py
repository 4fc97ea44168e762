"""Tune settings that cannot work are refused before a study, a run or a model exists."""

import pytest

from synllm_mlops.errors import ConfigError
from synllm_mlops.tuning import TuneConfig, trials_table


@pytest.mark.parametrize("storage,message", [
    ("sqlite:///{tmp}/missing/x.db", r"the folder of storage .* does not exist .*; fix: create it \(mkdir -p "),
    ("{tmp}/missing/x.sqlite3", "does not exist"),
    ("{tmp}/missing/x.journal", "does not exist"),
    ("mongodb://host/db", r"unknown storage scheme 'mongodb://'.*; fix: pass --storage as one of"),
])
def test_a_storage_that_cannot_work_is_refused(storage, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        TuneConfig.build(storage=storage.format(tmp=tmp_path))


@pytest.mark.parametrize("storage", ["", "optuna.sqlite3", "sqlite:///{tmp}/s.db", "{tmp}/s.journal",
                                     "postgresql+psycopg2://u@host:5432/db", "sqlite://"])
def test_storages_that_can_work_pass(storage, tmp_path):
    assert TuneConfig.build(storage=storage.format(tmp=tmp_path)).storage == storage.format(tmp=tmp_path)


@pytest.mark.parametrize("field,value,message", [
    ("strategies", "", r"strategies names none \(got ''\)"),
    ("strategies", " , ", r"strategies names none \(got ' , '\)"),
    ("strategies", "clin_rule,clinrule", r"unknown strategies \['clinrule'\]; choose from"),
    ("calibrations", "both", r"unknown calibrations \['both'\]; choose from"),
])
def test_search_lists_are_checked_with_the_config(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TuneConfig.build(**{field: value})


def test_an_empty_study_has_an_empty_trials_table_with_its_columns():
    import optuna

    table = trials_table(optuna.create_study(directions=["maximize", "minimize"]))
    assert len(table) == 0 and {"state", "pareto", "quality", "privacy_risk", "mlflow_run_id"} <= set(table.columns)


def test_n_trials_zero_on_a_missing_study_creates_nothing(tmp_path, mlflow_store):
    from synllm_mlops.tuning import tune

    storage = tmp_path / "fresh.sqlite3"
    with pytest.raises(ConfigError, match=r"n_trials=0 only summarises an existing study, but study 'synllm-cirrhosis'"
                                          r".* does not exist; fix: pass --n-trials 1 or more"):
        tune(TuneConfig.build(n_trials=0, storage=str(storage), backend="fake"), progress=False)
    assert not storage.exists()
    import mlflow

    assert not mlflow.search_runs(search_all_experiments=True, output_format="list")  # no run was started
