"""Memorisation probe: does the model itself complete real rows of a public table it may have read?

Small open models were trained on web text that includes Kaggle tables. The probe gives the model the
CSV header and the first ``k`` fields of a real row and asks for the rest; a model that has memorised the
table completes it exactly far more often than chance. Chance is measured, not assumed: the same
completion is scored against the remainder of a random *other* real row. This probes the model, not a
synthetic table, and needs no training on our side. The report holds rates and counts only, never a row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.errors import ConfigError
from synllm_mlops.evaluation._risk import SuccessRate
from synllm_mlops.constraints import column_regex
from synllm_mlops.generation import GenerationBackend, GenerationParams
from synllm_mlops.prompts import Prompt
from synllm_mlops.spec import MISSING_TEXTS, NA_TOKEN, DatasetSpec, normalise_category

SYSTEM = "You complete rows of a CSV table. Reply with the remaining fields of the row only, comma-separated."
TEMPLATE = ("Table: {{dataset}}\nCSV header:\n{{header}}\n\n"
            "Complete this row with its remaining {{n_remaining}} fields:\n{{prefix}},")


def _canonical(value: object, spec: DatasetSpec, name: str) -> str:
    """One field as the spec writes it (numbers at the column's decimals, NA for missing)."""
    col = spec.column(name)
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() in MISSING_TEXTS:
        return NA_TOKEN
    if col.is_numeric:
        try:
            return f"{float(str(value).strip()):.{col.decimals}f}"
        except ValueError:
            return str(value).strip()
    return str(normalise_category(str(value).strip().strip("\"'")))


def _fields(text: str, n_total: int, k: int) -> list[str] | None:
    """The completed fields: the first non-empty line, re-aligned when the model rewrote the whole row."""
    line = next((ln.strip().strip("`").lstrip(",").strip() for ln in text.splitlines() if ln.strip()), "")
    if not line:
        return None
    parts = [p.strip() for p in line.split(",")]
    return parts[k:n_total] if len(parts) >= n_total else parts[: n_total - k]


def memorisation_probe(backend: GenerationBackend, spec: DatasetSpec, rows: pd.DataFrame, n_prefix_fields: int, *,
                       n_probes: int = 100, params: GenerationParams | None = None, constrained: bool = True,
                       seed: int = 0) -> dict[str, Any]:
    """How often the model completes a real row exactly from its header and first ``n_prefix_fields`` fields.

    Args:
        backend: any generation backend (loaded or not).
        spec: the table's spec; fields are compared as the spec writes them.
        rows: real rows, spec-typed (e.g. ``conform``-ed train); at least 2.
        n_prefix_fields: fields given to the model, ``1 <= k < number of columns``.
        n_probes: rows probed (a seeded sample; all rows if fewer).
        params: sampling parameters; default greedy (``top_k=1``), the model's single best guess.
        constrained: restrict the completion to the remaining columns' formats (the spec grammar), so
            every answer parses and only its values are judged.
        seed: seeds the row sample, the chance baseline's pairing and generation.

    Returns:
        ``memorisation_rate`` (share of exact completions) with a Wilson ``ci``, ``baseline_rate`` (the same
        completions against a random other row), per-column ``field_match_rate`` and its baseline, the mean
        excess over chance, the parse rate and the sample sizes. No row or completion is returned.

    Example:
        >>> out = memorisation_probe(backend, spec, split.train, n_prefix_fields=6)  # doctest: +SKIP
        >>> out["memorisation_rate"], out["baseline_rate"]  # doctest: +SKIP
    """
    names = spec.column_names
    if not 1 <= n_prefix_fields < len(names):
        raise ConfigError(f"n_prefix_fields must be in [1, {len(names) - 1}] for {len(names)} columns, "
                          f"got {n_prefix_fields}")
    if len(rows) < 2:
        raise ConfigError(f"the probe needs at least 2 real rows (one to probe, one for the chance baseline), got {len(rows)}")
    k, rest = n_prefix_fields, names[n_prefix_fields:]
    params = params or GenerationParams(temperature=1.0, top_k=1, batch_size=1)
    rng = np.random.default_rng([seed, 7])
    probed = np.sort(rng.choice(len(rows), min(n_probes, len(rows)), replace=False))
    other = (probed + rng.integers(1, len(rows), len(probed))) % len(rows)  # a different row, uniformly
    canon = np.array([[_canonical(v, spec, c) for c, v in zip(names, r)] for r in rows[names].itertuples(index=False)],
                     dtype=object)
    regex = (",".join(column_regex(spec.column(c)) for c in rest) + r"\n") if constrained else None
    hits = np.zeros((len(probed), len(rest)), dtype=bool)
    chance = np.zeros_like(hits)
    parsed = np.zeros(len(probed), dtype=bool)
    for i, (r, o) in enumerate(zip(probed, other)):
        prefix, truth = ",".join(canon[r, :k]), canon[r, k:]
        variables = {"dataset": spec.name, "header": ",".join(names), "n_remaining": str(len(rest)), "prefix": prefix,
                     "n_rows": "1"}
        user = TEMPLATE
        for key, value in variables.items():
            user = user.replace("{{" + key + "}}", value)
        prompt = Prompt(strategy="memorisation_probe", template=TEMPLATE, system=SYSTEM, user=user,
                        uses_real_rows=True, variables=variables)
        budget = params.max_new_tokens or 3 * backend.count_tokens(",".join(truth)) + 8
        text = backend.generate(prompt, 1, params, regex=regex, max_new_tokens=budget, seed=seed + i).completions[0].text
        got = _fields(text, len(names), k)
        if got is None:
            continue
        parsed[i] = len(got) == len(rest)
        got_c = np.array([_canonical(v, spec, c) for c, v in zip(rest, got)] + [None] * (len(rest) - len(got)), dtype=object)
        hits[i], chance[i] = got_c == truth, got_c == canon[o, k:]
    exact, base = hits.all(axis=1), chance.all(axis=1)
    w = SuccessRate.wilson(int(exact.sum()), len(probed))
    field_rate, field_base = hits.mean(axis=0), chance.mean(axis=0)
    return {
        "memorisation_rate": float(exact.mean()), "ci": [max(0.0, w.value - w.error), min(1.0, w.value + w.error)],
        "baseline_rate": float(base.mean()),
        "field_match_rate": dict(zip(rest, field_rate.round(4).tolist())),
        "baseline_field_match_rate": dict(zip(rest, field_base.round(4).tolist())),
        "mean_field_match": float(field_rate.mean()), "baseline_mean_field_match": float(field_base.mean()),
        "excess_field_match": float(field_rate.mean() - field_base.mean()),
        "parse_rate": float(parsed.mean()), "n_probes": len(probed), "n_exact": int(exact.sum()),
        "n_prefix_fields": k, "prefix_columns": names[:k], "completed_columns": rest, "constrained": constrained,
        "model": backend.info().model,
        "baseline_note": "the same completions scored against the remainder of a random other real row",
    }
