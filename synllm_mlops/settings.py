"""Every ``SYNLLM_*`` environment variable, in one place: its type, default, meaning and check.

Code never reads one of these with ``os.environ`` itself: it calls :func:`settings` and reads a typed
attribute. Each attribute reads its variable when asked (tests and ``monkeypatch.setenv`` see the current
environment) and validates it then, so a bad value fails the command that needs it with a message naming
the variable, the value and the fix, and does not break commands that never read it.
An empty value counts as unset.

Example:
    >>> settings({"SYNLLM_HEARTBEAT_S": "30"}).heartbeat_s
    30
    >>> settings({}).tracing
    True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from synllm_mlops.errors import ConfigError, show

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Variable:
    """One environment variable: how to read it, what it accepts (for the error), its default, what it does."""

    name: str
    parse: Callable[[str], Any]
    accepts: str
    default: Any
    doc: str


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise ValueError
        return value
    return parse


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError
    return value


def _bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError


VARIABLES: dict[str, Variable] = {v.name: v for v in (
    Variable("SYNLLM_CACHE_DIR", Path, "a folder", None,
             "where dequantized embedded models (and, by default, guard keys) are kept; default ~/.cache/synllm"),
    Variable("SYNLLM_EXPERIMENT", str, "an experiment name", None,
             "the MLflow experiment runs go to when MLFLOW_EXPERIMENT_NAME is not set; default synllm"),
    Variable("SYNLLM_HEARTBEAT_S", _whole(1), "a whole number of seconds >= 1", 60,
             "heartbeat interval of tuning workers (PostgreSQL storage) and claimed grid cells; a worker silent "
             "for 3 intervals is taken for dead"),
    Variable("SYNLLM_TRACKING_TIMEOUT_S", _positive, "a number of seconds > 0", 3.0,
             "how long to wait for an HTTP tracking server to answer before failing with the fix"),
    Variable("SYNLLM_TRACING", _bool, "true or false", True, "MLflow traces of generation runs (counts, never rows)"),
    Variable("SYNLLM_BACKEND", str, "a backend name", None,
             "the backend `synllm tune` uses when --backend is not given (the team stack's tests use fake)"),
    Variable("SYNLLM_SERVE_MAX_ROWS", _whole(1), "a whole number >= 1 (rows per call)", 1_000,
             "the most rows one call of a served model may ask for"),
    Variable("SYNLLM_GUARD_KEY", str, "a hex key", None,
             "the copy guard's key where a model is served (or the team's shared key at registration); secret"),
    Variable("SYNLLM_GUARD_KEY_FILE", Path, "a file path", None, "a file holding the copy guard's key"),
    Variable("SYNLLM_GUARD_KEY_DIR", Path, "a folder", None,
             "where registration saves guard keys; default <SYNLLM_CACHE_DIR>/guard-keys"),
    Variable("SYNLLM_ALLOW_UNGUARDED", _bool, "true or false", False,
             "serve a model whose guard key is missing, without the copy guard (responses say so)"),
    Variable("SYNLLM_WHEEL", Path, "a synllm_mlops-*.whl file", None,
             "a prebuilt synllm_mlops wheel to ship with a registered model (an install without the source tree)"),
)}


@dataclass(frozen=True)
class Settings:
    """The ``SYNLLM_*`` settings of one environment; build it with :func:`settings`."""

    environ: Mapping[str, str] = field(repr=False)

    def get(self, name: str) -> Any:
        """The typed value of variable ``name`` (its default when unset or empty).

        Raises:
            ConfigError: the value is not what the variable accepts.
        """
        var = VARIABLES[name]
        text = self.environ.get(name, "").strip()
        if not text:
            return var.default
        try:
            return var.parse(text)
        except ValueError:
            shown = "(hidden)" if name == "SYNLLM_GUARD_KEY" else show(text)
            fix = f"unset it for the default ({var.default})" if var.default is not None else "unset it"
            raise ConfigError(f"{name} must be {var.accepts}, got {shown}; fix: set it to {var.accepts} or {fix}") from None

    def check(self) -> None:
        """Validate every variable at once (one error listing each bad one)."""
        problems = []
        for name in VARIABLES:
            try:
                self.get(name)
            except ConfigError as e:
                problems.append(str(e))
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def cache_dir(self) -> Path:
        return self.get("SYNLLM_CACHE_DIR") or Path.home() / ".cache" / "synllm"

    @property
    def experiment(self) -> str | None:
        return self.get("SYNLLM_EXPERIMENT")

    @property
    def heartbeat_s(self) -> int:
        return self.get("SYNLLM_HEARTBEAT_S")

    @property
    def tracking_timeout_s(self) -> float:
        return self.get("SYNLLM_TRACKING_TIMEOUT_S")

    @property
    def tracing(self) -> bool:
        return self.get("SYNLLM_TRACING")

    @property
    def backend(self) -> str | None:
        return self.get("SYNLLM_BACKEND")

    @property
    def serve_max_rows(self) -> int:
        return self.get("SYNLLM_SERVE_MAX_ROWS")

    @property
    def guard_key(self) -> str | None:
        return self.get("SYNLLM_GUARD_KEY")

    @property
    def guard_key_file(self) -> Path | None:
        return self.get("SYNLLM_GUARD_KEY_FILE")

    @property
    def guard_key_dir(self) -> Path:
        return self.get("SYNLLM_GUARD_KEY_DIR") or self.cache_dir / "guard-keys"

    @property
    def allow_unguarded(self) -> bool:
        return self.get("SYNLLM_ALLOW_UNGUARDED")

    @property
    def wheel(self) -> Path | None:
        return self.get("SYNLLM_WHEEL")


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of ``environ`` (default: this process's environment; each attribute reads it when read).

    Example:
        >>> settings({"SYNLLM_TRACING": "off"}).tracing
        False
    """
    return Settings(os.environ if environ is None else environ)


__all__ = ["VARIABLES", "Settings", "Variable", "settings"]
