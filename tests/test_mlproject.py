"""The MLproject's entry points expose RunConfig / TuneConfig fields by their names, with the same defaults."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml

from synllm_mlops.cli import cli
from synllm_mlops.config import RunConfig
from synllm_mlops.tuning import TuneConfig
from synllm_mlops.tuning._study import _RUN_DEFAULTS

MLPROJECT = yaml.safe_load((Path(__file__).resolve().parent.parent / "MLproject").read_text())["entry_points"]


def _default(info, override=None):
    if override is not None:
        return override
    return info.default_factory() if info.default_factory else info.default


def _as_mlproject(value) -> object:
    """How the MLproject writes a model default: None -> "", bools "true"/"false", lists comma-joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(value)
    return value


def _fields(entry: str) -> dict[str, tuple[object, object]]:
    """MLproject parameter name -> (field info, default) of the config behind ``entry``."""
    if entry == "tune":
        out = {}
        for name, info in TuneConfig.tune_fields().items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            out[extra.get("flag", name)] = (info, _default(info))
        for name, info in RunConfig.flat_fields().items():
            out[name] = (info, _default(info, _RUN_DEFAULTS.get(name)))
        return out
    return {name: (info, _default(info)) for name, info in RunConfig.flat_fields().items()}


@pytest.mark.parametrize("entry", ["main", "generate", "tune"])
def test_every_parameter_is_a_config_field_with_the_same_default(entry):
    fields = _fields(entry)
    params = MLPROJECT[entry]["parameters"]
    unknown = sorted(set(params) - set(fields))
    assert not unknown, f"MLproject {entry} parameters {unknown} are not config fields"
    for name, p in params.items():
        # dp_epsilon's default depends on the strategy (seed_ex: none), so the MLproject leaves it empty (= default)
        want = "" if name == "dp_epsilon" else _as_mlproject(fields[name][1])
        got = p["default"]
        assert got == want or (isinstance(want, (int, float)) and float(got) == float(want)), (entry, name, got, want)


@pytest.mark.parametrize("entry", ["main", "generate"])
def test_run_entry_points_expose_every_run_field(entry):
    assert set(MLPROJECT[entry]["parameters"]) == set(RunConfig.flat_fields())


@pytest.mark.parametrize("entry", ["main", "generate", "tune", "compare"])
def test_the_command_passes_every_parameter_to_an_existing_flag(entry):
    command = cli.commands[entry]
    flags = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
    for name in MLPROJECT[entry]["parameters"]:
        flag = "--" + name.replace("_", "-")
        assert flag in flags, f"{entry}: no CLI flag {flag}"
        assert f"{flag} " in MLPROJECT[entry]["command"] and f"{{{name}}}" in MLPROJECT[entry]["command"]


@pytest.mark.parametrize("entry,key", [("main", "data"), ("evaluate", "synthetic"), ("evaluate", "run_id"),
                                       ("tune", "storage"), ("compare", "config"), ("compare", "shard")])
def test_a_parameter_value_reaches_the_command_as_one_argument(entry, key, tmp_path):
    """MLflow shell-quotes every value; quotes of our own would cancel that (shell injection, split paths)."""
    import shlex

    from mlflow.projects._project_spec import load_project

    project = load_project(str(Path(__file__).resolve().parents[1]))
    ep = project.get_entry_point(entry)
    evil = "x y;touch " + str(tmp_path / "PWNED") + ";'\""
    params = {k: (evil if k == key else p.default) for k, p in ep.parameters.items() if p.default is not None}
    cmd = ep.compute_command(params, storage_dir=str(tmp_path))
    argv = shlex.split(cmd)
    assert evil in argv, cmd
