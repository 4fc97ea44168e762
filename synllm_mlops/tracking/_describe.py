"""The run description (MLflow's Markdown note, tag ``mlflow.note.content``): the headline of a run.

Values are rounded here, where a person reads them; the logged metrics keep full precision.
"""

from __future__ import annotations

import math
from typing import Any

NOTE_TAG = "mlflow.note.content"
HEADLINE_TAG = "synllm.headline"  # the one-line answer, a column of the runs table (add it from the columns menu)
SCORES = ("score/quality", "score/privacy", "score/harmonic")


def _r(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def model_alias(model: str) -> str:
    """A short model name for run names: the catalog alias as given, the last part of an id or a path."""
    return model.rstrip("/").rsplit("/", 1)[-1] or model


def _pm(metrics: dict[str, float], name: str, signed: bool = False) -> str:
    """``value ± ci95`` of a logged metric, or ``n/a``."""
    v = metrics.get(name)
    if v is None or math.isnan(v):
        return "n/a"
    ci = metrics.get(f"{name}_ci95")
    text = f"{v:+.3f}" if signed else f"{v:.3f}"
    return text + (f" ± {ci:.3f}" if ci is not None and not math.isnan(ci) else "")


def _component(name: str, value: float, metrics: dict[str, float]) -> str:
    """A score component with the metric it comes from: ``dcr_share 0.910 (privacy/dcr_share_closer_to_train 0.545)``."""
    from synllm_mlops.evaluation import COMPONENT_METRICS

    source = COMPONENT_METRICS.get(name)
    raw = metrics.get(source) if source else None
    return f"{name} {_r(value)}" + (f" (from `{source}` = {_r(raw)})" if raw is not None else "")


def headline(metrics: dict[str, float], summary: dict[str, Any] | None = None) -> str:
    """One short rounded line: harmonic, quality, privacy, the lift over the no-LLM control, the weakest component.

    Example:
        >>> headline({"score/harmonic": 0.9312, "score/quality": 0.887, "score/privacy": 0.98,
        ...           "lift/score/harmonic": -0.0123, "lift/score/harmonic_ci95": 0.03})
        'H 0.931 · Q 0.887 · P 0.980 · vs no-LLM control H -0.012 ± 0.030'
    """
    parts = [f"{k} {_r(metrics.get(f'score/{n}'))}" for k, n in (("H", "harmonic"), ("Q", "quality"), ("P", "privacy"))]
    if "lift/score/harmonic" in metrics:
        parts.append(f"vs no-LLM control H {_pm(metrics, 'lift/score/harmonic', signed=True)}")
    if summary is not None:
        weakest = [w for w in (summary["weakest"].get("score/quality"), summary["weakest"].get("score/privacy")) if w]
        if weakest:
            name, value = min(weakest, key=lambda w: w[1])
            parts.append(f"weakest {name} {_r(value)}")
    return " · ".join(parts)


def run_description(*, model: str, strategy: str, dataset: str, n_rows_asked: int, metrics: dict[str, float],
                    summary: dict[str, Any] | None = None, prompt_uri: str = "", stage: str = "main",
                    source: str = "") -> str:
    """Markdown headline: the one-line answer first, then model, strategy, dataset, rows, validity, the three
    scores next to the no-LLM control and the lift over it, their weakest components, and where the full report is.

    ``source`` names what was evaluated when it is not a model's run (e.g. a synthetic CSV file).

    Example:
        >>> text = run_description(model="smollm2-135m", strategy="clin_rule", dataset="cirrhosis", n_rows_asked=20,
        ...                        metrics={"gen/rows_valid": 20.0, "gen/validity_rate": 1.0})
        >>> text.splitlines()[0]
        '**smollm2-135m** · `clin_rule` · cirrhosis · 20 of 20 rows kept · validity 1.000'
    """
    rows = metrics.get("gen/rows_valid")
    what = source or f"**{model}** · `{strategy}`"
    head = (f"{what} · {dataset} · {_r(int(rows)) if rows is not None else '?'} of {n_rows_asked} rows kept"
            + (f" · validity {_r(metrics.get('gen/validity_rate'))}" if "gen/validity_rate" in metrics else ""))
    lines = [head, ""]
    if summary is not None:
        lines = [f"**{headline(metrics, summary)}**", "", head, ""]
        control = "control/score/harmonic" in metrics
        lines += ["| score | this run | " + ("no-LLM control (95 % CI) | lift | " if control else "")
                  + "weakest component |", "|---|---|" + ("---|---|" if control else "") + "---|"]
        for name in SCORES:
            worst = summary["weakest"].get(name)
            low = _component(worst[0], worst[1], metrics) if worst and name != "score/harmonic" else ""
            cells = [f"`{name}`", f"**{_r(summary['scores'].get(name))}**"]
            if control:
                cells += [_pm(metrics, f"control/{name}"), _pm(metrics, f"lift/{name}", signed=True)]
            lines.append("| " + " | ".join(cells + [low]) + " |")
        if control:
            mde = metrics.get("lift/score/harmonic_mde")
            lines += ["", f"Control: backend `stats` (no language model) sampling this run's own release, "
                          f"{int(metrics.get('control/tables', 0))} tables. The lift's interval is the control's "
                          f"spread (one model table); smallest lift this comparison detects: {_r(mde)} (harmonic)."]
        lines += ["", "Full report: artifact `evaluation/report.html` (summary first, then every metric and the "
                  "figures); components and their definitions in `evaluation/report.json`."]
    elif stage == "generate":
        lines.append("Generation only: evaluate it with `synllm evaluate --run-id <this run>`.")
    if prompt_uri:
        lines.append(f"Prompt: `{prompt_uri}`.")
    return "\n".join(lines)
