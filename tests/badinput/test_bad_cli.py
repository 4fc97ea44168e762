"""Bad CLI flags and MLproject parameters (main, generate, evaluate, probe, tune, compare): each is one clear
``error:`` line naming the problem, the value as written and the fix, exit code 2, before any model loads."""

from __future__ import annotations

import pytest
from _harness import Case, check_cli, check_mlproject

UNREACHABLE = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}  # the discard port: nothing listens there


def _write(name: str, text: str):
    def setup(work):
        (work / name).write_text(text)
    return setup


def _dir(name: str):
    def setup(work):
        (work / name).mkdir()
    return setup


CASES = [
    # --- integers and numbers: validated by their config field, as written (range, whole number) --------------
    Case("seed-too-large", ("main", "--seed", "4294967296"), "seed", "4294967296", "<= 4294967295"),
    Case("seed-negative", ("generate", "--seed", "-1"), "seed", "(got -1)", "a whole number >= 0"),
    Case("n-rows-fraction", ("main", "--n-rows", "2.9"), "not an integer", "2.9", "a whole number >= 1"),
    Case("n-rows-negative-fraction", ("generate", "--n-rows", "-0.5"), "not an integer", "-0.5", "--n-rows"),
    Case("n-rows-zero", ("main", "--n-rows", "0"), "n_rows", "(got 0)", ">= 1 and <= 1000000"),
    Case("n-rows-text", ("main", "--n-rows", "many"), "not an integer", "'many'", "a whole number"),
    Case("batch-size-zero", ("generate", "--batch-size", "0"), "batch_size", "(got 0)", "--batch-size"),
    Case("temperature-negative", ("main", "--temperature", "-1"), "temperature", "(got -1)", "a number > 0 and <= 5"),
    Case("top-p-above-one", ("main", "--top-p", "2"), "top_p", "(got 2)", "<= 1"),
    Case("holdout-fraction", ("main", "--holdout-fraction", "1.5"), "holdout_fraction", "1.5", "> 0 and < 1"),
    Case("dp-epsilon-negative", ("main", "--dp-epsilon", "-1"), "dp_epsilon", "(got -1)", "a number > 0"),
    Case("dp-epsilon-zero", ("generate", "--dp-epsilon", "0"), "dp_epsilon", "(got 0)", "a number > 0"),
    Case("dp-epsilon-text", ("main", "--dp-epsilon", "abc"), "not a number", "'abc'", "--dp-epsilon"),
    Case("max-new-tokens-zero", ("main", "--max-new-tokens", "0"), "max_new_tokens", "(got 0)", ">= 1"),
    Case("constrained-not-bool", ("main", "--constrained", "maybe"), "not true or false", "'maybe'", "true or false"),
    Case("calibration-unknown", ("main", "--calibration", "bogus"), "calibration", "'bogus'",
         "none, select, steer, select+steer"),
    Case("statistics-unknown", ("main", "--statistics", "moments,bogus"), "unknown statistics", "'bogus'", "choose from"),
    # --- names, files and flags ------------------------------------------------------------------------------
    Case("backend-unknown", ("generate", "--backend", "tgi"), "unknown backend", "'tgi'", "choose one of"),
    Case("model-not-a-model", ("main", "--model", "{work}/notes.txt"), "unknown model", "notes.txt",
         "catalog aliases", setup=_write("notes.txt", "not weights\n")),
    Case("model-empty-dir", ("generate", "--model", "{work}/weights"), "is not available", "weights",
         "fix:", setup=_dir("weights")),
    Case("config-missing", ("main", "--config", "{work}/run.yaml"), "does not exist", "run.yaml", "pass --config"),
    Case("config-bad-yaml", ("main", "--config", "{work}/run.yaml"), "not valid YAML", "run.yaml", "correct the YAML",
         setup=_write("run.yaml", "n_rows: [1\n")),
    Case("config-unknown-key", ("generate", "--config", "{work}/run.yaml"), "unknown key", "n_row",
         "did you mean n_rows", setup=_write("run.yaml", "n_row: 5\n")),
    Case("config-fraction", ("main", "--config", "{work}/run.yaml"), "not an integer", "2.9", "a whole number",
         setup=_write("run.yaml", "n_rows: 2.9\n")),
    Case("config-not-a-mapping", ("main", "--config", "{work}/run.yaml"), "mapping of settings", "list",
         "key: value", setup=_write("run.yaml", "- 1\n- 2\n")),
    Case("unknown-flag", ("main", "--n-row", "5"), "no such option", "--n-row", "--help"),
    Case("flag-without-value", ("generate", "--seed"), "requires an argument", "--seed", "--help"),
    Case("unknown-command", ("mian",), "no such command", "'mian'", "--help"),
    Case("unreachable-server", ("generate", "--backend", "fake", "--n-rows", "5"), "cannot reach the MLflow tracking",
         "http://127.0.0.1:9", "set MLFLOW_TRACKING_URI", env=UNREACHABLE),
    # --- evaluate --------------------------------------------------------------------------------------------
    Case("evaluate-seed-negative", ("evaluate", "--synthetic", "{work}/s.csv", "--dataset", "cirrhosis", "--seed", "-1"),
         "seed", "(got -1)", "a whole number >= 0", setup=_write("s.csv", "age\n1\n")),
    Case("evaluate-unknown-run", ("evaluate", "--run-id", "deadbeef"), "no run", "'deadbeef'", "--run-id of a generate"),
    Case("evaluate-neither", ("evaluate", "--dataset", "cirrhosis"), "exactly one of", "run_id=''",
         "pass either --run-id or --synthetic"),
    Case("evaluate-synthetic-missing", ("evaluate", "--synthetic", "{work}/syn.csv", "--dataset", "cirrhosis"),
         "does not exist", "syn.csv", "pass --synthetic"),
    Case("evaluate-unreachable", ("evaluate", "--run-id", "abc"), "cannot reach", "http://127.0.0.1:9",
         "start it", env=UNREACHABLE),
    # --- probe -----------------------------------------------------------------------------------------------
    Case("probe-n-probes-zero", ("probe", "--n-probes", "0"), "n_probes", "(got 0)", "a whole number >= 1"),
    Case("probe-seed-fraction", ("probe", "--seed", "1.5"), "not an integer", "1.5", "--seed"),
    Case("probe-prefix-too-long", ("probe", "--backend", "fake", "--n-prefix-fields", "19"), "n_prefix_fields",
         "got 19", "0 for half the columns"),
    Case("probe-backend-unknown", ("probe", "--backend", "tgi"), "unknown backend", "'tgi'", "choose one of"),
    # --- tune ------------------------------------------------------------------------------------------------
    Case("tune-strategies-empty", ("tune", "--strategies", ""), "strategies names none", "''", "choose one or more"),
    Case("tune-strategies-commas", ("tune", "--strategies", ","), "strategies names none", "','", "choose one or more"),
    Case("tune-strategies-unknown", ("tune", "--strategies", "clinrule"), "unknown strategies", "'clinrule'",
         "choose from"),
    Case("tune-calibrations-unknown", ("tune", "--calibrations", "bogus"), "unknown calibrations", "'bogus'",
         "choose from"),
    Case("tune-n-trials-negative", ("tune", "--n-trials", "-1"), "n_trials", "(got -1)", "a whole number >= 0"),
    Case("tune-n-trials-fraction", ("tune", "--n-trials", "2.5"), "not an integer", "2.5", "--n-trials"),
    Case("tune-n-trials-zero-no-study", ("tune", "--backend", "fake", "--n-trials", "0", "--storage", "{work}/s.db"),
         "does not exist", "s.db", "--n-trials 1 or more"),
    Case("tune-storage-missing-folder", ("tune", "--storage", "sqlite:///{work}/missing/dir/x.db"), "does not exist",
         "missing/dir", "mkdir -p"),
    Case("tune-storage-journal-folder", ("tune", "--storage", "{work}/nope/s.journal"), "does not exist", "nope",
         "mkdir -p"),
    Case("tune-storage-scheme", ("tune", "--study-name", "s", "--storage", "mongodb://h/db"), "unknown storage scheme",
         "'mongodb://'", "postgresql+psycopg2://"),
    Case("tune-sampler-unknown", ("tune", "--sampler", "cmaes"), "unknown sampler", "'cmaes'", "choose one of"),
    Case("tune-min-validity", ("tune", "--min-validity", "2"), "min_validity", "(got 2)", ">= 0 and <= 1"),
    Case("tune-champion-negative", ("tune", "--champion-trial", "-1"), "champion_trial", "(got -1)", ">= 0"),
    Case("tune-sampler-seed-large", ("tune", "--sampler-seed", "4294967296"), "sampler_seed", "4294967296",
         "<= 4294967295"),
    Case("tune-timeout-negative", ("tune", "--timeout", "-5"), "timeout_s", "(got -5)", "--timeout"),
    Case("tune-models-unknown", ("tune", "--models", "smollm2-135m,gpt-17"), "unknown model", "'gpt-17'",
         "catalog aliases"),
    Case("tune-config-unknown-key", ("tune", "--config", "{work}/t.yaml"), "unknown key", "n_trial",
         "did you mean n_trials", setup=_write("t.yaml", "n_trial: 3\n")),
    Case("tune-run-field", ("tune", "--temperature", "9"), "temperature", "(got 9)", "<= 5"),
    # --- compare ---------------------------------------------------------------------------------------------
    Case("compare-config-missing", ("compare", "--config", "{work}/grid.yaml"), "does not exist", "grid.yaml",
         "pass --config"),
    Case("compare-unknown-flag", ("compare", "--grid", "x.yaml"), "no such option", "--grid", "--help"),
    Case("compare-unreachable", ("compare", "--config", "{work}/grid.yaml"), "cannot reach", "http://127.0.0.1:9",
         "set MLFLOW_TRACKING_URI", env=UNREACHABLE, setup=_write("grid.yaml", (
             "name: g\nmodels: [fake]\nstrategies: [clin_rule]\ndatasets: [{name: cirrhosis}]\nseeds: [0]\n"
             "backend: fake\nn_rows: 5\n"))),
]


def test_cases_are_many_and_distinct():
    assert len({c.id for c in CASES}) == len(CASES) >= 30
    plain = [c.argv for c in CASES if c.setup is None and not c.env]  # the rest differ by their files or environment
    assert len(set(plain)) == len(plain)
    assert {c.argv[0] for c in CASES} >= {"main", "generate", "evaluate", "probe", "tune", "compare"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_flag(case, tmp_path, monkeypatch):
    check_cli(case, tmp_path, monkeypatch)


MLPROJECT = [
    ("main", {"n_rows": "2.9"}, Case("mlproject-main", (), "not an integer", "2.9", "a whole number >= 1")),
    ("generate", {"seed": "4294967296"}, Case("mlproject-generate", (), "seed", "4294967296", "<= 4294967295")),
    ("evaluate", {"run_id": "deadbeef"}, Case("mlproject-evaluate", (), "no run", "'deadbeef'", "--run-id of a")),
    ("probe", {"n_probes": "0"}, Case("mlproject-probe", (), "n_probes", "(got 0", "a whole number >= 1")),
    ("compare", {"config": "{work}/grid.yaml"}, Case("mlproject-compare", (), "does not exist", "grid.yaml",
                                                     "pass --config")),
    ("tune", {"strategies": ","}, Case("mlproject-tune", (), "strategies names none", "','", "choose one or more")),
]


@pytest.mark.parametrize("entry,params,case", MLPROJECT, ids=[m[0] for m in MLPROJECT])
def test_bad_mlproject_parameter(entry, params, case, tmp_path):
    check_mlproject(entry, params, case, tmp_path)


def test_evaluate_refuses_real_data_other_than_the_runs(tmp_path, monkeypatch):
    """``evaluate --run-id`` re-splits the real data: data that is not the run's (by its logged digest) is refused."""
    from synllm_mlops.config import RunConfig
    from synllm_mlops.spec import data_digest, load_data, load_spec
    from synllm_mlops.workflow import run_generation

    gen = tmp_path / "gen"
    gen.mkdir()
    uri = f"sqlite:///{gen / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("SYNLLM_GUARD_KEY_DIR", str(gen / "keys"))
    monkeypatch.chdir(gen)
    import mlflow

    mlflow.set_tracking_uri(uri)  # the process's store, whatever an earlier test left set
    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):  # ids of another store (mlflow.set_experiment exports them)
        monkeypatch.delenv(var, raising=False)
    run = run_generation(RunConfig(backend="fake", model="fake", n_rows=4, batch_size=4, calibration="none",
                                   dp_epsilon="none"),  # a plain digest (a DP run's is keyed: another message)
                         evaluate=False, progress=False)
    real = load_data(load_spec("cirrhosis"))
    edited = real.drop(index=real.index[0])

    def setup(work):
        edited.to_csv(work / "edited.csv", index=False)

    case = Case("evaluate-other-data", ("evaluate", "--run-id", run.run_id, "--data", "{work}/edited.csv"),
                f"is not the data run {run.run_id} was generated from", data_digest(real),
                "fix: pass the run's original --data (it used the built-in data: leave --data out)",
                setup=setup, env={"MLFLOW_TRACKING_URI": uri})
    (tmp_path / "check").mkdir()
    out = check_cli(case, tmp_path / "check", monkeypatch)
    assert data_digest(edited) in out  # both digests are named
    mlflow.set_tracking_uri(None)
