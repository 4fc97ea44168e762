"""Benchmark: at which trial size (rows per trial) does a tuning study rank its trials the same way twice?

For each repeat: run a study of ``--trials`` trials on seed ``s`` (nested MLflow runs, as ``synllm tune``
runs them, at ``--study-rows``). Then, for each ``--n-rows`` value, score every complete trial's configuration
twice at that size — on seed ``s`` (the trial's own split, release, table and evaluation: at ``--study-rows``
this reproduces the trial's logged score exactly, which is checked) and on seed ``s + 1000`` (a new split,
release, table and evaluation) — and report the Spearman rank correlation of ``score/harmonic`` between the
two (and of the study's two objectives, ``score/quality`` and ``score/privacy``). A study can only pick its
best trial if that correlation is high: at low fidelity the ranking is the
noise of one small table.

Optuna's pruners (``trial.report`` / ``should_prune``, e.g. ``SuccessiveHalvingPruner``) raise
``NotImplementedError`` in a multi-objective study (optuna 5.1), so the fidelity is a fixed ``n_rows``
per trial, chosen from this table.

The default backend is ``stats`` (the no-LLM control: real variation from the calibration settings and
selection, about a second per 200-row trial); only the calibration modes it can run are searched.

    python scripts/bench_tuning_ranks.py --n-rows 20,50,100,200,400 --trials 12 --repeats 3
    python scripts/bench_tuning_ranks.py --n-rows 20 --study-rows 20 --trials 4 --repeats 1   # smoke run
    python scripts/bench_tuning_ranks.py --n-rows 200 --study-rows 200 --trial-seeds 2   # tune --trial-seeds 2
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

RESCORE_OFFSET = 1000  # the second scoring's seed: far from the study seeds of other repeats
SCORES = ("score/harmonic", "score/quality", "score/privacy")  # the champion's criterion, then the two objectives


def rescore(config: dict, n_rows: int, seed: int, backend, seeds: int = 1) -> dict[str, float]:
    """The :data:`SCORES` of one trial configuration at ``n_rows`` on ``seed`` (.. ``seed + seeds - 1``, the mean).

    Each seed: split, release, table, evaluation -- the trial's own code path (:func:`prepare`,
    :func:`generate_rows`, :func:`evaluate` on the run's seed) without the MLflow run around it; ``seeds`` > 1 is
    a trial of ``tune --trial-seeds``.
    """
    from synllm_mlops.config import RunConfig
    from synllm_mlops.evaluation import evaluate
    from synllm_mlops.pipeline import generate_rows, prepare

    out = {k: 0.0 for k in SCORES}
    for s in range(seed, seed + seeds):
        cfg = RunConfig.build(**{**config, "n_rows": n_rows, "seed": s})
        prep = prepare(cfg)
        gen = generate_rows(prep, backend, progress=False)
        res = evaluate(prep.split.train, prep.split.holdout, gen.synthetic, prep.spec, seed=cfg.seed, progress=False)
        for k in SCORES:
            out[k] += float(res.metrics[k]) / seeds
    return out


def run_study(args, seed: int, backend) -> list:
    """One study of ``args.trials`` trials at ``args.study_rows`` on ``seed``; its complete trials."""
    from synllm_mlops.tuning import TuneConfig, tune

    stats = args.backend == "stats"
    cfg = TuneConfig(dataset=args.dataset, model="stats" if stats else args.model, backend=args.backend,
                     n_trials=args.trials, n_rows=args.study_rows, seed=seed, storage="optuna.sqlite3",
                     study_name=f"ranks-n{args.study_rows}-s{seed}", register_champion=False, tune_dp=args.tune_dp,
                     trial_seeds=args.trial_seeds, **({"dp_epsilon": args.dp_epsilon} if args.dp_epsilon else {}),
                     **({"calibrations": ("steer", "select+steer")} if stats else {}))
    res = tune(cfg, backend_factory=lambda m: backend, progress=False)
    return [t for t in res.study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]


def rank_agreement(trials: list, n_rows: int, seed: int, backend, study_rows: int, seeds: int = 1) -> dict:
    """Spearman of each of :data:`SCORES` between seed ``seed`` and ``seed + RESCORE_OFFSET`` at ``n_rows``.

    With ``seeds`` k > 1 each scoring is the mean over k consecutive seeds, as ``tune --trial-seeds k`` scores a trial.
    """
    from scipy.stats import spearmanr

    t0 = time.perf_counter()
    first = [rescore(t.user_attrs["config"], n_rows, seed, backend, seeds) for t in trials]
    # at the study's size the re-scoring is the trial's own scoring: it must reproduce the logged score (not under
    # DP, whose noise comes from the OS, never from the seed)
    same = [(a["score/harmonic"], t.user_attrs["score/harmonic"]) for a, t in zip(first, trials)
            if t.user_attrs["config"].get("dp_epsilon") is None]
    if n_rows == study_rows and same:
        assert max(abs(a - b) for a, b in same) < 1e-9, same
    second = [rescore(t.user_attrs["config"], n_rows, seed + RESCORE_OFFSET, backend, seeds) for t in trials]
    out = {"n_rows": n_rows, "seed": seed, "n": len(trials),
           "seconds": (time.perf_counter() - t0) / (2 * len(trials))}  # per scoring (of all its seeds)
    for k in SCORES:
        a, b = [x[k] for x in first], [x[k] for x in second]
        out[k] = float(spearmanr(a, b).statistic) if len(trials) > 2 else math.nan
        out[f"{k} spread"] = _sd(a + b)  # trial to trial (noise included)
        out[f"{k} noise"] = _sd([x - y for x, y in zip(a, b)]) / math.sqrt(2)  # one scoring's: a difference of two is sqrt(2) x
    return out


def _sd(xs: list[float]) -> float:
    import numpy as np

    return float(np.std(xs, ddof=1)) if len(xs) > 1 else math.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="cirrhosis")
    ap.add_argument("--model", default="smollm2-135m", help="with --backend hf")
    ap.add_argument("--backend", default="stats", choices=["stats", "hf", "fake"])
    ap.add_argument("--n-rows", default="20,50,100,200", help="comma-separated trial sizes")
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--study-rows", type=int, default=100, help="rows per trial of the studies that pick the configurations")
    ap.add_argument("--tune-dp", action="store_true", help="also search dp_epsilon (0.1-10): real differences to rank")
    ap.add_argument("--dp-epsilon", default="", help="the trials' budget (default: the run default); none = exact "
                    "releases, which a re-scoring reproduces bit for bit (checked)")
    ap.add_argument("--trial-seeds", type=int, default=1,
                    help="seeds each trial (and each re-scoring) is scored on, as tune --trial-seeds")
    ap.add_argument("--repeats", type=int, default=3, help="studies per trial size (study seeds 0, 1, ...)")
    ap.add_argument("--workdir", default="", help="MLflow store + Optuna storage here (default: a temp dir)")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="bench-ranks-")
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{os.path.join(work, 'mlflow.db')}")
    os.environ.setdefault("MLFLOW_EXPERIMENT_NAME", "synllm-bench")

    from synllm_mlops.generation import make_backend
    from synllm_mlops.spec import load_spec

    spec = load_spec(args.dataset)
    backend = make_backend(args.backend, "stats" if args.backend == "stats" else args.model, spec=spec).load()
    sizes = [int(x) for x in args.n_rows.split(",")]
    rows = []
    for seed in range(args.repeats):
        t0 = time.perf_counter()
        trials = run_study(args, seed, backend)
        print(f"study seed {seed}: {len(trials)} complete trials in {time.perf_counter() - t0:.0f} s", flush=True)
        for n_rows in sizes:
            r = rank_agreement(trials, n_rows, seed, backend, args.study_rows, args.trial_seeds)
            rows.append(r)
            print(f"  n_rows {n_rows}: " + ", ".join(f"{k} rho {r[k]:.3f} (spread {r[k + ' spread']:.4f}, noise "
                                                      f"{r[k + ' noise']:.4f})" for k in SCORES)
                  + f"; {r['seconds']:.1f} s per scoring", flush=True)
    print(f"\n{args.trials}-trial studies (TPE, at {args.study_rows} rows{', dp_epsilon searched' if args.tune_dp else ''}"
          f"{f', {args.trial_seeds} seeds per trial' if args.trial_seeds > 1 else ''}), backend {args.backend}, dataset {args.dataset}, "
          f"store {work}; Spearman between seed s and seed s+{RESCORE_OFFSET}, per study (mean)\n")
    print("| rows per trial | " + " | ".join(f"Spearman {k}" for k in SCORES) + " | harmonic: spread / noise (sd) "
          "| s per scoring |")
    print("|---:|" + "---|" * len(SCORES) + "---:|---:|")
    for n_rows in sizes:
        rs = [r for r in rows if r["n_rows"] == n_rows]
        cells = [", ".join(f"{r[k]:.2f}" for r in rs) + f" (**{sum(r[k] for r in rs) / len(rs):.2f}**)" for k in SCORES]
        spread = sum(r["score/harmonic spread"] for r in rs) / len(rs)
        noise = sum(r["score/harmonic noise"] for r in rs) / len(rs)
        print(f"| {n_rows} | " + " | ".join(cells) + f" | {spread:.4f} / {noise:.4f} | "
              f"{sum(r['seconds'] for r in rs) / len(rs):.1f} |")


if __name__ == "__main__":
    main()
