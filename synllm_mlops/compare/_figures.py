"""Grid figures: harmonic-score heatmap (as in the SynLLM paper) and a privacy-vs-quality scatter with the Pareto
front and the no-LLM control."""

from __future__ import annotations

import math

import pandas as pd

_MARKERS = "osD^v<>pP*Xh"


def _datasets(cells: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(cells["dataset"]))


def harmonic_heatmap(cells: pd.DataFrame, metric: str = "score/harmonic"):
    """Mean ``metric`` over seeds, models x strategies, one panel per dataset, on the fixed 0–1 scale."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    ok = cells[cells["status"] == "FINISHED"]
    datasets = _datasets(cells)
    models = list(dict.fromkeys(cells["model"]))
    strategies = list(dict.fromkeys(cells["strategy"]))
    fig = Figure(figsize=(1.6 + 1.4 * len(strategies) * len(datasets), 2.0 + 0.45 * len(models)), layout="constrained")
    axes = fig.subplots(1, len(datasets), squeeze=False)
    im = None
    for ax, ds in zip(axes[0], datasets):
        sub = ok[ok["dataset"] == ds]
        means = (sub.groupby(["model", "strategy"])[metric].mean() if metric in sub and len(sub)
                 else pd.Series(dtype=float))
        grid = means.unstack().reindex(index=models, columns=strategies) if len(means) else \
            pd.DataFrame(index=models, columns=strategies, dtype=float)
        im = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for i, j in ((i, j) for i in range(len(models)) for j in range(len(strategies))):
            v = grid.iat[i, j]
            ax.text(j, i, "–" if pd.isna(v) else f"{v:.2f}", ha="center", va="center",
                    color="white" if pd.isna(v) or v < 0.6 else "black", fontsize=8)
        ax.set_xticks(range(len(strategies)), strategies, rotation=30, ha="right")
        ax.set_yticks(range(len(models)), models if ax is axes[0][0] else [""] * len(models))
        ax.set_title(ds)
    fig.colorbar(im, ax=list(axes[0]), label=f"mean {metric}")
    return fig


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both coordinates (both maximised), by ascending x.

    Example:
        >>> pareto_front([(0.5, 0.9), (0.7, 0.8), (0.6, 0.7), (0.9, 0.2)])
        [(0.5, 0.9), (0.7, 0.8), (0.9, 0.2)]
    """
    front = [p for p in points if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in points)]
    return sorted(set(front))


def privacy_quality_scatter(cells: pd.DataFrame):
    """One point per finished cell: quality (x) vs privacy (y); colour = strategy, marker = model; the Pareto
    front of the cells as a line; the no-LLM control of each cell (``control/score/*``) as a grey cross with its
    95 % CI, so a reader sees at once whether a model beat the release it was steered by."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    ok = cells[cells["status"] == "FINISHED"]
    datasets = _datasets(cells)
    strategies = list(dict.fromkeys(cells["strategy"]))
    models = list(dict.fromkeys(cells["model"]))
    colours = {s: colormaps["tab10"](i % 10) for i, s in enumerate(strategies)}
    markers = {m: _MARKERS[i % len(_MARKERS)] for i, m in enumerate(models)}
    fig = Figure(figsize=(4.2 * len(datasets) + 1.8, 4))
    axes = fig.subplots(1, len(datasets), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        sub = ok[ok["dataset"] == ds]
        points = []
        for _, r in sub.iterrows():
            q, p = r.get("score/quality", math.nan), r.get("score/privacy", math.nan)
            if not (pd.isna(q) or pd.isna(p)):
                ax.scatter(q, p, color=colours[r["strategy"]], marker=markers[r["model"]], s=40, alpha=0.8)
                points.append((float(q), float(p)))
            cq, cp = r.get("control/score/quality", math.nan), r.get("control/score/privacy", math.nan)
            if not (pd.isna(cq) or pd.isna(cp)):
                ax.errorbar(cq, cp, xerr=_nan0(r.get("control/score/quality_ci95")),
                            yerr=_nan0(r.get("control/score/privacy_ci95")), color="grey", marker="x", ms=6,
                            alpha=0.6, lw=0.8)
        front = pareto_front(points)
        if len(front) > 1:
            ax.plot(*zip(*front), color="black", lw=1, alpha=0.6)
        ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="score/quality", title=ds)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("score/privacy")
    handles = ([Line2D([], [], color=c, marker="o", ls="", label=s) for s, c in colours.items()]
               + [Line2D([], [], color="grey", marker=mk, ls="", label=m) for m, mk in markers.items()]
               + [Line2D([], [], color="black", lw=1, label="Pareto front"),
                  Line2D([], [], color="grey", marker="x", ls="", label="no-LLM control (95 % CI)")])
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    fig.subplots_adjust(right=1 - 1.7 / fig.get_figwidth())
    return fig


def _nan0(x) -> float:
    return 0.0 if x is None or pd.isna(x) else float(x)
