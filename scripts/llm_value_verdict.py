"""The verdict of the pre-registered experiment ``experiments/llm_value.yaml``: what does the language model add?

Reads the grid's finished cells from MLflow and prints, per model x dataset, a Markdown table of every arm
(mean ± half-width of the 95 % t-interval over seeds) and the criterion fixed before the grid ran (README,
"Pre-registered: what does the language model add?"):

- gap closure ``g = mean(B - A) / mean(D - A)`` on ``fidelity/feature_pair_trends`` (the feature-feature pairs a
  ``target`` release never publishes), paired by seed, 95 % CI by a seeded bootstrap over seeds;
- PASS iff ``g >= 0.25`` and the 95 % t-interval of the paired ``B - A`` lies above 0, C (names scrambled) shows
  no such gain (its ``C - A`` interval includes 0, or ``g_C < 0.25``), and B is no worse than A by more than
  0.02 on detection AUC (lower is better) and on TSTR AUC (higher is better); else FAIL;
- INCONCLUSIVE (n seeds) when an arm of the cell has fewer finished seeds than the grid pre-registered.

Usage:
    python scripts/llm_value_verdict.py --experiment synllm [--tracking-uri sqlite:///mlflow.db] [--grid llm-value]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from findings_table import _cell  # noqa: E402  (mean ± 95 % half-width, as every findings table prints it)
from synllm_mlops.evaluation import paired_min_detectable, t_interval  # noqa: E402

TARGET = "fidelity/feature_pair_trends"
DETECTION, TSTR = "fidelity/detection_auc", "utility/tstr_auc"
METRICS = ("score/harmonic", "score/quality", TARGET, DETECTION, TSTR)
CLOSURE = 0.25  # the share of the A -> D gap that B must close
MARGIN = 0.02  # how much worse than A B may be on detection and TSTR
N_BOOT, BOOT_SEED = 10_000, 0


@dataclass
class Verdict:
    """The criterion on one model x dataset: ``status`` is PASS, FAIL or INCONCLUSIVE (n seeds), with the reasons."""

    status: str
    reasons: list[str] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)


def _by_seed(cells: pd.DataFrame, arm: str, metric: str) -> pd.Series:
    rows = cells[cells["arm"] == arm]
    return (rows.set_index("seed")[metric] if metric in rows else pd.Series(dtype=float)).dropna()


def _paired(cells: pd.DataFrame, arms: tuple[str, ...], metric: str) -> pd.DataFrame:
    """One column per arm, one row per seed that every arm finished (the pairing the criterion uses)."""
    return pd.concat({a: _by_seed(cells, a, metric) for a in arms}, axis=1, join="inner").sort_index()


def interval(diffs: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) of the 95 % t-interval of paired differences (NaN bounds with fewer than two)."""
    mean, half = t_interval(diffs.tolist())
    return mean, mean - half, mean + half


def gap_closure(a: np.ndarray, x: np.ndarray, d: np.ndarray, *, n_boot: int = N_BOOT,
                seed: int = BOOT_SEED) -> tuple[float, float, float]:
    """``g = mean(x - a) / mean(d - a)`` and its 95 % percentile bootstrap interval over seeds (resampled with
    replacement, the same seeds for the three arms; a resample with no A -> D gap gives no ratio)."""
    up, gap = x - a, d - a
    g = float(up.mean() / gap.mean()) if len(a) and gap.mean() != 0 else math.nan
    if len(a) < 2:
        return g, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, len(a), size=(n_boot, len(a)))
    num, den = up[idx].mean(axis=1), gap[idx].mean(axis=1)
    ratios = np.divide(num, den, out=np.full(n_boot, np.nan), where=den != 0)
    lo, hi = np.nanpercentile(ratios, [2.5, 97.5]) if np.isfinite(ratios).any() else (math.nan, math.nan)
    return g, float(lo), float(hi)


def decide(cells: pd.DataFrame, planned: int, arms: tuple[str, str, str, str] = ("A", "B", "C", "D")) -> Verdict:
    """The pre-registered criterion on the cells of one model x dataset (columns arm, seed and the metrics;
    the control and oracle arms' cells included)."""
    A, B, C, D = arms
    fpt = _paired(cells, arms, TARGET)
    n = {arm: len(_by_seed(cells, arm, TARGET)) for arm in arms}
    a, b, c, d = (fpt[x].to_numpy(float) for x in arms)
    ba, ca = interval(b - a), interval(c - a)
    g, g_lo, g_hi = gap_closure(a, b, d)
    g_c = gap_closure(a, c, d)[0]
    guard = {m: _paired(cells, (A, B), m) for m in (DETECTION, TSTR)}
    det = float((guard[DETECTION][B] - guard[DETECTION][A]).mean()) if len(guard[DETECTION]) else math.nan
    tstr = float((guard[TSTR][A] - guard[TSTR][B]).mean()) if len(guard[TSTR]) else math.nan
    sd = float(np.std(b - a, ddof=1)) if len(a) > 1 else math.nan
    numbers = {"n_paired": float(len(fpt)), "g": g, "g_low": g_lo, "g_high": g_hi,
               "B-A": ba[0], "B-A_low": ba[1], "B-A_high": ba[2], "C-A": ca[0], "C-A_low": ca[1], "C-A_high": ca[2],
               "g_C": g_c, "D-A": float((d - a).mean()) if len(a) else math.nan, "detection_B-A": det,
               "tstr_A-B": tstr, "mde_B-A": paired_min_detectable(sd, len(a))}
    short = {arm: k for arm, k in n.items() if k < planned}
    if short or len(fpt) < planned:
        fewest = min([len(fpt), *short.values()])
        return Verdict(f"INCONCLUSIVE ({fewest} seeds)", [
            f"pre-registered {planned} seeds per arm; finished: " + ", ".join(f"{k} {v}" for k, v in n.items())
            + f"; {len(fpt)} seeds paired across all arms"], numbers)
    failed = []
    if not (g >= CLOSURE):
        failed.append(f"gap closure g = {g:.3f} < {CLOSURE} (or undefined: A -> D gap {numbers['D-A']:+.4f})")
    if not (ba[1] > 0):
        failed.append(f"95 % CI of B - A [{ba[1]:+.4f}, {ba[2]:+.4f}] does not lie above 0")
    if not (ca[1] <= 0 or not (g_c >= CLOSURE)):
        failed.append(f"C gains too: C - A CI [{ca[1]:+.4f}, {ca[2]:+.4f}] above 0 and g_C = {g_c:.3f} >= {CLOSURE}")
    if not (det <= MARGIN):
        failed.append(f"B's detection AUC is worse than A's by {det:+.4f} (> {MARGIN}, or not measured)")
    if not (tstr <= MARGIN):
        failed.append(f"B's TSTR AUC is worse than A's by {tstr:+.4f} (> {MARGIN}, or not measured)")
    return Verdict("FAIL" if failed else "PASS", failed or ["every pre-registered condition holds"], numbers)


def report(cells: pd.DataFrame, planned: dict[str, int], arms: tuple[str, str, str, str] = ("A", "B", "C", "D"),
           labels: dict[str, str] | None = None) -> str:
    """The Markdown report: per model x dataset, each arm's table and the verdict."""
    labels = labels or {}
    model_arms, out = cells[cells["backend"] != "stats"], []
    for (model, dataset), own in model_arms.groupby(["model", "dataset"], sort=True):
        sub = pd.concat([own, cells[(cells["backend"] == "stats") & (cells["dataset"] == dataset)]])
        out += [f"### {model} · {dataset}", "", "| arm | seeds | " + " | ".join(METRICS) + " |",
                "|---|---|" + "---|" * len(METRICS)]
        for arm in arms:
            rows = sub[sub["arm"] == arm]
            out.append(f"| {(arm + ' ' + labels.get(arm, '')).strip()} | {len(rows)} | "
                       + " | ".join(_cell(rows[m].tolist()) if m in rows else "–" for m in METRICS) + " |")
        v = decide(sub, planned.get(dataset, 0), arms)
        x = v.numbers
        out += ["", f"Gap closure on `{TARGET}` (paired by seed, n = {x['n_paired']:.0f}): g = {x['g']:.3f} "
                f"[95 % bootstrap CI {x['g_low']:.3f}, {x['g_high']:.3f}]; B - A = {x['B-A']:+.4f} "
                f"[{x['B-A_low']:+.4f}, {x['B-A_high']:+.4f}]; C - A = {x['C-A']:+.4f} [{x['C-A_low']:+.4f}, "
                f"{x['C-A_high']:+.4f}], g_C = {x['g_C']:.3f}; A -> D gap {x['D-A']:+.4f}.",
                f"Guards: detection AUC B - A {x['detection_B-A']:+.4f}, TSTR AUC A - B {x['tstr_A-B']:+.4f} "
                f"(each must be <= {MARGIN}).",
                f"Minimum detectable B - A difference (paired t, alpha 0.05, power 0.8, n = {x['n_paired']:.0f}): "
                f"{x['mde_B-A']:.4f}.", "", f"**Verdict: {v.status}** — " + "; ".join(v.reasons), ""]
    return "\n".join(out) if out else "no finished model-arm cells of this grid in the experiment"


def load(experiment: str, grid: str, config: str | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """The grid's finished cells (one row per cell, its latest finished run) and the seeds planned per dataset
    (from the grid the newest parent run logged, else ``config``)."""
    import mlflow

    runs = mlflow.search_runs(experiment_names=[experiment], filter_string=f"tags.`synllm.grid` = '{grid}'",
                              output_format="list", max_results=50_000)
    from synllm_mlops.tracking import cell_metrics

    # a DP cell (the default) is scored in its evaluation child run: cell_metrics merges that in
    scored = cell_metrics([r.info.run_id for r in runs
                           if r.info.status == "FINISHED" and r.data.tags.get("synllm.arm")])
    rows, parents = [], []
    for r in runs:
        tags = r.data.tags
        if tags.get("synllm.stage") == "compare":
            parents.append(r)
        elif r.info.status == "FINISHED" and tags.get("synllm.arm"):
            p = r.data.params
            rows.append({"arm": tags["synllm.arm"], "model": p.get("model", ""), "backend": p.get("backend", ""),
                         "dataset": Path(p.get("dataset", "")).stem, "seed": int(float(p.get("seed", -1))),
                         "hash": tags.get("synllm.cell_hash", r.info.run_id), "end": r.info.end_time or 0,
                         **{m: scored[r.info.run_id].get(m, math.nan) for m in METRICS}})
    cells = pd.DataFrame(rows, columns=["arm", "model", "backend", "dataset", "seed", "hash", "end", *METRICS])
    cells = cells.sort_values("end").drop_duplicates("hash", keep="last").reset_index(drop=True)
    spec = None
    for parent in sorted(parents, key=lambda r: r.info.start_time or 0, reverse=True):
        try:
            spec = json.loads(mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/compare/grid.json"))
            break
        except Exception:  # noqa: BLE001  a parent killed before it logged its grid: try the next
            continue
    if spec is None and config:
        import yaml

        spec = yaml.safe_load(Path(config).read_text())
    planned = {}
    for ds in (spec or {}).get("datasets", []):
        ds = {"name": ds} if isinstance(ds, str) else ds
        planned[Path(ds["name"]).stem] = len(ds.get("seeds") or spec.get("seeds") or [0])
    return cells, planned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--experiment", required=True, help="the MLflow experiment the grid ran in")
    ap.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    ap.add_argument("--grid", default="llm-value", help="the grid's name (its `name:` key)")
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "experiments" / "llm_value.yaml"),
                    help="the grid YAML, read for the planned seeds when no parent run logged its grid")
    args = ap.parse_args()
    if args.tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(args.tracking_uri)
    cells, planned = load(args.experiment, args.grid, args.config)
    labels = {"A": "(stats, release target)", "B": "(model, featdesc, soft steering)", "C": "(B, names scrambled)",
              "D": "(stats, all pairs released: oracle)"}
    print(f"## Pre-registered: what does the language model add? (grid {args.grid}, experiment {args.experiment})\n")
    print(report(cells, planned, labels=labels))


if __name__ == "__main__":
    main()
