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
    _data: "EvalData | None" = field(default=None, repr=False)
    _png: "dict[str, bytes] | None" = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python types (see :meth:`to_json`)."""
        return jsonable({
            "dataset": self.dataset, "seed": self.seed, "n_rows": self.n_rows,
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

    def to_html(self) -> str:
        """A self-contained HTML report (figures inlined as base64 PNG) that opens offline."""

        rows = []
        for name, value in self.metrics.items():
            meta, bd = self.info.get(name, {}), self.breakdowns.get(name, {})
            ref = bd.get("reference") if isinstance(bd, dict) else None
            why = bd.get("skipped", "") if isinstance(bd, dict) else ""
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in (
                name, _fmt(value), meta.get("goal", ""), _fmt(meta.get("baseline")), _fmt(ref),
                f"[{_fmt(meta.get('min_value'))}, {_fmt(meta.get('max_value'))}]", why or meta.get("description", ""))) + "</tr>")
        images = []
        for fname, png in self.png_figures().items():
            images.append(f"<h2>{html.escape(fname)}</h2><img alt='{html.escape(fname)}' "
                          f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
        details = html.escape(json.dumps(jsonable(self.breakdowns), indent=1))
        n = ", ".join(f"{k}: {v}" for k, v in self.n_rows.items())
        return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Evaluation: {html.escape(self.dataset)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px}}th{{background:#eee}}img{{max-width:100%}}</style></head>
<body><h1>Synthetic data evaluation: {html.escape(self.dataset)}</h1><p>seed {self.seed}; rows {html.escape(n)}.
"reference" is the same metric computed with the real holdout in place of the synthetic table.</p>
<table><tr><th>metric</th><th>value</th><th>goal</th><th>baseline</th><th>reference</th><th>range</th><th>note</th></tr>
{''.join(rows)}</table>{''.join(images)}
<details><summary>breakdowns (JSON)</summary><pre>{details}</pre></details></body></html>"""


def _fmt(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return "NaN" if math.isnan(x) else ("inf" if math.isinf(x) else f"{x:.4g}")
    return str(x)
