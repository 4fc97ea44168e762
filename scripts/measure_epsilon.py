"""The quality-epsilon curve behind ``release.DEFAULT_EPSILON``: the default run at each epsilon, over seeds.

For each dataset, epsilon (``none`` = the explicit non-private run) and seed, one default run (clin_rule,
select+steer, default ``n_rows``) is prepared (split, release, prompt), generated with ``--backend`` (``stats``
by default: the no-LLM control, which samples the release with the run's own steering and selection, so its
scores are the release's own quality) and scored by :func:`synllm_mlops.evaluation.evaluate`. Prints a Markdown
table of the mean and 95 % t-interval (``t_interval``) of each figure over seeds, the smallest difference
between two epsilons the seeds detect (``min_detectable``, two-sample, alpha 0.05, power 0.8), and the epsilon
the rule below picks:

    the smallest epsilon whose mean ``score/quality`` lies inside the non-private run's 95 % interval on every
    dataset; if none does, the smallest epsilon whose mean ``score/harmonic`` is within the minimum detectable
    difference of the best epsilon's on every dataset (no measurable loss against the largest budget tried).

"The best harmonic" alone is no rule when harmonic rises with epsilon: it picks the end of the grid.

Usage:
    python scripts/measure_epsilon.py                               # stats, 10 seeds, cirrhosis + breast_cancer
    python scripts/measure_epsilon.py --backend hf --seeds 5        # the model itself (slow; a GPU machine)
    python scripts/measure_epsilon.py --load runs.json              # re-print a saved --json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from synllm_mlops.config import RunConfig  # noqa: E402
from synllm_mlops.evaluation import evaluate, min_detectable, t_interval  # noqa: E402
from synllm_mlops.generation import make_backend  # noqa: E402
from synllm_mlops.pipeline import generate_rows, prepare  # noqa: E402
from synllm_mlops.spec import load_spec  # noqa: E402

EPSILONS = ("0.5", "1", "2", "4", "8", "none")
FIGURES = ("score/quality", "score/privacy", "score/harmonic", "fidelity/detection_auc", "utility/tstr_auc")


def one(dataset: str, epsilon: str, seed: int, backend, backend_name: str, model: str,
        release_level: str | None = None) -> dict[str, float]:
    level = {"release_level": release_level} if release_level else {}
    cfg = RunConfig(dataset=dataset, backend=backend_name, model=model, seed=seed, dp_epsilon=epsilon, **level)
    prep = prepare(cfg, warn=False)  # epsilon=none is this script's explicit choice
    syn = generate_rows(prep, backend, progress=False).synthetic
    result = evaluate(prep.split.train, prep.split.holdout, syn, prep.spec, seed=seed)
    return {f: float(result.metrics.get(f, math.nan)) for f in FIGURES}


def _mde(runs: dict[str, list[dict]], figure: str) -> float:
    """Two-sample minimum detectable difference of ``figure`` between two epsilons (sd pooled over epsilons)."""
    sd = float(np.mean([np.std([r[figure] for r in rs], ddof=1) for rs in runs.values()]))
    return min_detectable(sd, len(next(iter(runs.values()))), len(next(iter(runs.values()))))


def choose(runs: dict[str, dict[str, list[dict]]]) -> tuple[str, str]:
    """The epsilon the module's rule picks, and why."""
    def mean(ds, eps, f):
        return t_interval([r[f] for r in runs[ds][eps]])

    private = sorted((e for e in EPSILONS if e != "none" and all(e in runs[ds] for ds in runs)), key=float)
    for e in private:
        if all(abs(mean(ds, e, "score/quality")[0] - mean(ds, "none", "score/quality")[0])
               <= mean(ds, "none", "score/quality")[1] for ds in runs):
            return e, ("smallest epsilon whose mean quality is inside the non-private run's 95 % interval on every "
                       "dataset")
    for e in private:
        if all(max(mean(ds, b, "score/harmonic")[0] for b in private) - mean(ds, e, "score/harmonic")[0]
               <= _mde(runs[ds], "score/harmonic") for ds in runs):
            return e, ("no epsilon within the non-private interval; the smallest whose mean harmonic is within the "
                       "minimum detectable difference of the best epsilon's on every dataset")
    return private[-1], "no epsilon within reach of the best: the largest"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="stats", help="stats (the no-LLM control, default) | hf | vllm")
    ap.add_argument("--model", default="smollm2-135m", help="the model of a language-model backend")
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0 .. N-1 (each a split, a release and a table)")
    ap.add_argument("--datasets", nargs="+", default=["cirrhosis", "breast_cancer"])
    ap.add_argument("--epsilons", nargs="+", default=list(EPSILONS), choices=EPSILONS)
    ap.add_argument("--release-level", default=None, help="none | marginals | target | pairs (default: the run's)")
    ap.add_argument("--json", help="also write every run's figures here")
    ap.add_argument("--load", help="print the table of a saved --json instead of running")
    args = ap.parse_args()
    model = args.backend if args.backend in ("stats", "fake") else args.model
    runs: dict[str, dict[str, list[dict]]] = {}
    t0 = time.time()
    if args.load:
        runs = json.loads(Path(args.load).read_text())
        args.seeds, args.epsilons = len(next(iter(next(iter(runs.values())).values()))), list(next(iter(runs.values())))
    for ds in [] if args.load else args.datasets:
        backend = make_backend(args.backend, model, spec=load_spec(ds)).load()  # loaded once per dataset
        runs[ds] = {e: [one(ds, e, s, backend, args.backend, model, args.release_level) for s in range(args.seeds)] for e in args.epsilons}
        print(f"{ds}: {len(args.epsilons) * args.seeds} runs, {time.time() - t0:.0f} s so far", file=sys.stderr)
    print(f"backend {args.backend}, release_level {args.release_level or 'default'}, {args.seeds} seeds (0..{args.seeds - 1}), mean ± 95 % CI over seeds\n")
    print("| dataset | epsilon | " + " | ".join(FIGURES) + " |")
    print("|---|---|" + "---|" * len(FIGURES))
    for ds, by_eps in runs.items():
        for e, rs in by_eps.items():
            cells = []
            for f in FIGURES:
                m, h = t_interval([r[f] for r in rs])
                cells.append(f"{m:.3f} ± {h:.3f}")
            print(f"| {ds} | {e} | " + " | ".join(cells) + " |")
    print("\nSmallest difference between two epsilons these seeds detect (two-sample, alpha 0.05, power 0.8):")
    for ds, by_eps in runs.items():
        print(f"- {ds}: " + ", ".join(f"{f} {_mde(by_eps, f):.3f}" for f in ("score/quality", "score/harmonic")))
    if "none" in args.epsilons:
        e, why = choose(runs)
        print(f"\nDEFAULT_EPSILON by the rule: {e} ({why})")
    print(f"\n{time.time() - t0:.0f} s in all", file=sys.stderr)
    if args.json and not args.load:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
