"""Matplotlib figures of an evaluation (Agg backend: no display needed)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from synllm_mlops.evaluation._base import EvalData

REAL, SYN, HOLD = "#1f77b4", "#d62728", "#2ca02c"


def _new(rows: int = 1, cols: int = 1, **kw: Any):
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend needed

    fig = Figure(**kw)
    return fig, fig.subplots(rows, cols, squeeze=False)


def distributions(data: "EvalData") -> "Figure":
    """Per-column real-train vs synthetic marginals: histograms on the spec range, bars for categories."""
    cols = data.spec.columns
    ncol = 4
    nrow = max(1, math.ceil(len(cols) / ncol))
    fig, axes = _new(nrow, ncol, figsize=(4 * ncol, 2.8 * nrow), layout="constrained")
    for ax, col in zip(axes.ravel(), cols):
        r, s = data.train[col.name], data.synthetic[col.name]
        if col.is_numeric:
            bins = np.linspace(col.min, col.max, 31)  # type: ignore[arg-type]
            for x, c, lab in ((r, REAL, "real train"), (s, SYN, "synthetic")):
                x = x.dropna().to_numpy(float)
                if len(x):
                    ax.hist(np.clip(x, col.min, col.max), bins=bins, density=True, alpha=0.5, color=c, label=lab)
        else:
            levels = list(col.categories or []) + ["NA"]
            pos = np.arange(len(levels))
            for off, x, c, lab in ((-0.2, r, REAL, "real train"), (0.2, s, SYN, "synthetic")):
                freq = x.fillna("NA").value_counts(normalize=True).reindex(levels, fill_value=0.0) if len(x) else np.zeros(len(levels))
                ax.bar(pos + off, np.asarray(freq, float), width=0.4, color=c, alpha=0.7, label=lab)
            ax.set_xticks(pos, levels, fontsize=7, rotation=30)
        ax.set_title(col.name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(cols):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{data.spec.name}: real train (n={len(data.train)}) vs synthetic (n={len(data.synthetic)})")
    return fig


def correlation_heatmaps(data: "EvalData") -> "Figure":
    """Pearson correlations of numeric columns: real train, synthetic, and their difference."""
    num = data.spec.numeric_columns
    fig, axes = _new(1, 3, figsize=(15, 4.8), layout="constrained")
    if len(num) < 2:
        for ax in axes.ravel():
            ax.axis("off")
        axes[0, 0].text(0, 0.5, "fewer than two numeric columns: no correlation matrix")
        return fig
    real = data.train[num].corr().to_numpy()
    syn = data.synthetic[num].corr().to_numpy() if len(data.synthetic) > 1 else np.full_like(real, np.nan)
    for ax, m, title, cmap, lim in ((axes[0, 0], real, "real train", "RdBu_r", 1), (axes[0, 1], syn, "synthetic", "RdBu_r", 1),
                                    (axes[0, 2], syn - real, "synthetic - real", "PuOr_r", 2)):
        im = ax.imshow(m, cmap=cmap, vmin=-lim, vmax=lim)
        ax.set_xticks(range(len(num)), num, rotation=90, fontsize=7)
        ax.set_yticks(range(len(num)), num, fontsize=7)
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def dcr_histogram(data: "EvalData") -> "Figure":
    """Distances to closest record: synthetic->train vs synthetic->holdout (equal-size references)."""
    fig, axes = _new(1, 1, figsize=(7, 4), layout="constrained")
    ax = axes[0, 0]
    if len(data.synthetic) == 0 or min(len(data.train), len(data.holdout)) == 0:
        ax.text(0.05, 0.5, "no DCR: empty table")
        return fig
    dt, dh = data.dcr("train")[0][:, 0], data.dcr("holdout")[0][:, 0]
    bins = np.linspace(0, max(dt.max(), dh.max(), 1e-9), 41)
    ax.hist(dt, bins=bins, alpha=0.55, color=REAL, label=f"synthetic -> train (median {np.median(dt):.3g})")
    ax.hist(dh, bins=bins, alpha=0.55, color=HOLD, label=f"synthetic -> holdout (median {np.median(dh):.3g})")
    ax.set_xlabel("distance to closest record (mixed-type encoding)")
    ax.set_ylabel("synthetic rows")
    ax.legend()
    return fig


def rule_violations(data: "EvalData", breakdowns: dict[str, Any]) -> "Figure":
    """Per-rule violation rates, synthetic vs real train."""
    rules = (breakdowns.get("clinical/rule_adherence") or {}).get("rules") or {}
    fig, axes = _new(1, 1, figsize=(8, 0.45 * max(len(rules), 2) + 1.5), layout="constrained")
    ax = axes[0, 0]
    if not rules:
        ax.text(0.05, 0.5, "no rule violation rates (no rules, or no synthetic rows)")
        ax.axis("off")
        return fig
    names = list(rules)
    pos = np.arange(len(names))
    ax.barh(pos - 0.2, [rules[n]["synthetic_rate"] for n in names], height=0.4, color=SYN, label="synthetic")
    ax.barh(pos + 0.2, [rules[n]["train_rate"] or 0.0 for n in names], height=0.4, color=REAL, label="real train")
    ax.set_yticks(pos, names, fontsize=8)
    ax.set_xlabel("share of rows breaking the rule")
    ax.invert_yaxis()
    ax.legend()
    return fig


def make_figures(data: "EvalData", breakdowns: dict[str, Any]) -> dict[str, "Figure"]:
    """All figures by file name."""
    return {"distributions.png": distributions(data), "correlation_heatmaps.png": correlation_heatmaps(data),
            "dcr_histogram.png": dcr_histogram(data), "rule_violations.png": rule_violations(data, breakdowns)}
