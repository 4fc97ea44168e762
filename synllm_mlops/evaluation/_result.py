"""EvaluationResult: metric values, breakdowns, declarations, and their JSON / figure / HTML renderings."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from synllm_mlops.evaluation._base import EvalData


def jsonable(x: Any) -> Any:
    """Plain JSON types; NaN and infinities become ``null`` (strict JSON has no NaN)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if x is None or isinstance(x, str):
        return x
    return str(x)


@dataclass
class EvaluationResult:
    """What :func:`evaluate` returns.

    Attributes:
        metrics: flat metric name -> float (NaN where a metric could not be computed).
        breakdowns: metric name -> JSON-serialisable details (per column / rule / pair, CIs, skip reasons,
            ``reference`` values computed on the real holdout).
        info: metric name -> its declaration (group, goal, min_value, max_value, baseline, description).
        timings: metric name -> seconds spent.
    """

    metrics: dict[str, float]
    breakdowns: dict[str, Any]
    info: dict[str, dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    dataset: str = ""
    n_rows: dict[str, int] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)  # run, model, strategy, prompt URI, data digest (report header)
    _data: "EvalData | None" = field(default=None, repr=False)
    _png: "dict[str, bytes] | None" = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python types (see :meth:`to_json`)."""
        return jsonable({
            "dataset": self.dataset, "seed": self.seed, "n_rows": self.n_rows, "context": self.context,
            "summary": self.summary(),
            "metrics": {k: {"value": v, **self.info.get(k, {})} for k, v in self.metrics.items()},
            "breakdowns": self.breakdowns, "timings_s": self.timings,
            "notes": "null = NaN (not computable; see the breakdown's 'skipped') or an unbounded max_value",
        })

    def to_json(self, indent: int | None = 2) -> str:
        """The ``evaluation/report.json`` content: every metric with goal/range/baseline, and its breakdown."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def figures(self) -> dict[str, "Figure"]:
        """Matplotlib figures by file name: distributions, correlation heatmaps, DCR histogram, rule violations."""
        from synllm_mlops.evaluation._figures import make_figures

        if self._data is None:
            raise ValueError("figures need the evaluated tables; this result was built without them "
                             "(use the result returned by evaluate())")
        return make_figures(self._data, self.breakdowns)

    def png_figures(self, dpi: int = 90) -> dict[str, bytes]:
        """The figures rendered once as PNG bytes (reused by the HTML report and the MLflow artifacts)."""
        if self._png is None:
            import matplotlib.pyplot as plt

            self._png = {}
            for fname, fig in self.figures().items():
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
                plt.close(fig)
                self._png[fname] = buf.getvalue()
        return self._png

    def summary(self) -> dict[str, Any]:
        """The three scores, their components and the weakest component of each (what a reader looks at first).

        Example:
            >>> r = EvaluationResult({"score/quality": 0.5}, {"score/quality": {"components": {"a": 0.9, "b": 0.1}}}, {})
            >>> r.summary()["weakest"]["score/quality"]
            ['b', 0.1]
        """
        out: dict[str, Any] = {"scores": {}, "components": {}, "weakest": {}}
        for name in SCORES:
            out["scores"][name] = self.metrics.get(name, math.nan)
            parts = (self.breakdowns.get(name) or {}).get("components") or {}
            out["components"][name] = dict(parts)
            known = {k: v for k, v in parts.items() if v is not None and not math.isnan(v)}
            out["weakest"][name] = list(min(known.items(), key=lambda kv: kv[1])) if known else None
        return out

    def to_html(self) -> str:
        """A self-contained HTML report (figures inlined as base64 PNG) that opens offline.

        It opens with a summary (run, model, strategy, prompt, data digest; the three scores with their
        components, the worst privacy component highlighted), then every metric, then captioned figures.
        """
        e = html.escape
        rows = []
        for name in sorted(self.metrics, key=_order):
            value = self.metrics[name]
            meta, bd = self.info.get(name, {}), self.breakdowns.get(name, {})
            ref = bd.get("reference") if isinstance(bd, dict) else None
            why = bd.get("skipped", "") if isinstance(bd, dict) else ""
            rows.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in (
                name, _fmt(value), meta.get("goal", ""), _fmt(meta.get("baseline")), _fmt(ref),
                f"[{_fmt(meta.get('min_value'))}, {_fmt(meta.get('max_value'))}]", why or meta.get("description", ""))) + "</tr>")
        images = []
        for fname, png in self.png_figures().items():
            title, caption = FIGURE_CAPTIONS.get(fname, (fname, ""))
            images.append(f"<figure><h3>{e(title)}</h3><img alt='{e(title)}' "
                          f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
                          f"<figcaption>{e(caption)} <code>plots/{e(fname)}</code></figcaption></figure>")
        details = e(json.dumps(jsonable(self.breakdowns), indent=1))
        n = ", ".join(f"{k}: {v}" for k, v in self.n_rows.items())
        return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Evaluation: {e(self.dataset)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}}th{{background:#eee}}img{{max-width:100%}}
.score{{font-size:20px;font-weight:bold}}.worst{{background:#fde0dc;font-weight:bold}}figure{{margin:1.5em 0}}
figcaption{{font-size:13px;color:#444}}#summary{{border:1px solid #bbb;padding:0.5em 1.2em;background:#fafafa}}</style></head>
<body><h1>Synthetic data evaluation: {e(self.dataset)}</h1>
{self._summary_html()}
<h2>Every metric</h2><p>seed {self.seed}; rows {e(n)}.
"reference" is the same metric computed with the real holdout in place of the synthetic table.</p>
<table><tr><th>metric</th><th>value</th><th>goal</th><th>baseline</th><th>reference</th><th>range</th><th>note</th></tr>
{''.join(rows)}</table><h2>Figures</h2>{''.join(images)}
<details><summary>breakdowns (JSON)</summary><pre>{details}</pre></details></body></html>"""

    def _summary_html(self) -> str:
        e = html.escape
        s = self.summary()
        ctx = [(k, self.context[k]) for k in CONTEXT_FIELDS if self.context.get(k)]
        head = "".join(f"<tr><th>{e(k)}</th><td><code>{e(str(v))}</code></td></tr>" for k, v in ctx)
        cells = []
        for name in SCORES:
            worst = s["weakest"].get(name)
            parts = []
            for comp, v in s["components"][name].items():
                mark = " class='worst'" if name == "score/privacy" and worst and comp == worst[0] else ""
                parts.append(f"<tr{mark}><td>{e(comp)}</td><td>{_fmt(v)}</td></tr>")
            low = f"weakest: {e(worst[0])} {_fmt(worst[1])}" if worst else ""
            cells.append(f"<td><div class='score'>{e(name)} = {_fmt(s['scores'][name], 3)}</div><div>{low}</div>"
                         f"<table>{''.join(parts)}</table></td>")
        return (f"<section id='summary'><h2>Summary</h2><table>{head}</table>"
                f"<p>Scores on fixed absolute scales, 1 best; each component is in [0, 1] (1 = best / no measurable "
                f"risk). The highlighted privacy component is the worst one.</p>"
                f"<table><tr>{''.join(cells)}</tr></table></section>")


SCORES = ("score/quality", "score/privacy", "score/harmonic")
CONTEXT_FIELDS = ("run", "experiment", "model", "strategy", "prompt", "dataset", "data_digest", "rows", "seed",
                  "source run")
_GROUP_ORDER = ("score", "gen", "calib", "fidelity", "clinical", "privacy", "utility", "diversity")
FIGURE_CAPTIONS = {
    "distributions.png": ("Column distributions", "Per column: histograms on the spec's plausible range (bars per "
                          "category, missing values as NA), real train vs synthetic."),
    "correlation_heatmaps.png": ("Correlations", "Pearson correlations of the numeric columns: real train, synthetic, "
                                 "and their difference."),
    "dcr_histogram.png": ("Distance to the closest record", "Distances from each synthetic row to its closest real "
                          "train row and closest real holdout row; a table that copies train sits to the left of holdout."),
    "rule_violations.png": ("Clinical rule violations", "Share of rows breaking each clinical rule of the spec, "
                            "synthetic vs real train (a rule the real data also breaks is a tendency)."),
}


def _order(name: str) -> tuple[int, str]:
    group = name.replace("/", ".").split(".")[0]
    return (_GROUP_ORDER.index(group) if group in _GROUP_ORDER else len(_GROUP_ORDER), name)


def _fmt(x: Any, digits: int = 3) -> str:
    """Fixed decimals where a reader compares values side by side (0.980 next to 0.887, never 0.98)."""
    if x is None:
        return ""
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return "NaN" if math.isnan(x) else "inf"
        return f"{x:.{digits}f}" if abs(x) < 1000 else f"{x:.4g}"
    return str(x)
