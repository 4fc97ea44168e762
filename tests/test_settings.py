"""SYNLLM_* environment variables: typed, defaulted, validated with the variable, the value and the fix; read only here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import synllm_mlops
from synllm_mlops.errors import ConfigError
from synllm_mlops.settings import VARIABLES, Settings, settings

ROOT = Path(synllm_mlops.__file__).resolve().parent


def test_defaults_and_typed_values():
    s = settings({})
    assert (s.heartbeat_s, s.tracking_timeout_s, s.tracing, s.serve_max_rows, s.allow_unguarded) == (60, 3.0, True, 1000, False)
    assert s.experiment is None and s.backend is None and s.wheel is None
    assert s.cache_dir == Path.home() / ".cache" / "synllm" and s.guard_key_dir == s.cache_dir / "guard-keys"
    s = settings({"SYNLLM_CACHE_DIR": "/c", "SYNLLM_TRACING": "Off", "SYNLLM_TRACKING_TIMEOUT_S": "0.5",
                  "SYNLLM_HEARTBEAT_S": " 5 ", "SYNLLM_EXPERIMENT": ""})
    assert (s.cache_dir, s.guard_key_dir, s.tracing, s.tracking_timeout_s, s.heartbeat_s) == (
        Path("/c"), Path("/c/guard-keys"), False, 0.5, 5)
    assert s.experiment is None  # empty = unset


@pytest.mark.parametrize("name, value, rule", [
    ("SYNLLM_HEARTBEAT_S", "1.5", "a whole number of seconds >= 1"),
    ("SYNLLM_TRACKING_TIMEOUT_S", "-1", "a number of seconds > 0"),
    ("SYNLLM_TRACING", "maybe", "true or false"),
    ("SYNLLM_SERVE_MAX_ROWS", "0", "a whole number >= 1"),
])
def test_a_bad_value_names_the_variable_the_value_and_the_fix(name, value, rule):
    attr = {"SYNLLM_HEARTBEAT_S": "heartbeat_s", "SYNLLM_TRACKING_TIMEOUT_S": "tracking_timeout_s",
            "SYNLLM_TRACING": "tracing", "SYNLLM_SERVE_MAX_ROWS": "serve_max_rows"}[name]
    s = settings({name: value})
    with pytest.raises(ConfigError, match=rf"^{name} must be {re.escape(rule)}.*, got '{re.escape(value)}'; fix: .*default"):
        getattr(s, attr)
    with pytest.raises(ConfigError, match=name):
        s.check()
    settings({"SYNLLM_HEARTBEAT_S": value}).tracing  # a bad value breaks only what reads it


def test_the_guard_key_is_never_echoed():
    s = Settings({"SYNLLM_GUARD_KEY": "abc123"})
    assert "abc123" not in repr(s) and s.guard_key == "abc123"


def _env_reads(tree: ast.AST) -> list[str]:
    """``SYNLLM_*`` variables a module reads from ``os.environ`` / ``os.getenv``, by literal or by a module constant."""
    consts: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = [t for tgt in node.targets for t in (tgt.elts if isinstance(tgt, ast.Tuple) else [tgt])]
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            for t, v in zip(targets, values):
                if isinstance(t, ast.Name) and isinstance(v, ast.Constant) and str(v.value).startswith("SYNLLM_"):
                    consts[t.id] = v.value

    def name(arg: ast.AST) -> str | None:
        if isinstance(arg, ast.Constant) and str(arg.value).startswith("SYNLLM_"):
            return arg.value
        return consts.get(arg.id) if isinstance(arg, ast.Name) else None

    found = []
    for node in ast.walk(tree):
        src = ast.unparse(node.func if isinstance(node, ast.Call) else node.value) if isinstance(node, (ast.Call, ast.Subscript)) else ""
        if src in ("os.environ.get", "os.getenv", "os.environ.pop") and node.args and name(node.args[0]):
            found.append(name(node.args[0]))
        elif src == "os.environ" and isinstance(node, ast.Subscript) and name(node.slice):
            found.append(name(node.slice))
    return found


def test_every_variable_is_documented_and_every_reader_goes_through_settings():
    assert all(v.doc and v.accepts for v in VARIABLES.values())
    readers = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        for var in set(re.findall(r"SYNLLM_[A-Z_]+", text)):
            assert var in VARIABLES, f"{rel} names {var}, which settings.VARIABLES does not declare"
        if rel != "settings.py":
            readers += [f"{rel}: {var}" for var in _env_reads(ast.parse(text))]
    assert not readers, f"read SYNLLM_* through synllm_mlops.settings.settings(), not os.environ: {readers}"


def test_the_reader_check_can_fail():
    planted = 'import os\nA, B = "SYNLLM_X", "SYNLLM_Y"\nos.environ.get(A)\nos.environ[B]\nos.getenv("SYNLLM_Z", "1")\nos.environ.get("HOME")'
    assert sorted(_env_reads(ast.parse(planted))) == ["SYNLLM_X", "SYNLLM_Y", "SYNLLM_Z"]
