"""Measure the ``fidelity/in_bin_*`` diagnostics for the no-LLM backends (``stats``, ``fake``) over seeds.

Each (backend, seed) is a default run (cirrhosis, clin_rule, select+steer at strength 1) with that backend,
evaluated by the in-bin metrics only; the backends of one seed write on the same release and split. Prints a
Markdown table of means over seeds, per column the within-bin KS of each backend and the limit shares, and on how
many columns each backend's within-bin KS is no worse than the first backend's.

Usage:
    python scripts/measure_in_bin.py --seeds 0 1 2 --n-rows 200                  # stats and fake
    python scripts/measure_in_bin.py --backends stats hf --model smollm2-135m    # the model next to its control
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from synllm_mlops.config import RunConfig  # noqa: E402
from synllm_mlops.evaluation import EvalData  # noqa: E402
from synllm_mlops.evaluation._column_detection import ColumnDetectionAUC  # noqa: E402
from synllm_mlops.evaluation._in_bin_edge_share import InBinEdgeShare  # noqa: E402
from synllm_mlops.evaluation._in_bin_ks import InBinKS  # noqa: E402
from synllm_mlops.evaluation._in_bin_limit_share import InBinLimitShare  # noqa: E402
from synllm_mlops.generation import make_backend  # noqa: E402
from synllm_mlops.pipeline import generate_rows, prepare  # noqa: E402

METRICS = [InBinKS(), InBinLimitShare(), InBinEdgeShare(), ColumnDetectionAUC()]


def one(prep, backend, seed: int) -> dict:
    """The in-bin breakdowns of ``backend``'s table on ``prep`` (one release and split)."""
    syn = generate_rows(prep, backend, progress=False).synthetic
    data = EvalData(prep.split.train, prep.split.holdout, syn, prep.spec, seed=seed)
    return {m.name: m.compute_prepared(data) for m in METRICS}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-rows", type=int, default=200)
    ap.add_argument("--dataset", default="cirrhosis")
    ap.add_argument("--backends", nargs="+", default=["stats", "fake"])
    ap.add_argument("--model", default="smollm2-135m", help="the model of a language-model backend (hf, vllm)")
    ap.add_argument("--json", help="also write every breakdown here")
    args = ap.parse_args()
    # every backend of a seed writes on one release and split (under DP a second prepare would draw fresh noise),
    # as a run's control does: prepared with the language model's settings where one is asked for
    lead = next((b for b in args.backends if b not in ("stats", "fake")), args.backends[0])
    model_of = {b: (b if b in ("stats", "fake") else args.model) for b in args.backends}
    runs: dict[str, list[dict]] = {b: [] for b in args.backends}
    loaded: dict[str, object] = {}
    for seed in args.seeds:
        prep = prepare(RunConfig(dataset=args.dataset, backend=lead, model=model_of[lead], n_rows=args.n_rows,
                                 seed=seed))
        for b in args.backends:
            if b not in loaded:
                loaded[b] = make_backend(b, model_of[b], spec=prep.spec).load()
            runs[b].append(one(prep, loaded[b], seed))
    print("| backend | " + " | ".join(m.name for m in METRICS) + " |")
    print("|---|" + "---|" * len(METRICS))
    for b, rs in runs.items():
        cells = [f"{np.mean([r[m.name]['score'] for r in rs]):.3f}" for m in METRICS]
        print(f"| {b} | " + " | ".join(cells) + " |")
    cols = list(runs[args.backends[0]][0]["fidelity/in_bin_ks"]["columns"])
    print("\n| column | " + " | ".join(f"{b} in-bin KS | {b} at limit | {b} 1-col AUC" for b in args.backends) + " |")
    print("|---|" + "---|---|---|" * len(args.backends))
    for c in cols:
        cells = []
        for b, rs in runs.items():
            cells += [f"{np.mean([r['fidelity/in_bin_ks']['columns'][c]['score'] for r in rs]):.3f}",
                      f"{np.mean([r['fidelity/in_bin_limit_share']['columns'][c]['score'] for r in rs]):.3f}",
                      f"{np.mean([r['fidelity/in_bin_column_auc']['columns'][c] for r in rs]):.3f}"]
        print(f"| {c} | " + " | ".join(cells) + " |")
    first = args.backends[0]
    ks = {b: {c: np.mean([r["fidelity/in_bin_ks"]["columns"][c]["score"] for r in rs]) for c in cols}
          for b, rs in runs.items()}
    for b in args.backends[1:]:
        print(f"\n{b}: within-bin KS no worse than {first}'s on {sum(ks[b][c] <= ks[first][c] for c in cols)} of "
              f"{len(cols)} columns (means over seeds {', '.join(map(str, args.seeds))})")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1, default=float))


if __name__ == "__main__":
    main()
