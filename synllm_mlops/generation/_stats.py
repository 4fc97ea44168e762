"""The no-LLM control: rows sampled from the run's own release, no language model.

``backend=stats`` is what a run would produce if the model added nothing: each field's bin is drawn from
the release through the *same* steering graph the model is steered with (released marginal × the
dependence ratios of the field's parents, with the run's feedback on its running shares), narrowed by the
same hard rules between columns, and the value is drawn uniformly inside that bin in units of the column's
precision. The pipeline then applies the same parsing, copy guard and selection. Every result is reported
next to this control (``control/*``, ``lift/*``), so a run shows what its model, prompt and sampling added.
"""

from __future__ import annotations

import numpy as np

from synllm_mlops.constraints import FieldConstraint, RowGuide, admissible, bin_constraint, within_release
from synllm_mlops.errors import CapabilityError
from synllm_mlops.generation._backend import Completion, GenerationBackend, ModelInfo
from synllm_mlops.generation._params import GenerationParams
from synllm_mlops.prompts import Prompt
from synllm_mlops.spec import ColumnSpec, DatasetSpec, units


class StatsBackend(GenerationBackend):
    """Samples the release field by field (see the module docstring); the control arm of every run.

    Example:
        >>> from synllm_mlops.config import RunConfig
        >>> from synllm_mlops.pipeline import generate_rows, prepare
        >>> prep = prepare(RunConfig(backend="stats", model="stats", n_rows=20))
        >>> len(generate_rows(prep, progress=False).synthetic)
        20
    """

    name = "stats"
    supports_guide = True  # the hard rules between columns narrow every draw
    supports_steering = True
    needs_steering = True  # it has nothing to sample without the released targets
    needs_spec = True
    concurrent_safe = True  # each batch draws from its own seeded generator

    def __init__(self, model: str = "stats", *, spec: DatasetSpec | None = None):
        if spec is None:
            raise ValueError("the stats backend needs spec=<DatasetSpec> to know what rows to write")
        self.spec = spec

    def info(self) -> ModelInfo:
        return ModelInfo("stats", "release", "0", "none", self.name, "cpu")

    def _generate_batch(self, prompt: Prompt, batch_size: int, params: GenerationParams, regex: str | None,
                        max_new_tokens: int, seed: int, guide: RowGuide | None = None) -> list[Completion]:
        if guide is None or guide.steering is None:
            raise CapabilityError("backend 'stats' samples the released calibration targets field by field, but this "
                                  "call has no steering; fix: run it with constrained=true and calibration=steer or "
                                  "select+steer (steer_strength > 0)")
        rng = np.random.default_rng(seed)
        n_rows = int(prompt.variables.get("n_rows", 1))
        out = []
        for _ in range(batch_size):
            text = "\n".join(self._row(rng, guide) for _ in range(n_rows)) + "\n"
            out.append(Completion(text, len(text) // 3))
        return out

    def _row(self, rng: np.random.Generator, guide: RowGuide) -> str:
        steering = guide.steering
        bins = steering.targets.bins
        fields: list[str] = []
        written: list[int] = []
        for j, col in enumerate(self.spec.columns):
            con = guide.constraint(fields)  # the hard rules, given the fields already written
            ok = admissible(bins[j], col, con)
            k = steering.draw(j, written, rng, ok)
            if k is None:  # not forced (steer_strength < 1): there is no model to leave the choice to, so draw anyway
                p = np.where(ok, steering.distribution(j, written), 0.0)
                k = int(rng.choice(len(p), p=p / p.sum())) if p.sum() > 0 else None
            con = bin_constraint(bins[j], col, k, con) if k is not None else within_release(bins[j], col, con)
            value = _value(rng, col, con)
            code = bins[j].code_text(value)
            steering.observe(j, code)
            written.append(code)
            fields.append(value)
        return ",".join(fields)


def _value(rng: np.random.Generator, col: ColumnSpec, con: FieldConstraint | None) -> str:
    """A value allowed by ``con``: a listed one, a category, or a number uniform in units of the column's precision."""
    if con is not None and con.allowed is not None:
        return str(rng.choice(sorted(con.allowed)))
    if not col.is_numeric:
        return str(rng.choice([c for c in col.categories if con is None or c not in con.forbidden]))
    lo, hi = units(col.min, col.max, col.decimals)
    if con is not None:
        a, b = con.unit_range(col.decimals)
        lo, hi = max(lo, a), min(hi, b)
    lo, hi = int(np.ceil(lo)), int(np.floor(max(lo, hi)))
    return f"{int(rng.integers(lo, hi + 1)) / 10**col.decimals:.{col.decimals}f}"
