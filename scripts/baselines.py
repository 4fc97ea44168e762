"""Reference tables for every quality figure: what a trivial generator and the real holdout score on the same
``evaluate``, the same split and the same seed as a generation run.

- ``independent``: each column sampled independently (with replacement) from its real-train marginal — the
  trivial generator a synthetic table must beat on joint structure (pair trends, detection, utility);
- ``holdout``: the real held-out rows themselves — what "as good as another real sample" looks like.
- ``run:<csv>`` (optional): a synthetic CSV (e.g. a run's synthetic/synthetic.csv) evaluated the same way.

Usage:
    python scripts/baselines.py --dataset cirrhosis --seeds 0 1 2 --n-rows 200
    python scripts/baselines.py --dataset cirrhosis --seeds 0 --csv out/synthetic.csv
Prints one Markdown row per table and seed, and mean ± 95 % t half-width per table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

KEYS = ["fidelity/column_shapes", "fidelity/column_pair_trends", "fidelity/detection_auc", "utility/tstr_auc",
        "utility/trtr_auc", "privacy/dcr_share_closer_to_train", "privacy/exact_match_rate", "score/quality",
        "score/privacy", "score/harmonic"]


def independent_marginals(train: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Each column drawn independently, with replacement, from its values in ``train`` (missing included)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: train[c].to_numpy(object)[rng.integers(len(train), size=n)] for c in train.columns}) \
        .astype(train.dtypes.to_dict())


def main() -> None:
    from synllm_mlops.evaluation import evaluate
    from synllm_mlops.spec import conform, load_data, load_spec, read_csv, split_data

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="cirrhosis")
    ap.add_argument("--data", default="")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-rows", type=int, default=200)
    ap.add_argument("--csv", nargs="*", default=[], help="synthetic CSVs to score too, one per seed (same order)")
    args = ap.parse_args()
    spec = load_spec(args.dataset)
    real = load_data(spec, args.data or None)
    rows: dict[str, list[dict]] = {}
    print("| table | seed | " + " | ".join(k.split(".", 1)[1] for k in KEYS) + " |")
    print("|---|---|" + "---|" * len(KEYS))
    for i, seed in enumerate(args.seeds):
        split = split_data(real, spec, seed=seed)
        tables = {"independent marginals": independent_marginals(split.train, args.n_rows, seed),
                  "real holdout": split.holdout}
        if i < len(args.csv):
            tables["synthetic CSV"] = conform(read_csv(args.csv[i]), spec, source=args.csv[i])
        for name, table in tables.items():
            m = evaluate(split.train, split.holdout, table, spec, seed=seed).metrics
            rows.setdefault(name, []).append(m)
            print(f"| {name} | {seed} | " + " | ".join(f"{m[k]:.3f}" for k in KEYS) + " |", flush=True)
    print("\nmean ± 95 % t half-width over seeds")
    for name, ms in rows.items():
        cells = []
        for k in KEYS:
            x = np.array([m[k] for m in ms], dtype=float)
            hw = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
            cells.append(f"{x.mean():.3f} ± {hw:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
