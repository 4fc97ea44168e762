"""Generation backends: one ABC doing the shared work and declaring what a backend honours, one protected method each."""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from synllm_mlops.constraints import RowGuide
from synllm_mlops.errors import CapabilityError, ConfigError
from synllm_mlops.generation._batch import AUTO_CPU_BATCH
from synllm_mlops.generation._params import GenerationParams
from synllm_mlops.prompts import Prompt


def derive_seed(*entropy: int) -> int:
    """A 63-bit seed (what ``torch.manual_seed`` accepts) drawn from ``entropy`` (run seed, round, batch...).

    ``numpy.random.SeedSequence`` mixes its inputs, so neighbouring runs and rounds get unrelated streams.
    """
    return int(np.random.SeedSequence(list(entropy)).generate_state(1, np.uint64)[0] >> np.uint64(1))


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
    """Samples completions for one prompt: the contract every backend keeps (``tests/generation/test_backend_contract.py``).

    ``load`` builds the expensive state (weights, tokenizer, caches) once and returns the backend;
    ``close`` frees it (a later ``load`` rebuilds it); ``info`` and ``count_tokens`` describe the loaded
    model; ``prompt_text`` is the exact text the model continues; ``generate`` validates, splits ``n``
    sequences into batches, seeds each batch and times it. Subclasses implement ``_generate_batch``
    and ``info``, and ``load``/``close``/``_chat_tokenizer`` when they hold a model.

    What a backend honours while decoding is declared, never assumed: ``supports_guide`` (it enforces a
    :class:`~synllm_mlops.constraints.RowGuide`'s hard rules between columns) and ``supports_steering`` (it
    keeps each field in the bin :class:`~synllm_mlops.constraints.Steering` draws). ``generate`` refuses a
    guide that asks for more (:func:`capability_problem`), and the pipeline checks the same before any model
    loads; the contract suite checks that a backend declaring support really honours it. ``needs_spec``
    backends are built for one dataset (``spec=``).
    """

    name: str
    supports_guide: bool = False
    supports_steering: bool = False
    needs_steering: bool = False  # it samples the released targets itself (the stats control): steering is required
    needs_spec: bool = False
    compile_seconds: float = 0.0  # spent compiling (since construction): reported apart from generation time
    # True when generate calls from several threads may overlap, each still giving what its seed alone gives; hf
    # seeds torch's process-wide RNG and keeps one prompt KV cache, so it says False and is called one at a time
    concurrent_safe: bool = False

    @classmethod
    def require(cls) -> None:
        """Fail fast, before any model is built, when this backend cannot run on this machine."""

    def load(self) -> "GenerationBackend":
        """Build the model once (a no-op when loaded); returns ``self``."""
        return self

    def close(self) -> None:
        """Free the model (e.g. GPU memory before the next model of a grid); ``load`` may be called again."""

    @abstractmethod
    def info(self) -> ModelInfo:
        """Identity of the loaded model."""

    def _chat_tokenizer(self):
        """The tokenizer whose chat template renders prompts, or None (completion models, no tokenizer)."""
        return None

    def prompt_text(self, prompt: Prompt) -> str:
        """The exact text the model sees: its own chat template for chat models, plain text otherwise."""
        tok = self.load()._chat_tokenizer()
        if tok is not None and getattr(tok, "chat_template", None):
            return tok.apply_chat_template(prompt.messages, add_generation_prompt=True, tokenize=False)
        return f"{prompt.system}\n\n{prompt.user}\n\nCSV rows:\n"

    def auto_batch_size(self, prompt_tokens: int, max_new_tokens: int, cap: int) -> int:
        """The batch ``batch_size=auto`` means for this backend: here a fixed CPU choice; ``hf`` on CUDA sizes it
        from the free GPU memory. ``cap`` is the most sequences the run needs."""
        return max(1, min(AUTO_CPU_BATCH, cap))

    def resolve_batch_size(self, params: GenerationParams, prompt: Prompt, max_new_tokens: int,
                           cap: int) -> GenerationParams:
        """``params`` with ``batch_size=auto`` replaced by this backend's choice (unchanged otherwise)."""
        if params.batch_size != "auto":
            return params
        n = self.auto_batch_size(self.count_tokens(self.prompt_text(prompt)), max_new_tokens, max(cap, 1))
        return params.model_copy(update={"batch_size": n})

    def generate(self, prompt: Prompt, n: int, params: GenerationParams, *, regex: str | None,
                 max_new_tokens: int, seed: int, on_batch: Callable[[BatchResult], None] | None = None,
                 guide: RowGuide | None = None) -> BatchResult:
        """Sample ``n`` completions of ``prompt``; ``regex`` (when given) constrains every completion.

        ``guide`` carries the spec's hard rules between columns and the run's steering; a backend that does not
        declare support for what it asks raises :class:`~synllm_mlops.errors.CapabilityError` (never a silent
        downgrade). Batch ``i`` is seeded with ``derive_seed(seed, i)``.
        """
        if guide is not None:
            if regex is None:
                raise ConfigError("a rule guide narrows what the output grammar allows, so it needs regex= too; "
                                  "pass the grammar (constrained=true) or no guide")
            capability_problem(type(self), guide=guide.has_rules, steering=guide.steering is not None)
        if n < 1:
            raise ConfigError(f"number of sequences must be >= 1, got {n}")
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        params = self.resolve_batch_size(params, prompt, max_new_tokens, n)
        out: list[Completion] = []
        # one call at a time per backend unless it is concurrent_safe: torch's RNG is process-wide, so two threads
        # of a served model sampling at once would each lose the reproducibility of their seed
        lock = contextlib.nullcontext() if self.concurrent_safe else self.__dict__.setdefault("_generate_lock",
                                                                                               threading.Lock())
        with lock:
            self.load()
            t0 = time.perf_counter()
            for i, start in enumerate(range(0, n, params.batch_size)):
                b = min(params.batch_size, n - start)
                tb = time.perf_counter()
                comps = self._generate_batch(prompt, b, params, regex, max_new_tokens, derive_seed(seed, i), guide)
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


_FIX = {"guide": "use backend 'hf' (or write your own backend with supports_guide), or mark those rules hard: false "
                 "in the spec (then they are measured, not enforced)",
        "steering": "use backend 'hf', or calibration=select (or none) so that no field is steered"}


def capability_problem(backend, *, guide: bool = False, steering: bool = False) -> None:
    """Raise :class:`~synllm_mlops.errors.CapabilityError` when ``backend`` (a class or factory) does not declare
    what a run asks for: the rule guide (``guide``: the spec has hard rules between columns) or ``steering``."""
    name = getattr(backend, "name", getattr(backend, "__name__", str(backend)))
    if guide and not getattr(backend, "supports_guide", False):
        raise CapabilityError(f"backend {name!r} does not enforce the spec's hard rules between columns while decoding "
                              f"(supports_guide=False), and this run's spec has such rules; fix: {_FIX['guide']}")
    if steering and not getattr(backend, "supports_steering", False):
        raise CapabilityError(f"backend {name!r} cannot steer fields into the released bins (supports_steering=False), "
                              f"and this run's calibration steers; fix: {_FIX['steering']}")
    if not steering and getattr(backend, "needs_steering", False):
        raise CapabilityError(f"backend {name!r} samples the released calibration targets field by field, and this "
                              "run's calibration does not steer; fix: set calibration=steer or select+steer with "
                              "steer_strength > 0 (and constrained=true)")
