"""Measure the ``fidelity/in_bin_*`` diagnostics for the no-LLM backends (``stats``, ``fake``) over seeds.

Each (backend, seed) is a default run (cirrhosis, clin_rule, select+steer at strength 1) with that backend,
evaluated by the in-bin metrics only. Prints a Markdown table of means over seeds and, per column, the
within-bin KS of each backend and the limit shares.

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


def one(backend: str, seed: int, n_rows: int, dataset: str, model: str) -> dict:
    model = backend if backend in ("stats", "fake") else model
    prep = prepare(RunConfig(dataset=dataset, backend=backend, model=model, n_rows=n_rows, seed=seed))
    syn = generate_rows(prep, make_backend(backend, model, spec=prep.spec).load(), progress=False).synthetic
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
    runs = {b: [one(b, s, args.n_rows, args.dataset, args.model) for s in args.seeds] for b in args.backends}
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
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1, default=float))


if __name__ == "__main__":
    main()
