"""The known-answer ladder on a real dataset: what trivial tables and real patients score on the same
``evaluate``, the same split and the same seed as a generation run (tables from ``synllm_mlops.evaluation``):

- ``verbatim copies``: train rows (worst privacy); ``half copies``: half train rows, half independent marginals;
- ``column-shuffled``: train rows with two columns permuted across rows (near copies);
- ``independent marginals``: each column sampled independently from its real-train marginal (no joint structure);
- ``real reference``: the real holdout, cross-fitted (``real_reference``: half A scored with half B as the
  holdout and vice versa, averaged), so it is never its own test set;
- ``synthetic CSV`` (optional, ``--csv``): a run's synthetic table evaluated the same way.

Usage:
    python scripts/baselines.py --dataset cirrhosis --seeds 0 1 2 3 4 --n-rows 200
    python scripts/baselines.py --dataset cirrhosis --seeds 0 --csv out/synthetic.csv
Prints one Markdown row per table and seed, then mean ± 95 % t-interval half-width per table over the seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

KEYS = ["fidelity/column_shapes", "fidelity/column_pair_trends", "fidelity/three_way", "fidelity/holdout_pair_tables",
        "fidelity/detection_auc", "utility/tstr_auc", "utility/trtr_auc", "privacy/dcr_share_closer_to_train",
        "privacy/exact_match_rate", "score/quality", "score/privacy", "score/harmonic"]


def main() -> None:
    from synllm_mlops.evaluation import evaluate, ladder_tables, real_reference
    from synllm_mlops.spec import conform, load_data, load_spec, read_csv, split_data

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="cirrhosis")
    ap.add_argument("--data", default="")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--n-rows", type=int, default=200)
    ap.add_argument("--csv", nargs="*", default=[], help="synthetic CSVs to score too, one per seed (same order)")
    args = ap.parse_args()
    spec = load_spec(args.dataset)
    real = load_data(spec, args.data or None)
    rows: dict[str, list[dict]] = {}
    print("| table | seed | " + " | ".join(k.split("/", 1)[1] for k in KEYS) + " |")
    print("|---|---|" + "---|" * len(KEYS))
    for i, seed in enumerate(args.seeds):
        split = split_data(real, spec, seed=seed)
        results = {name: evaluate(split.train, split.holdout, table, spec, seed=seed).metrics
                   for name, table in ladder_tables(split.train, args.n_rows, seed).items()}
        results["real reference"] = real_reference(split.train, split.holdout, spec, seed=seed).metrics
        if i < len(args.csv):
            table = conform(read_csv(args.csv[i]), spec, source=args.csv[i])
            results["synthetic CSV"] = evaluate(split.train, split.holdout, table, spec, seed=seed).metrics
        for name, m in results.items():
            rows.setdefault(name, []).append(m)
            print(f"| {name} | {seed} | " + " | ".join(f"{m[k]:.3f}" for k in KEYS) + " |", flush=True)
    print(f"\nmean ± 95 % t-interval half-width over {len(args.seeds)} seeds")
    print("| table | " + " | ".join(k.split("/", 1)[1] for k in KEYS) + " |")
    print("|---|" + "---|" * len(KEYS))
    for name, ms in rows.items():
        cells = []
        for k in KEYS:
            x = np.array([m[k] for m in ms], dtype=float)
            hw = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
            cells.append(f"{x.mean():.3f} ± {hw:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
