"""Benchmark: Pareto hypervolume (reference quality=0, risk=1) at an equal trial budget.

Compares TPE and random search over the full space with the four fixed strategies at default
sampling (each run `budget` times with seeds 0..budget-1). Prints a Markdown table.

    python scripts/bench_tuning.py --budget 8 --n-rows 20            # real embedded model (slow)
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
    for strategy in ("seed_ex", "featdesc", "statguide", "clin_rule"):
        t0, points, best = time.perf_counter(), [], float("nan")
        with tracking.tracked_run("compare", run_name=f"bench-fixed-{strategy}"):
            for s in range(args.budget):  # same budget: one run per seed at default sampling
                try:
                    out = run_generation(RunConfig.build(dataset=args.dataset, model=model, backend=args.backend,
                                                         strategy=strategy, n_rows=args.n_rows, seed=args.seed + s,
                                                         batch_size=8),
                                         backend=backend, stage="trial", nested=True, progress=False)
                except Exception as e:  # noqa: BLE001 - a failed run is a point we did not get
                    print(f"{strategy} seed {s}: {e}")
                    continue
                m = out.metrics
                points.append((m["score.quality"], 1 - m["score.privacy"]))
                best = m["score.harmonic"] if best != best else max(best, m["score.harmonic"])
        rows.append((f"fixed {strategy}", hypervolume_2d(points), len(points), best, time.perf_counter() - t0))
    print(f"\nbudget {args.budget} runs per arm, n_rows {args.n_rows}, backend {args.backend}, model {model}, store {work}\n")
    print("| arm | hypervolume ↑ | complete runs | best harmonic | seconds |")
    print("|---|---:|---:|---:|---:|")
    for name, hv, n, best, sec in rows:
        print(f"| {name} | {hv:.4f} | {n} | {best:.3f} | {sec:.0f} |")


if __name__ == "__main__":
    main()
