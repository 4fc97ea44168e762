"""Benchmark ``evaluate()`` at 1k / 10k / 100k rows and the DCR search against straightforward references.

Each size runs in its own subprocess so peak memory (ru_maxrss) is that size's alone. "Real" tables are
cirrhosis rows resampled with seeded jitter (numeric noise of 2 % of the spec range, 5 % of categories
redrawn); the synthetic table is another such draw, so the metric code sees ordinary spec-typed frames.

Usage:
    python scripts/bench_evaluate.py                 # 1k, 10k, 100k; Markdown tables on stdout
    python scripts/bench_evaluate.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def jittered(spec, base: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = base.iloc[rng.integers(len(base), size=n)].reset_index(drop=True).copy()
    for col in spec.columns:
        s = df[col.name]
        if col.is_numeric:
            noise = rng.normal(0, 0.02 * (col.max - col.min), n)
            df[col.name] = np.clip(s + noise, col.min, col.max).round(col.decimals)
        else:
            redraw = rng.random(n) < 0.05
            pool = base[col.name].to_numpy(object)
            df.loc[redraw, col.name] = pool[rng.integers(len(pool), size=int(redraw.sum()))]
    return df


def worker(n: int) -> dict:
    from synllm_mlops.evaluation import evaluate
    from synllm_mlops.spec import load_data, load_spec

    spec = load_spec("cirrhosis")
    base = load_data(spec)
    train, holdout, syn = (jittered(spec, base, n, s) for s in (1, 2, 3))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    result = evaluate(train, holdout, syn, spec, seed=0)
    wall = time.perf_counter() - t0
    top = sorted(result.timings.items(), key=lambda kv: -kv[1])[:4]
    return {"n": n, "wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": rss0 / 1024, "slowest": top,
            "metrics": {k: result.metrics[k] for k in ("fidelity/column_shapes", "privacy/dcr_share_closer_to_train",
                                                       "privacy/mia_auc", "utility/tstr_auc", "score/harmonic")}}


def dcr_worker(n: int, loop: bool, sklearn: bool) -> dict:
    """DCR synthetic -> train (k=1) with ours vs a per-row numpy loop vs sklearn NearestNeighbors(brute)."""
    from sklearn.neighbors import NearestNeighbors

    from synllm_mlops.evaluation import EvalData, nearest
    from synllm_mlops.spec import load_data, load_spec

    spec = load_spec("cirrhosis")
    base = load_data(spec)
    data = EvalData(jittered(spec, base, n, 1), jittered(spec, base, n, 2), jittered(spec, base, n, 3), spec, seed=0)
    q, r = data.encoded("synthetic"), data.encoded("train")
    out: dict = {"n": n, "dims": q.shape[1]}
    t0 = time.perf_counter()
    d_ours = nearest(q, r, 1)[0][:, 0]
    out["ours_s"] = time.perf_counter() - t0
    if sklearn:
        t0 = time.perf_counter()
        d_sk = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(r).kneighbors(q)[0][:, 0]
        out["sklearn_brute_s"] = time.perf_counter() - t0
        out["max_abs_diff_sklearn"] = float(np.abs(d_sk - d_ours).max())
    if loop:
        t0 = time.perf_counter()
        r64 = r.astype(np.float64)
        d_loop = np.array([np.sqrt(((r64 - row) ** 2).sum(axis=1)).min() for row in q.astype(np.float64)])
        out["python_loop_s"] = time.perf_counter() - t0
        out["max_abs_diff_loop"] = float(np.abs(d_loop - d_ours).max())
    return out


def run(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    p.add_argument("--dcr", type=int, help=argparse.SUPPRESS)
    p.add_argument("--loop", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--sklearn", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker)))
        return
    if a.dcr:
        print(json.dumps(dcr_worker(a.dcr, a.loop, a.sklearn)))
        return
    print("| rows (train = holdout = synthetic) | evaluate() wall s | peak RSS MB | slowest metrics (s) |")
    print("|---|---|---|---|")
    for n in a.sizes:
        r = run(["--worker", str(n)])
        if "error" in r:
            print(f"| {n:,} | failed: {r['error']} | | |")
            continue
        slow = ", ".join(f"{k} {v:.1f}" for k, v in r["slowest"])
        print(f"| {n:,} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} | {slow} |", flush=True)
    print("\n| rows | dims | DCR ours s | sklearn brute s | speed-up | per-row loop s | speed-up | max abs diff |")
    print("|---|---|---|---|---|---|---|---|")
    for n in a.sizes:
        r = run(["--dcr", str(n), *(["--loop"] if n <= 10_000 else []), *(["--sklearn"] if n <= 100_000 else [])])
        if "error" in r:
            print(f"| {n:,} | failed: {r['error']} |")
            continue
        sk, lp, ours = r.get("sklearn_brute_s"), r.get("python_loop_s"), r["ours_s"]
        diff = max(r.get("max_abs_diff_sklearn", 0.0), r.get("max_abs_diff_loop", 0.0))
        cells = [f"{n:,}", str(r["dims"]), f"{ours:.2f}",
                 f"{sk:.2f}" if sk else "-", f"{sk / ours:.1f}x" if sk else "-",
                 f"{lp:.2f}" if lp else "-", f"{lp / ours:.1f}x" if lp else "-", f"{diff:.1e}"]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
