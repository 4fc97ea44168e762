"""Grid figures: harmonic-score heatmap (as in the SynLLM paper) and a privacy-vs-quality scatter."""

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


def privacy_quality_scatter(cells: pd.DataFrame):
    """One point per finished cell: quality (x) vs privacy (y); colour = strategy, marker = model."""
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
        for _, r in sub.iterrows():
            q, p = r.get("score/quality", math.nan), r.get("score/privacy", math.nan)
            if not (pd.isna(q) or pd.isna(p)):
                ax.scatter(q, p, color=colours[r["strategy"]], marker=markers[r["model"]], s=40, alpha=0.8)
        ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="score/quality", title=ds)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("score/privacy")
    handles = ([Line2D([], [], color=c, marker="o", ls="", label=s) for s, c in colours.items()]
               + [Line2D([], [], color="grey", marker=mk, ls="", label=m) for m, mk in markers.items()])
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    fig.subplots_adjust(right=1 - 1.7 / fig.get_figwidth())
    return fig
