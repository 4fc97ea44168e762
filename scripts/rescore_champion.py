"""Re-score a study's champion on fresh seeds next to the default run and the no-LLM control.

A study picks its champion on the seed(s) its trials ran on, so the champion's score is biased upwards (the
winner's curse). This script takes the champion's configuration (``--trial``, else the trial a study registers:
the best ``score/harmonic`` among the feasible Pareto trials) and runs three arms as ``synllm main --repeats N``
does (one parent run, a nested run per seed, the same :func:`~synllm_mlops.evaluation.evaluate`) on ``--seeds``
seeds that no trial of the study used:

- the champion;
- the default run: every searched setting at its default, the study's dataset, rows, model and backend;
- the control: the default run on the ``stats`` backend (the release sampled with no language model).

Seed ``s`` is one split, one release and one table per arm, so differences are paired by seed. It prints a
Markdown table of each arm's mean ± 95 % t-interval and the champion's paired lift over the default and over the
control, with the smallest lift each comparison could detect (two-sided α = 0.05, power 0.8).

    python scripts/rescore_champion.py --study-name synllm-cirrhosis --storage optuna.sqlite3 --seeds 10
    python scripts/rescore_champion.py --study-name t --storage /tmp/o.sqlite3 --seeds 3 --n-rows 20 --backend fake
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from findings_table import KEYS, _cell  # noqa: E402

# what the default run shares with the study (the data and the trial's size); every searched field is left default
SHARED = ("dataset", "data", "n_rows", "batch_size", "holdout_fraction", "constrained", "max_attempts")


def champion(study, trial: int | None):
    """The ``trial``-th trial, or the one the study registers (:func:`~synllm_mlops.tuning.choose_champion`)."""
    from synllm_mlops.tuning import TuneConfig, choose_champion

    cfg = TuneConfig(study_name=study.study_name, champion_trial=trial)
    best = choose_champion(study, cfg)
    if best is None:
        sys.exit(f"study {study.study_name!r} has no feasible Pareto trial without real rows in its prompt; fix: pass "
                 "--trial N")
    return best


def fresh_seeds(study, n: int) -> list[int]:
    """``n`` consecutive seeds above every seed a trial of the study ran on (its splits, releases and tables)."""
    used = [max(t.user_attrs.get("seeds") or [t.user_attrs["config"].get("seed", 0)])  # tune --trial-seeds k: k each
            for t in study.get_trials(deepcopy=False) if "config" in t.user_attrs]
    start = max(used, default=-1) + 1
    return list(range(start, start + n))


def arms(study, best, args) -> dict[str, dict]:
    """Flat ``RunConfig`` parameters of the three arms (before the seed), keyed by their label."""
    config = dict(best.user_attrs["config"])
    lm = [t.user_attrs["config"] for t in study.get_trials(deepcopy=False)
          if t.user_attrs.get("config", {}).get("backend", "stats") != "stats"]
    backend = args.backend or (lm[0]["backend"] if lm else "")
    model = args.model or (lm[0]["model"] if lm else "")
    if not backend or not model:
        sys.exit(f"study {study.study_name!r} has only stats trials: the default run's model is unknown; fix: pass "
                 "--backend and --model")
    base = {k: config[k] for k in SHARED if k in config}
    if args.n_rows:
        config["n_rows"] = base["n_rows"] = args.n_rows
    control_tables = {"control_tables": 0}  # the control is an arm of its own here
    return {f"champion (trial {best.number})": {**config, **control_tables},
            "default run": {**base, "backend": backend, "model": model, **control_tables},
            "control (`stats`, the default's release)": {**base, "backend": "stats", "model": "stats",
                                                         **control_tables}}


def rescore(params: dict, seeds: list[int], backends: dict) -> tuple[str, list[dict[str, float]]]:
    """``main --repeats``: one parent run, a nested run per seed; (parent run id, each seed's metrics)."""
    from synllm_mlops.config import RunConfig
    from synllm_mlops.generation import make_backend
    from synllm_mlops.spec import load_spec
    from synllm_mlops.workflow import run_repeated

    cfg = RunConfig.build(**{**params, "seed": seeds[0], "repeats": len(seeds)})
    key = (cfg.backend, cfg.model)
    if key not in backends:  # the champion and the default share a loaded model when they name the same one
        backends[key] = make_backend(cfg.backend, cfg.model, spec=load_spec(cfg.dataset)).load()
    out = run_repeated(cfg, backend=backends[key], progress=False)
    return out.run_id, out.per_seed


def table(results: dict[str, list[dict[str, float]]]) -> str:
    """Markdown: each arm's mean ± 95 % CI, then the first arm's paired lift over each other arm and its MDE."""
    from synllm_mlops.evaluation import paired_min_detectable

    keys = [k for k in KEYS if any(k in m for ms in results.values() for m in ms)]
    n = len(next(iter(results.values())))
    lines = [f"| arm (n = {n} fresh seeds) | " + " | ".join(k.split("/", 1)[1] for k in keys) + " |",
             "|---|" + "---|" * len(keys)]
    for label, ms in results.items():
        lines.append(f"| {label} | " + " | ".join(_cell([m.get(k, math.nan) for m in ms]) for k in keys) + " |")
    (first, ours), *others = results.items()
    for label, theirs in others:
        lift, mde = [], []
        for k in keys:
            d = [a.get(k, math.nan) - b.get(k, math.nan) for a, b in zip(ours, theirs)]
            d = [x for x in d if not math.isnan(x)]
            lift.append(_cell(d))
            mde.append(f"{paired_min_detectable(float(np.std(d, ddof=1)), len(d)):.3f}" if len(d) > 1 else "–")
        short = label.split(" (")[0]
        lines.append(f"| lift: champion − {short}, paired by seed | " + " | ".join(lift) + " |")
        lines.append(f"| smallest lift over the {short} this could detect | " + " | ".join(mde) + " |")
    return "\n".join(lines)


def main() -> None:
    import optuna

    from synllm_mlops.tuning import open_storage

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study-name", required=True)
    ap.add_argument("--storage", required=True, help="the study's Optuna storage (file or URL)")
    ap.add_argument("--seeds", type=int, default=10, help="fresh seeds per arm (default 10)")
    ap.add_argument("--trial", type=int, default=None, help="the trial to re-score (default: the study's champion)")
    ap.add_argument("--n-rows", type=int, default=0, help="rows per table (default: the study's trial size)")
    ap.add_argument("--backend", default="", help="the default run's backend (default: the study's model trials')")
    ap.add_argument("--model", default="", help="the default run's model (default: the study's model trials')")
    args = ap.parse_args()
    if args.seeds < 2:
        sys.exit(f"--seeds must be >= 2 for an interval, got {args.seeds}; fix: pass --seeds 10")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=args.study_name, storage=open_storage(args.storage))
    best = champion(study, args.trial)
    seeds = fresh_seeds(study, args.seeds)
    results, loaded = {}, {}
    try:
        for label, params in arms(study, best, args).items():
            run_id, results[label] = rescore(params, seeds, loaded)
            print(f"{label}: parent run {run_id}", file=sys.stderr)
    finally:
        for backend in loaded.values():
            backend.close()
    searched = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(best.params.items()))
    print(f"study {args.study_name}: champion trial {best.number} ({searched}); seeds {seeds[0]}..{seeds[-1]}, "
          f"{results and len(next(iter(results.values())))} per arm\n")
    print(table(results))


if __name__ == "__main__":
    main()
