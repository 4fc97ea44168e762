"""Generation backends: one ABC doing the shared work, one registry, one protected method each."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

from synllm_mlops.errors import ConfigError, unknown
from synllm_mlops.generation._params import GenerationParams
from synllm_mlops.generation._rules import RowGuide
from synllm_mlops.prompts import Prompt


@dataclass
class Completion:
    """One sampled sequence: only the newly generated text, never the prompt."""

    text: str
    n_tokens: int


@dataclass
class BatchResult:
    completions: list[Completion]
    seconds: float

    @property
    def n_tokens(self) -> int:
        return sum(c.n_tokens for c in self.completions)


@dataclass(frozen=True)
class ModelInfo:
    """What a run records about the model that wrote its rows."""

    model: str
    hf_id: str
    revision: str
    dtype: str
    backend: str
    device: str
    extra: dict[str, str] = field(default_factory=dict)


class GenerationBackend(ABC):
    """Samples completions for one prompt.

    ``generate`` validates, splits ``n`` sequences into batches, seeds each batch from ``seed`` and
    times it; subclasses implement ``_generate_batch`` only. Expensive state (weights, caches) is
    built once per backend instance and reused across calls (and across tuning trials).
    """

    name: str

    @abstractmethod
    def info(self) -> ModelInfo:
        """Identity of the loaded model."""

    def generate(self, prompt: Prompt, n: int, params: GenerationParams, *, regex: str | None,
                 max_new_tokens: int, seed: int, on_batch: Callable[[BatchResult], None] | None = None,
                 guide: RowGuide | None = None) -> BatchResult:
        """Sample ``n`` completions of ``prompt``; ``regex`` (when given) constrains every completion.

        ``guide`` carries the spec's hard rules between columns; backends that can enforce them while
        decoding do (``hf``), the others leave them to the parser, which rejects rows that break them.
        """
        if n < 1:
            raise ConfigError(f"number of sequences must be >= 1, got {n}")
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        out: list[Completion] = []
        t0 = time.perf_counter()
        for i, start in enumerate(range(0, n, params.batch_size)):
            b = min(params.batch_size, n - start)
            tb = time.perf_counter()
            comps = self._generate_batch(prompt, b, params, regex, max_new_tokens, seed * 1_000_003 + i, guide)
            if len(comps) != b:
                raise RuntimeError(f"backend {self.name} returned {len(comps)} completions for a batch of {b}")
            out += comps
            if on_batch is not None:
                on_batch(BatchResult(comps, time.perf_counter() - tb))
        return BatchResult(out, time.perf_counter() - t0)

    @abstractmethod
    def _generate_batch(self, prompt: Prompt, batch_size: int, params: GenerationParams, regex: str | None,
                        max_new_tokens: int, seed: int, guide: RowGuide | None = None) -> list[Completion]: ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs with this backend's tokenizer (used to size max_new_tokens)."""
        return max(1, len(text) // 3)


BACKENDS: dict[str, Callable[..., GenerationBackend]] = {}


def register_backend(name: str) -> Callable:
    def deco(factory: Callable[..., GenerationBackend]) -> Callable[..., GenerationBackend]:
        BACKENDS[name] = factory
        return factory
    return deco


def make_backend(name: str, model: str, **kwargs) -> GenerationBackend:
    """Build a backend by name (``hf``, ``vllm``, ``fake``) for ``model``; loads nothing yet."""
    from synllm_mlops.generation import _fake, _hf, _vllm  # noqa: F401 - registration side effect

    if name not in BACKENDS:
        raise unknown("backend", name, sorted(BACKENDS))
    return BACKENDS[name](model, **kwargs)
