"""End-of-study summaries: trials table, Pareto front (figure, tags), hypervolume, parameter importances."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

REFERENCE = (0.0, 1.0)  # (quality, privacy risk): the worst corner


def hypervolume_2d(points: list[tuple[float, float]], reference: tuple[float, float] = REFERENCE) -> float:
    """Area dominated by ``(quality, risk)`` points (quality up, risk down) inside the reference corner.

    Example:
        >>> hypervolume_2d([(0.5, 0.5)])
        0.25
    """
    pts = sorted({(q, r) for q, r in points if q > reference[0] and r < reference[1]}, key=lambda p: (-p[0], p[1]))
    area, best_risk = 0.0, reference[1]
    for q, r in pts:  # by quality, descending: each point adds the strip its lower risk opens
        if r < best_risk:
            area += (q - reference[0]) * (best_risk - r)
            best_risk = r
    return area


def trials_table(study) -> pd.DataFrame:
    """One row per trial: number, state, values, feasibility, Pareto membership, params, MLflow run id."""
    pareto = {t.number for t in study.best_trials}
    columns = ["number", "state", "quality", "privacy_risk", "harmonic", "feasible", "pareto", "backend", "strategy",
               "params",
               "mlflow_run_id", "error", "control_quality", "control_privacy_risk", "lift_harmonic"]
    rows = []
    for t in study.get_trials(deepcopy=False):
        v = t.values or [math.nan, math.nan]
        rows.append({"number": t.number, "state": t.state.name, "quality": v[0], "privacy_risk": v[1],
                     "harmonic": t.user_attrs.get("score/harmonic", math.nan),
                     "feasible": bool(t.values) and all(c <= 0 for c in t.constraints.values()),
                     "pareto": t.number in pareto,
                     "backend": t.user_attrs.get("backend", t.user_attrs.get("config", {}).get("backend", "")),
                     "strategy": t.params.get("strategy", t.user_attrs.get("config", {}).get("strategy")),
                     "params": json.dumps(t.params, sort_keys=True, default=str),
                     "mlflow_run_id": t.user_attrs.get("mlflow_run_id", ""), "error": t.user_attrs.get("error", ""),
                     "control_quality": t.user_attrs.get("control/score/quality", math.nan),
                     "control_privacy_risk": 1.0 - t.user_attrs.get("control/score/privacy", math.nan),
                     "lift_harmonic": t.user_attrs.get("lift/score/harmonic", math.nan)})
    return pd.DataFrame(rows, columns=columns)  # a study without trials (a timeout before the first) has them too


def pareto_figures(table: pd.DataFrame, title: str) -> tuple[Any, Any]:
    """(interactive plotly figure, matplotlib figure) of every complete trial, the feasible front highlighted.

    Trials of the no-LLM ``stats`` arm are squares (and say so on hover); each model trial's own control is an x.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend to choose
    import plotly.graph_objects as go

    done = table[table["state"] == "COMPLETE"]
    groups = {"Pareto (feasible)": done[done["pareto"]], "feasible": done[~done["pareto"] & done["feasible"]],
              "infeasible": done[~done["feasible"]]}
    colours = {"Pareto (feasible)": "#d62728", "feasible": "#1f77b4", "infeasible": "#bbbbbb"}
    pfig = go.Figure()
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for name, g in groups.items():
        arm = g["backend"].eq("stats") if "backend" in g else pd.Series(False, index=g.index)
        text = [f"trial {n} · {'stats (no LLM)' if a else s}<br>harmonic {h:.3f}<br>run {r}" for n, s, h, r, a in
                zip(g["number"], g["strategy"], g["harmonic"], g["mlflow_run_id"], arm)]
        pfig.add_trace(go.Scatter(x=g["privacy_risk"], y=g["quality"], mode="markers", name=name, text=text,
                                  hoverinfo="text", marker={"color": colours[name], "size": 10,
                                                            "symbol": ["square" if a else "circle" for a in arm]}))
        ax.scatter(g["privacy_risk"][~arm], g["quality"][~arm], c=colours[name], label=name, s=36)
        if arm.any():
            ax.scatter(g["privacy_risk"][arm], g["quality"][arm], c=colours[name], marker="s", s=36,
                       label=f"{name}, stats arm (no LLM)")
        for n, x, y in zip(g["number"], g["privacy_risk"], g["quality"]):
            ax.annotate(str(n), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    front = groups["Pareto (feasible)"].sort_values("privacy_risk")
    if len(front):
        pfig.add_trace(go.Scatter(x=front["privacy_risk"], y=front["quality"], mode="lines", line={"shape": "hv", "color": colours["Pareto (feasible)"]},
                                  showlegend=False, hoverinfo="skip"))
        ax.step(front["privacy_risk"], front["quality"], where="post", c=colours["Pareto (feasible)"], lw=1)
    control = done.dropna(subset=["control_quality", "control_privacy_risk"]) if "control_quality" in done else done[:0]
    control = control[control["backend"] != "stats"] if "backend" in control else control  # a stats trial is its own
    if len(control):  # the no-LLM control on each trial's release: what the model had to beat
        pfig.add_trace(go.Scatter(x=control["control_privacy_risk"], y=control["control_quality"], mode="markers",
                                  name="no-LLM control", marker={"color": "#555555", "symbol": "x", "size": 8}))
        ax.scatter(control["control_privacy_risk"], control["control_quality"], c="#555555", marker="x", s=30,
                   label="no-LLM control")
    pfig.update_layout(title=title, xaxis_title="privacy risk (1 - score/privacy), lower is better",
                       yaxis_title="score/quality, higher is better")
    ax.set_xlabel("privacy risk (1 - score/privacy) ↓")
    ax.set_ylabel("score/quality ↑")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return pfig, fig


def importances(study) -> dict[str, dict[str, float]] | None:
    """fANOVA importances per objective over the complete trials; ``None`` with fewer than 2 of them."""
    import optuna
    from optuna.trial import TrialState

    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
        return None
    out = {}
    # the default evaluator (PED-ANOVA) ranks what drives *low* targets: negate the maximised quality
    for i, (name, sign) in enumerate((("score/quality", -1.0), ("privacy/risk", 1.0))):
        try:
            out[name] = optuna.importance.get_param_importances(study, target=lambda t, i=i, s=sign: s * t.values[i])
        except (ValueError, RuntimeError) as e:  # e.g. no parameter shared by all complete trials
            out[name] = {"_skipped": str(e)}
    return out
