"""Error hierarchy: every message states the rule, the value received and the fix."""

from __future__ import annotations

import re

_SECRET_QUERY = re.compile(r"([?&;](?:password|passwd|pwd|secret|token|api_?key|access_?key|sslpassword)=)[^&;#]*", re.I)


def redact(url: str) -> str:
    """Hide passwords in a URL shown in a message or a log: the userinfo password and secret query parameters.

    Example:
        >>> redact("postgresql://u:pw@h/db?sslmode=require&password=pw")
        'postgresql://u:***@h/db?sslmode=require&password=***'
    """
    return _SECRET_QUERY.sub(r"\1***", re.sub(r"(://[^:/@?#]+):[^/?#]*@", r"\1:***@", url))


class SynLLMError(Exception):
    """Base class for all errors raised by synllm_mlops."""


class ConfigError(SynLLMError, ValueError):
    """A configuration value (CLI flag, MLproject parameter, YAML key) is invalid."""


class SpecError(SynLLMError, ValueError):
    """A dataset spec is malformed or cannot be found."""


class DataError(SynLLMError, ValueError):
    """The real data cannot be read or does not match its spec."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup failed; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class CapabilityError(ConfigError):
    """A run asks its backend for something the backend does not declare it can do (the rule guide, steering)."""


class ModelLoadError(SynLLMError, RuntimeError):
    """A model could not be loaded (not available locally, or broken)."""


class GenerationError(SynLLMError, RuntimeError):
    """Generation produced no usable output."""


class PrivacyBudgetError(SynLLMError, ValueError):
    """A differential-privacy release would spend more epsilon than the run's budget has left."""


def show(value: object, *, numeric_text_bare: bool = False) -> str:
    """A value as a message shows it: as the user wrote it, never as Python's repr of a NumPy scalar.

    Text is quoted (``'abc'``, so blanks and empty strings stay visible); numbers are plain (``-5000``,
    ``0.25``: an integral float loses its ``.0``, a NumPy scalar its type); lists show their items so.
    With ``numeric_text_bare``, text that reads as a number is shown bare: a CLI flag or an MLproject
    parameter arrives as text whatever the user meant, and ``--n-rows 2.9`` should echo ``2.9``.

    Example:
        >>> import numpy as np
        >>> show(np.int64(-5000)), show(np.float64(4.0)), show("4.0"), show([1.0, "a"])
        ('-5000', '4', "'4.0'", "[1, 'a']")
        >>> show(" 2.9", numeric_text_bare=True), show("x", numeric_text_bare=True)
        ('2.9', "'x'")
    """
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()  # a NumPy scalar
    if numeric_text_bare and isinstance(value, str):
        try:
            float(value)
            return value.strip()
        except ValueError:
            pass
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, tuple, set)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)


def unknown(kind: str, value: object, known: list[str] | tuple[str, ...]) -> UnknownNameError:
    """Build the standard 'unknown X' error listing the valid choices."""
    return UnknownNameError(f"unknown {kind} {show(value)}; choose one of: {', '.join(known)}")


class ContractViolation(Exception):
    """A component broke what it declares (e.g. a metric outside its declared range): a bug, never data."""


# --- failure policy (tune, compare, serving) ------------------------------------------------------
# A user error (SynLLMError) is reported by its message, which says the rule, the value and the fix.
# Anything else is a bug: it is recorded with its traceback. Either way the unit of work (a trial, a
# grid cell, a request) fails and the work around it goes on; Ctrl-C (KeyboardInterrupt) stops it all.
CONTINUE_AFTER: tuple[type[BaseException], ...] = (Exception,)


def is_user_error(e: BaseException) -> bool:
    """Whether ``e`` is the user's to fix (a :class:`SynLLMError`) rather than a bug."""
    return isinstance(e, SynLLMError)


def failure_text(e: BaseException) -> str:
    """What to record about a failure: ``Type: message``, plus the traceback unless it is a user error."""
    import traceback

    head = f"{type(e).__name__}: {e}"
    if is_user_error(e):
        return head
    return head + "\n\n" + "".join(traceback.format_exception(type(e), e, e.__traceback__))
