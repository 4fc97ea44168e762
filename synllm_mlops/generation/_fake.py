"""A deterministic fake backend for unit tests: rows sampled uniformly inside the spec, no model."""

from __future__ import annotations

import numpy as np

from synllm_mlops.generation._backend import Completion, GenerationBackend, ModelInfo, register_backend
from synllm_mlops.generation._params import GenerationParams
from synllm_mlops.generation._rules import RowGuide
from synllm_mlops.prompts import Prompt
from synllm_mlops.spec import NA_TOKEN, DatasetSpec


@register_backend("fake", needs_spec=True)
class FakeBackend(GenerationBackend):
    """Writes valid-looking CSV rows for ``spec`` (plus ``garbage_rate`` of junk lines); unit tests only.

    ``copy_rows`` lets a test make the "model" repeat given lines (e.g. real rows) to exercise the guard.
    """

    name = "fake"

    def __init__(self, model: str = "fake", *, spec: DatasetSpec | None = None, garbage_rate: float = 0.0,
                 copy_rows: list[str] | None = None):
        if spec is None:
            raise ValueError("the fake backend needs spec=<DatasetSpec> to know what rows to write")
        self.spec, self.garbage_rate, self.copy_rows = spec, garbage_rate, copy_rows or []
        self.calls = 0

    def info(self) -> ModelInfo:
        return ModelInfo("fake", "fake", "0", "none", self.name, "cpu")

    def _row(self, rng: np.random.Generator) -> str:
        if rng.random() < self.garbage_rate:
            return "I am sorry, here is some text instead of a row"
        if self.copy_rows and rng.random() < 0.5:
            return self.copy_rows[int(rng.integers(len(self.copy_rows)))]
        fields = []
        for c in self.spec.columns:
            if c.nullable and rng.random() < 0.1:
                fields.append(NA_TOKEN)
            elif c.is_numeric:
                fields.append(f"{rng.uniform(c.min, c.max):.{c.decimals}f}")
            else:
                fields.append(str(rng.choice(c.categories)))
        return ",".join(fields)

    def _generate_batch(self, prompt: Prompt, batch_size: int, params: GenerationParams, regex: str | None,
                        max_new_tokens: int, seed: int, guide: RowGuide | None = None) -> list[Completion]:
        self.calls += 1
        rng = np.random.default_rng(seed)
        n_rows = int(prompt.variables.get("n_rows", 1))
        out = []
        for _ in range(batch_size):
            text = "\n".join(self._row(rng) for _ in range(n_rows)) + "\n"
            out.append(Completion(text, len(text) // 3))
        return out
