"""The one registry of generation backends: built-in names map to import paths, nothing registers itself on import.

A backend module is imported when its name is first used (``make_backend("hf", ...)``), so ``import
synllm_mlops`` stays fast and the backend modules import only :mod:`._backend` (no cycle). Users add
their own backends with one explicit :func:`register_backend` call.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Callable

from synllm_mlops.errors import ConfigError, unknown
from synllm_mlops.generation._backend import GenerationBackend, capability_problem
from synllm_mlops.spec import DatasetSpec

Factory = Callable[..., GenerationBackend]

BUILTIN_BACKENDS = {"hf": "synllm_mlops.generation._hf:HFBackend",
                    "vllm": "synllm_mlops.generation._vllm:VLLMBackend",
                    "stats": "synllm_mlops.generation._stats:StatsBackend",
                    "fake": "synllm_mlops.generation._fake:FakeBackend"}
"""Built-in backend name -> ``module:class``, imported on first use."""


class BackendRegistry(Mapping[str, Factory]):
    """Backend name -> class (or factory): the built-ins by import path, plus what users register.

    A factory may declare ``supports_guide``, ``supports_steering`` and ``needs_spec`` as a backend class
    does; an undeclared capability counts as absent.
    """

    def __init__(self, builtin: Mapping[str, str]):
        self._paths = dict(builtin)
        self._added: dict[str, Factory] = {}

    def __getitem__(self, name: str) -> Factory:
        if name in self._added:
            return self._added[name]
        if name not in self._paths:
            raise unknown("backend", name, sorted(self))
        module, attr = self._paths[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self._paths, *self._added}))

    def __len__(self) -> int:
        return len({*self._paths, *self._added})

    def register(self, name: str, factory: Factory) -> Factory:
        """Add (or replace) the backend ``name``; returns ``factory``."""
        self._added[name] = factory
        return factory


BACKENDS = BackendRegistry(BUILTIN_BACKENDS)
"""The registry ``make_backend`` and ``check_backend`` read (its only state: the backends users registered)."""


def register_backend(name: str, factory: Factory) -> Factory:
    """Register your own backend class (or factory) under ``name``; an explicit call, e.g. at the top of a script.

    Example:
        >>> from synllm_mlops.generation import BACKENDS, GenerationBackend, register_backend
        >>> class Echo(GenerationBackend):
        ...     name = "echo"
        ...     def info(self): ...
        ...     def _generate_batch(self, *args): ...
        >>> _ = register_backend("echo", Echo)
        >>> "echo" in BACKENDS
        True
    """
    return BACKENDS.register(name, factory)


def make_backend(name: str, model: str, *, spec: DatasetSpec | None = None, **options) -> GenerationBackend:
    """Build a backend by name (``hf``, ``vllm``, ``fake``) for ``model``; loads nothing yet.

    ``spec`` is the dataset the rows are for; only backends declaring ``needs_spec`` read it.
    """
    factory = BACKENDS[name]
    if getattr(factory, "needs_spec", False):
        if spec is None:
            raise ConfigError(f"backend {name!r} writes rows for one dataset: pass spec=<DatasetSpec>")
        options["spec"] = spec
    return factory(model, **options)


def check_backend(name: str, *, guide: bool = False, steering: bool = False) -> None:
    """Raise now (unknown name, missing optional package, a decoding feature the backend does not declare) rather
    than once the model has loaded, or once per run of a grid.

    ``guide``: the run's spec has hard rules between columns and the output is constrained; ``steering``: the
    run's calibration steers fields into the released bins.
    """
    factory = BACKENDS[name]
    require = getattr(factory, "require", None)
    if require is not None:
        require()
    capability_problem(factory, guide=guide, steering=steering)


def backend_key(name: str, model: str, spec: DatasetSpec | None) -> tuple[str, str | None]:
    """What identifies a built backend: the model, and the dataset for backends built for one (cache key)."""
    return model, (spec.name if spec is not None and getattr(BACKENDS[name], "needs_spec", False) else None)
