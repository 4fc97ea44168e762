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


def test_help_and_models_print_no_warning():
    """No library warning on every command: MLflow's 'Add type hints' comes from defining a PythonModel
    subclass without one, transformers' FutureWarnings from importing it; neither may reach the user."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONWARNINGS": "default"}  # show every warning once, as a fresh interpreter would
    for args in (["--help"], ["models"], ["main", "--help"], ["tune", "--help"]):
        p = subprocess.run([sys.executable, "-m", "synllm_mlops.cli", *args], capture_output=True, text=True, env=env,
                           timeout=120)
        assert p.returncode == 0 and "Warning" not in p.stdout + p.stderr, (args, p.stderr[-2000:])


def test_the_served_model_class_defines_without_the_type_hint_warning():
    import subprocess
    import sys

    code = ("import warnings, mlflow.pyfunc\n"  # mlflow's own import-time warnings are not ours to judge
            "with warnings.catch_warnings(record=True) as seen:\n"
            "    warnings.simplefilter('always')\n"
            "    from synllm_mlops.serving import SynLLMGenerator\n"
            "print([str(w.message) for w in seen])")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stdout[-2000:] + p.stderr[-2000:]
