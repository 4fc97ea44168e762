"""Error hierarchy: every message states the rule, the value received and the fix."""

from __future__ import annotations


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


class ModelLoadError(SynLLMError, RuntimeError):
    """A model could not be loaded (not available locally, or broken)."""


class GenerationError(SynLLMError, RuntimeError):
    """Generation produced no usable output."""


class PrivacyBudgetError(SynLLMError, ValueError):
    """A differential-privacy release would spend more epsilon than the run's budget has left."""


def unknown(kind: str, value: object, known: list[str] | tuple[str, ...]) -> UnknownNameError:
    """Build the standard 'unknown X' error listing the valid choices."""
    return UnknownNameError(f"unknown {kind} {value!r}; choose one of: {', '.join(known)}")


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
