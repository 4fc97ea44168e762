"""The run description (MLflow's Markdown note, tag ``mlflow.note.content``): the headline of a run.

Values are rounded here, where a person reads them; the logged metrics keep full precision.
"""

from __future__ import annotations

import math
from typing import Any

NOTE_TAG = "mlflow.note.content"
SCORES = ("score/quality", "score/privacy", "score/harmonic")


def _r(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def model_alias(model: str) -> str:
    """A short model name for run names: the catalog alias as given, the last part of an id or a path."""
    return model.rstrip("/").rsplit("/", 1)[-1] or model


def run_description(*, model: str, strategy: str, dataset: str, n_rows_asked: int, metrics: dict[str, float],
                    summary: dict[str, Any] | None = None, prompt_uri: str = "", stage: str = "main") -> str:
    """Markdown headline: model, strategy, dataset, rows, validity, the three scores with their weakest components,
    and where the full report is.

    Example:
        >>> text = run_description(model="smollm2-135m", strategy="clin_rule", dataset="cirrhosis", n_rows_asked=20,
        ...                        metrics={"gen/rows_valid": 20.0, "gen/validity_rate": 1.0})
        >>> text.splitlines()[0]
        '**smollm2-135m** · `clin_rule` · cirrhosis · 20 of 20 rows · validity 1.000'
    """
    rows = metrics.get("gen/rows_valid")
    head = (f"**{model}** · `{strategy}` · {dataset} · {_r(int(rows)) if rows is not None else '?'} of {n_rows_asked} "
            f"rows · validity {_r(metrics.get('gen/validity_rate'))}")
    lines = [head, ""]
    if summary is not None:
        lines += ["| score | value | weakest component |", "|---|---|---|"]
        for name in SCORES:
            worst = summary["weakest"].get(name)
            low = f"{worst[0]} {_r(worst[1])}" if worst and name != "score/harmonic" else ""
            lines.append(f"| `{name}` | **{_r(summary['scores'].get(name))}** | {low} |")
        lines += ["", "Full report: artifact `evaluation/report.html` (summary first, then every metric and the "
                  "figures); components and their definitions in `evaluation/report.json`."]
    elif stage == "generate":
        lines.append("Generation only: evaluate it with `synllm evaluate --run-id <this run>`.")
    if prompt_uri:
        lines.append(f"Prompt: `{prompt_uri}`.")
    return "\n".join(lines)
