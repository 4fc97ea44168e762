"""Benchmark: Pareto hypervolume (reference quality=0, risk=1) at an equal trial budget.

Three arms with the same budget of runs: TPE search and random search over the full space, and the
four fixed strategies at default sampling (budget/4 seeds each, one front over all of them, the way
a person comparing the four hand-written prompts would). Prints a Markdown table, with each fixed
strategy's own front as extra rows.

    python scripts/bench_tuning.py --budget 8 --n-rows 20            # real embedded model (~25 min here)
    python scripts/bench_tuning.py --backend fake --budget 4 --n-rows 6  # smoke run
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="cirrhosis")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--backend", default="hf", choices=["hf", "fake"])
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--n-rows", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default="", help="MLflow store + Optuna storage here (default: a temp dir)")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="bench-tuning-")
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{os.path.join(work, 'mlflow.db')}")
    os.environ.setdefault("MLFLOW_EXPERIMENT_NAME", "synllm-bench")

    from synllm_mlops import tracking
    from synllm_mlops.config import RunConfig
    from synllm_mlops.generation import make_backend
    from synllm_mlops.spec import load_spec
    from synllm_mlops.tuning import TuneConfig, hypervolume_2d, tune
    from synllm_mlops.workflow import run_generation

    model = "fake" if args.backend == "fake" else args.model
    backend = (make_backend("fake", model, spec=load_spec(args.dataset)) if args.backend == "fake"
               else make_backend("hf", model).load())  # loaded once, shared by every arm
    rows = []
    for sampler in ("tpe", "random"):
        t0 = time.perf_counter()
        res = tune(TuneConfig(dataset=args.dataset, model=model, backend=args.backend, n_trials=args.budget,
                              n_rows=args.n_rows, seed=args.seed, sampler=sampler, storage="optuna.sqlite3",
                              study_name=f"bench-{sampler}-s{args.seed}", register_champion=False,
                              n_startup_trials=max(2, args.budget // 3)),
                   backend_factory=lambda m: backend, progress=False)
        done = res.table[res.table["state"] == "COMPLETE"]
        rows.append((f"{sampler} search", res.hypervolume, len(done), done["harmonic"].max(), time.perf_counter() - t0))
    strategies = ("seed_ex", "featdesc", "statguide", "clin_rule")
    per_strategy = -(-args.budget // len(strategies))  # equal budget: the four together get `budget` runs
    t_fixed, all_points, fixed_rows = time.perf_counter(), [], []
    for strategy in strategies:
        t0, points, best = time.perf_counter(), [], float("nan")
        with tracking.tracked_run("compare", run_name=f"bench-fixed-{strategy}"):
            for s in range(per_strategy):  # default sampling, one run per seed
                try:
                    out = run_generation(RunConfig.build(dataset=args.dataset, model=model, backend=args.backend,
                                                         strategy=strategy, n_rows=args.n_rows, seed=args.seed + s,
                                                         batch_size=8),
                                         backend=backend, stage="trial", nested=True, progress=False)
                except Exception as e:  # noqa: BLE001 - a failed run is a point we did not get
                    print(f"{strategy} seed {s}: {e}")
                    continue
                m = out.metrics
                points.append((m["score/quality"], 1 - m["score/privacy"]))
                best = m["score/harmonic"] if best != best else max(best, m["score/harmonic"])
        all_points += points
        fixed_rows.append((f"  of which {strategy} alone", hypervolume_2d(points), len(points), best,
                           time.perf_counter() - t0))
    best_fixed = max((r[3] for r in fixed_rows if r[3] == r[3]), default=float("nan"))
    rows.append(("four fixed strategies", hypervolume_2d(all_points), len(all_points), best_fixed,
                 time.perf_counter() - t_fixed))
    rows += fixed_rows
    print(f"\nbudget {args.budget} runs per arm, n_rows {args.n_rows}, backend {args.backend}, model {model}, store {work}\n")
    print("| arm | hypervolume ↑ | complete runs | best harmonic | seconds |")
    print("|---|---:|---:|---:|---:|")
    for name, hv, n, best, sec in rows:
        print(f"| {name} | {hv:.4f} | {n} | {best:.3f} | {sec:.0f} |")


if __name__ == "__main__":
    main()
