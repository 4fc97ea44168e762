"""A deterministic fake backend for unit tests: rows sampled uniformly inside the spec, no model."""

from __future__ import annotations

import numpy as np

from synllm_mlops.constraints import FieldSteer, RowGuide
from synllm_mlops.generation._backend import Completion, GenerationBackend, ModelInfo
from synllm_mlops.generation._params import GenerationParams
from synllm_mlops.prompts import Prompt
from synllm_mlops.spec import NA_TOKEN, DatasetSpec, units


class FakeBackend(GenerationBackend):
    """Writes valid-looking CSV rows for ``spec`` (plus ``garbage_rate`` of junk lines); unit tests only.

    ``copy_rows`` lets a test make the "model" repeat given texts (e.g. real rows, in any form; a text may
    span lines) to exercise the guard: each row slot echoes one at random with probability 1/2, or, with
    ``copy_all=True``, the next one in order until every text has been echoed once.
    """

    name = "fake"
    supports_guide = True  # every field is drawn inside its guide constraint (hard rules, then the steered bin)
    supports_steering = True
    needs_spec = True
    concurrent_safe = True  # each batch draws from its own seeded generator (`calls` is a count only)

    def __init__(self, model: str = "fake", *, spec: DatasetSpec | None = None, garbage_rate: float = 0.0,
                 copy_rows: list[str] | None = None, copy_all: bool = False):
        if spec is None:
            raise ValueError("the fake backend needs spec=<DatasetSpec> to know what rows to write")
        self.spec, self.garbage_rate, self.copy_rows = spec, garbage_rate, copy_rows or []
        self.calls = 0
        self.copy_all, self._copied = copy_all, 0

    def info(self) -> ModelInfo:
        return ModelInfo("fake", "fake", "0", "none", self.name, "cpu")

    def _row(self, rng: np.random.Generator, guide: RowGuide | None = None, steer=None) -> str:
        if rng.random() < self.garbage_rate:
            return "I am sorry, here is some text instead of a row"
        if self.copy_all and self._copied < len(self.copy_rows):
            self._copied += 1
            return self.copy_rows[self._copied - 1]
        if self.copy_rows and not self.copy_all and rng.random() < 0.5:
            return self.copy_rows[int(rng.integers(len(self.copy_rows)))]
        if guide is not None:
            return self._guided_row(rng, guide, steer)
        fields = []
        for c in self.spec.columns:
            if c.nullable and rng.random() < 0.1:
                fields.append(NA_TOKEN)
            elif c.is_numeric:
                fields.append(f"{rng.uniform(c.min, c.max):.{c.decimals}f}")
            else:
                fields.append(str(rng.choice(c.categories)))
        return ",".join(fields)

    def _guided_row(self, rng: np.random.Generator, guide: RowGuide, steer: FieldSteer | None) -> str:
        """A row whose every field satisfies the guide's constraint (hard rules and steering) given the earlier ones."""
        fields: list[str] = []
        for c in self.spec.columns:
            con = guide.constraint(fields)
            if steer is not None:
                con = steer.constraint(fields, con)
            if con is None or con.allowed is None:
                lo, hi = (c.min, c.max) if c.is_numeric else (0, 0)
                if con is not None and c.is_numeric:
                    lo, hi = max(lo, con.lo), min(hi, con.hi - (10**-c.decimals if con.hi_strict else 0))
                if c.is_numeric:
                    value = f"{rng.uniform(lo, max(lo, hi)):.{c.decimals}f}"
                else:
                    options = [x for x in c.categories if con is None or x not in con.forbidden]
                    value = str(rng.choice(options))
            else:
                value = str(rng.choice(sorted(con.allowed)))
            if con is not None and c.is_numeric and not con.allows_value(value):
                value = self._exact(rng, c, con, value)
            if steer is not None:
                steer.finished(len(fields), value)
            fields.append(value)
        return ",".join(fields)

    @staticmethod
    def _exact(rng: np.random.Generator, c, con, value: str) -> str:
        """A value inside ``con`` drawn in units of the column's last decimal, where the float draw rounded out of
        it (a strict bound); ``value`` itself at a dead end (no such value: the parser rejects the row, as with hf)."""
        lo, hi = con.unit_range(c.decimals)
        a, b = units(c.min, c.max, c.decimals)
        lo, hi = max(lo, a), min(hi, b)
        if lo > hi:
            return value
        return f"{int(rng.integers(lo, hi + 1)) / 10**c.decimals:.{c.decimals}f}"

    def _generate_batch(self, prompt: Prompt, batch_size: int, params: GenerationParams, regex: str | None,
                        max_new_tokens: int, seed: int, guide: RowGuide | None = None) -> list[Completion]:
        self.calls += 1
        rng = np.random.default_rng(seed)
        n_rows = int(prompt.variables.get("n_rows", 1))
        steer = None
        if guide is not None and guide.steering is not None:
            steer = FieldSteer(guide.steering, self.spec.columns, rng)
        out = []
        for _ in range(batch_size):
            text = "\n".join(self._row(rng, guide, steer) for _ in range(n_rows)) + "\n"
            out.append(Completion(text, len(text) // 3))
        return out
