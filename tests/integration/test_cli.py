"""The CLI as a user meets it: exit codes and messages for bad input (no model is loaded)."""

from click.testing import CliRunner

from synllm_mlops.cli import cli


def _run(*args):
    return CliRunner().invoke(cli, list(args))


def test_unknown_strategy():
    r = _run("generate", "--strategy", "clinrule")
    assert r.exit_code == 2 and "unknown strategy 'clinrule'; choose one of: seed_ex, featdesc, statguide, clin_rule" in r.output


def test_unknown_dataset():
    r = _run("main", "--dataset", "diabetis")
    assert r.exit_code == 2 and "unknown dataset 'diabetis'" in r.output


def test_kaggle_dataset_without_data():
    r = _run("main", "--dataset", "stroke")
    assert r.exit_code == 2 and "pass data=<path to the CSV>" in r.output


def test_spec_that_does_not_match_the_data(small_csv):
    r = _run("main", "--dataset", "diabetes", "--data", str(small_csv))
    assert r.exit_code == 2 and "missing columns" in r.output and "extra columns" in r.output


def test_unknown_model():
    r = _run("generate", "--model", "llama-9000")
    assert r.exit_code == 2 and "unknown model 'llama-9000'" in r.output


def test_spec_infer_prints_and_writes(small_csv, tmp_path):
    r = _run("spec", "infer", str(small_csv), "--target", "outcome")
    assert r.exit_code == 0 and "target: outcome" in r.output and "patient_id" in r.output
    out = tmp_path / "s.yaml"
    r = _run("spec", "infer", str(small_csv), "-o", str(out))
    assert r.exit_code == 0 and out.is_file()
    r = _run("spec", "check", str(out), "--data", str(small_csv))
    assert r.exit_code == 0 and "data OK: 60 rows" in r.output


def test_models_lists_catalog():
    r = _run("models")
    assert r.exit_code == 0 and "smollm2-135m" in r.output and "mistral-7b-instruct-v0.2" in r.output
