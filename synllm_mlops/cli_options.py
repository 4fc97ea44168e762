"""Click options generated from pydantic config models, and the flags a user actually set.

Every leaf field of a config (nested groups included) becomes ``--field-name``, with the field's
description and default as help. Options carry no click default: a flag the user did not give is
not forwarded, so the model's default (or a ``--config`` file) applies. Values arrive as the user wrote
them; pydantic validates them once, with the type and limits declared on the field.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Callable

import click
from pydantic.fields import FieldInfo

from synllm_mlops.config import default_text


class _AsWritten(click.ParamType):
    """A number or boolean passed on as written: its config field validates it (type, range, whole number),
    so ``200.0`` (how MLflow renders a float-typed parameter) is 200 while ``2.9`` is refused, never truncated,
    and the message quotes what the user wrote."""

    def __init__(self, name: str):
        self.name = name

    def convert(self, value, param, ctx):
        return value


class _Optional(click.ParamType):
    """``inner``, or ``""`` for "not set" (how an MLproject passes an empty optional value).

    ``none`` is "not set" too where the field's default is none; where it is not (``dp_epsilon``), ``none`` is a
    value of its own (the explicit choice of no DP) and is passed on for the field to read.
    """

    def __init__(self, inner: click.ParamType, none_is_value: bool = False):
        self.inner, self.none_is_value = inner, none_is_value
        self.name = f"{inner.name}, none or empty" if none_is_value else f"{inner.name} or empty"

    def convert(self, value, param, ctx):
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return None
        if isinstance(value, str) and value.strip().lower() == "none":
            return "none" if self.none_is_value else None
        return self.inner.convert(value, param, ctx)


def _click_type(annotation: Any, none_is_value: bool = False) -> click.ParamType:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return _Optional(_click_type(args[0]), none_is_value)
    if annotation in (bool, int, float):
        return _AsWritten({bool: "boolean", int: "integer", float: "number"}[annotation])
    return click.STRING  # str, and comma-separated lists (the model's validators split them)


def field_options(fields: dict[str, FieldInfo], *, defaults: dict[str, Any] | None = None,
                  hidden: tuple[str, ...] = ()) -> Callable:
    """A decorator adding one option per field (``n_rows`` -> ``--n-rows``); ``defaults`` only changes the help.

    A field may name its flag with ``json_schema_extra={"flag": "register"}``.
    """
    defaults = defaults or {}

    def deco(f: Callable) -> Callable:
        for name, info in reversed(list(fields.items())):
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            flag = "--" + str(extra.get("flag", name)).replace("_", "-")
            default = defaults[name] if name in defaults else (
                info.default_factory() if info.default_factory else info.default)
            f = click.option(flag, name, default=None, type=_click_type(info.annotation, default is not None),
                             hidden=name in hidden,
                             help=f"{info.description or ''} [default: {default_text(default)}]".strip())(f)
        return f
    return deco


def explicit(ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The options the user gave (command line or environment), not the ones left at their default."""
    given = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    return {k: v for k, v in values.items() if ctx.get_parameter_source(k) in given}
