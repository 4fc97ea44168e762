"""Benchmark: Pareto hypervolume (reference quality=0, risk=1) at an equal trial budget, over study seeds.

Arms with the same budget of runs, each repeated on every ``--study-seeds`` seed (the seed of the study's split,
release and sampler): TPE search and random search over the full space, and a baseline without search — on a
language model the four fixed strategies at default sampling (budget/4 seeds each, one front over all of them, the
way a person comparing the four hand-written prompts would; each strategy's own front as extra rows), on the
``stats`` control the default run on ``budget`` seeds. Prints a Markdown table of each arm's hypervolume as mean
± 95 % t-interval over study seeds, and TPE − random paired by study seed.

``--backend stats`` runs without a model (seconds a trial): the space is then the control's own, the release
level, calibration mode, oversampling and steer strength (and ``dp_epsilon`` with ``--tune-dp``).

    python scripts/bench_tuning.py --budget 8 --n-rows 200 --study-seeds 0 1 2          # the model: a GPU job
    python scripts/bench_tuning.py --backend stats --tune-dp --budget 12 --n-rows 100 --study-seeds 0 1 2
    python scripts/bench_tuning.py --backend fake --budget 4 --n-rows 6                  # smoke run
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

STRATEGIES = ("seed_ex", "featdesc", "statguide", "clin_rule")


def search(args, sampler: str, seed: int, backend) -> tuple[float, int, float]:
    """One study: (hypervolume, complete trials, best harmonic)."""
    from synllm_mlops.tuning import TuneConfig, tune

    res = tune(TuneConfig(dataset=args.dataset, model=args.model_name, backend=args.backend, n_trials=args.budget,
                          n_rows=args.n_rows, seed=seed, sampler=sampler, storage="optuna.sqlite3",
                          study_name=f"bench-{sampler}-s{seed}", register_champion=False, tune_dp=args.tune_dp,
                          n_startup_trials=max(2, args.budget // 3)),
               backend_factory=lambda m: backend, progress=False)
    done = res.table[res.table["state"] == "COMPLETE"]
    return res.hypervolume, len(done), float(done["harmonic"].max()) if len(done) else math.nan


def fixed(args, seed: int, backend, strategy: str | None, n_runs: int) -> list[tuple[float, float, float]]:
    """``n_runs`` runs at default settings (seeds ``seed``, ``seed + 1``, ...): (quality, risk, harmonic) each."""
    from synllm_mlops import tracking
    from synllm_mlops.config import RunConfig
    from synllm_mlops.workflow import run_generation

    points = []
    with tracking.tracked_run("compare", run_name=f"bench-fixed-{strategy or 'default'}-s{seed}"):
        for s in range(n_runs):
            try:
                out = run_generation(RunConfig.build(dataset=args.dataset, model=args.model_name, backend=args.backend,
                                                     n_rows=args.n_rows, seed=seed * 1000 + s, batch_size=8,
                                                     **({"strategy": strategy} if strategy else {})),
                                     backend=backend, stage="trial", nested=True, progress=False)
            except Exception as e:  # noqa: BLE001 - a failed run is a point we did not get
                print(f"{strategy} seed {s}: {e}")
                continue
            m = out.metrics
            points.append((m["score/quality"], 1 - m["score/privacy"], m["score/harmonic"]))
    return points


def baseline(args, seed: int, backend) -> dict[str, tuple[float, int, float]]:
    """The arm without search on ``seed``: label -> (hypervolume, runs, best harmonic)."""
    from synllm_mlops.tuning import hypervolume_2d

    def summary(points):
        return hypervolume_2d([p[:2] for p in points]), len(points), max((p[2] for p in points), default=math.nan)

    if args.backend == "stats":  # the control ignores the prompt: the baseline is its default run
        return {"default run, no search": summary(fixed(args, seed, backend, None, args.budget))}
    per = {s: fixed(args, seed, backend, s, -(-args.budget // len(STRATEGIES))) for s in STRATEGIES}
    out = {"four fixed strategies": summary([p for ps in per.values() for p in ps])}
    out.update({f"  of which {s} alone": summary(ps) for s, ps in per.items()})
    return out


def cell(values: list[float], digits: int = 4) -> str:
    from synllm_mlops.evaluation import t_interval

    mean, half = t_interval(values)
    if math.isnan(mean):
        return "–"
    return f"{mean:.{digits}f} ± {half:.{digits}f}" if not math.isnan(half) else f"{mean:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="cirrhosis")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--backend", default="hf", choices=["hf", "stats", "fake"])
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--n-rows", type=int, default=20)
    ap.add_argument("--study-seeds", type=int, nargs="+", default=[0],
                    help="one study per seed and arm (>= 3 for a CI)")
    ap.add_argument("--tune-dp", action="store_true", help="also search dp_epsilon")
    ap.add_argument("--workdir", default="", help="MLflow store + Optuna storage here (default: a temp dir)")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="bench-tuning-")
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{os.path.join(work, 'mlflow.db')}")
    os.environ.setdefault("MLFLOW_EXPERIMENT_NAME", "synllm-bench")

    import optuna

    from synllm_mlops.generation import make_backend
    from synllm_mlops.spec import load_spec

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args.model_name = args.backend if args.backend in ("fake", "stats") else args.model
    backend = make_backend(args.backend, args.model_name, spec=load_spec(args.dataset)).load()  # once, every arm
    arms: dict[str, list[tuple[float, int, float, float]]] = {}  # label -> per study seed (hv, runs, best, s)
    try:
        for seed in args.study_seeds:
            for sampler in ("tpe", "random"):
                t0 = time.perf_counter()
                arms.setdefault(f"{sampler} search", []).append((*search(args, sampler, seed, backend),
                                                                 time.perf_counter() - t0))
            t0 = time.perf_counter()
            for label, row in baseline(args, seed, backend).items():
                arms.setdefault(label, []).append((*row, time.perf_counter() - t0))
            print(f"study seed {seed}: " + ", ".join(f"{k.strip()} {v[-1][0]:.4f}" for k, v in arms.items()),
                  flush=True)
    finally:
        backend.close()
    n = len(args.study_seeds)
    print(f"\nbudget {args.budget} runs per arm and study seed, n_rows {args.n_rows}, backend {args.backend}, model "
          f"{args.model_name}, tune_dp {args.tune_dp}, study seeds {' '.join(map(str, args.study_seeds))}, "
          f"store {work}\n")
    print(f"| arm | hypervolume ↑, mean ± 95 % CI over {n} study seeds | per seed | best harmonic | "
          "complete runs | seconds per study |")
    print("|---|---:|---|---:|---:|---:|")
    for label, rows in arms.items():
        hv = [r[0] for r in rows]
        print(f"| {label} | {cell(hv)} | {' '.join(f'{h:.3f}' for h in hv)} | {cell([r[2] for r in rows], 3)} | "
              f"{sum(r[1] for r in rows)} | {sum(r[3] for r in rows) / len(rows):.0f} |")
    diff = [a[0] - b[0] for a, b in zip(arms["tpe search"], arms["random search"])]
    print(f"| TPE − random, paired by study seed | {cell(diff)} | {' '.join(f'{d:+.3f}' for d in diff)} | | | |")


if __name__ == "__main__":
    main()
