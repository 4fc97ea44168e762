"""The quality-epsilon curve behind ``release.DEFAULT_EPSILON``: the default run at each epsilon, over seeds.

For each dataset, epsilon (``none`` = the explicit non-private run) and seed, one default run (clin_rule,
select+steer, default ``n_rows``) is prepared (split, release, prompt), generated with ``--backend`` (``stats``
by default: the no-LLM control, which samples the release with the run's own steering and selection, so its
scores are the release's own quality) and scored by :func:`synllm_mlops.evaluation.evaluate`. Prints a Markdown
table of the mean and 95 % t-interval (``t_interval``) of each figure over seeds, the smallest difference
between two epsilons the seeds detect (``min_detectable``, two-sample, alpha 0.05, power 0.8), and the epsilon
the rule below picks:

    the smallest epsilon whose mean ``score/quality`` lies inside the non-private run's 95 % interval on every
    dataset; if none does, the epsilon with the best mean ``score/harmonic`` averaged over the datasets.

Usage:
    python scripts/measure_epsilon.py                               # stats, 10 seeds, cirrhosis + breast_cancer
    python scripts/measure_epsilon.py --backend hf --seeds 5        # the model itself (slow; a GPU machine)
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


def one(dataset: str, epsilon: str, seed: int, backend, backend_name: str, model: str) -> dict[str, float]:
    cfg = RunConfig(dataset=dataset, backend=backend_name, model=model, seed=seed, dp_epsilon=epsilon)
    prep = prepare(cfg, warn=False)  # epsilon=none is this script's explicit choice
    syn = generate_rows(prep, backend, progress=False).synthetic
    result = evaluate(prep.split.train, prep.split.holdout, syn, prep.spec, seed=seed)
    return {f: float(result.metrics.get(f, math.nan)) for f in FIGURES}


def choose(runs: dict[str, dict[str, list[dict]]]) -> tuple[str, str]:
    """The epsilon the module's rule picks, and why."""
    def mean(ds, eps, f):
        return t_interval([r[f] for r in runs[ds][eps]])

    private = [e for e in EPSILONS if e != "none" and all(e in runs[ds] for ds in runs)]
    for e in sorted(private, key=float):
        if all(abs(mean(ds, e, "score/quality")[0] - mean(ds, "none", "score/quality")[0])
               <= mean(ds, "none", "score/quality")[1] for ds in runs):
            return e, "smallest epsilon whose mean quality is inside the non-private run's 95 % interval on every dataset"
    best = max(private, key=lambda e: np.mean([mean(ds, e, "score/harmonic")[0] for ds in runs]))
    return best, "no epsilon within the non-private interval: best mean harmonic over the datasets"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="stats", help="stats (the no-LLM control, default) | hf | vllm")
    ap.add_argument("--model", default="smollm2-135m", help="the model of a language-model backend")
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0 .. N-1 (each a split, a release and a table)")
    ap.add_argument("--datasets", nargs="+", default=["cirrhosis", "breast_cancer"])
    ap.add_argument("--epsilons", nargs="+", default=list(EPSILONS), choices=EPSILONS)
    ap.add_argument("--json", help="also write every run's figures here")
    args = ap.parse_args()
    model = args.backend if args.backend in ("stats", "fake") else args.model
    runs: dict[str, dict[str, list[dict]]] = {}
    t0 = time.time()
    for ds in args.datasets:
        backend = make_backend(args.backend, model, spec=load_spec(ds)).load()  # loaded once per dataset
        runs[ds] = {e: [one(ds, e, s, backend, args.backend, model) for s in range(args.seeds)] for e in args.epsilons}
        print(f"{ds}: {len(args.epsilons) * args.seeds} runs, {time.time() - t0:.0f} s so far", file=sys.stderr)
    print(f"backend {args.backend}, {args.seeds} seeds (0..{args.seeds - 1}), mean ± 95 % CI over seeds\n")
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
        bits = []
        for f in ("score/quality", "score/harmonic"):
            sd = float(np.mean([np.std([r[f] for r in rs], ddof=1) for rs in by_eps.values()]))
            bits.append(f"{f} {min_detectable(sd, args.seeds, args.seeds):.3f}")
        print(f"- {ds}: " + ", ".join(bits))
    if "none" in args.epsilons:
        e, why = choose(runs)
        print(f"\nDEFAULT_EPSILON by the rule: {e} ({why})")
    print(f"\n{time.time() - t0:.0f} s in all", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
