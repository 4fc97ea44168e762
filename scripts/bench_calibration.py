"""Calibration cost benchmark: the four calibration modes on one loaded model, same process, medians.

For each mode (none / select / steer / select+steer) it runs the generation pipeline ``--repeats`` times
(seeds 0..repeats-1) and reports median tokens/s, seconds, rows generated per row kept, and the
marginal/pairwise total-variation error of the kept table against the released targets. Ratios are
against ``none`` measured in the same process, so a busy machine shifts all arms alike.

    python scripts/bench_calibration.py --n-rows 64 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

MODES = ("none", "select", "steer", "select+steer")


def main() -> None:
    from synllm_mlops.release import CalibrationTargets
    from synllm_mlops.config import RunConfig
    from synllm_mlops.generation import make_backend
    from synllm_mlops.pipeline import generate_rows, prepare

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="cirrhosis")
    ap.add_argument("--strategy", default="clin_rule")
    ap.add_argument("--n-rows", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--oversample", type=float, default=1.5)
    ap.add_argument("--backend", default="hf", help="hf (the embedded model) or fake (a smoke run)")
    args = ap.parse_args()
    backend = None
    results: dict[str, list[dict]] = {m: [] for m in MODES}
    for seed in range(args.repeats):
        for mode in MODES:  # interleaved, so drift in machine load hits every arm alike
            cfg = RunConfig(dataset=args.dataset, strategy=args.strategy, n_rows=args.n_rows, seed=seed,
                            calibration=mode, oversample=args.oversample, backend=args.backend)
            prep = prepare(cfg)
            if backend is None:
                kw = {"spec": prep.spec} if args.backend == "fake" else {}
                backend = make_backend(args.backend, cfg.model, **kw)
            out = generate_rows(prep, backend, progress=False)
            m = out.metrics
            # the kept table's error against exact targets of train, for every mode (none releases none)
            err = CalibrationTargets.from_table(prep.split.train, prep.spec).errors(out.synthetic)
            results[mode].append({"tokens_per_s": m["gen/tokens_per_s"], "seconds": m["gen/seconds"],
                                  "generated_per_kept": m.get("calib/rows_generated_per_kept", 1.0),
                                  "marginal_tv": err["marginal_tv"], "pairwise_tv": err["pairwise_tv"]})
            print(mode, seed, {k: round(v, 3) for k, v in results[mode][-1].items()}, flush=True)
    base = statistics.median(r["seconds"] for r in results["none"])
    print(f"\n{args.dataset} {args.strategy}, {args.n_rows} rows, medians of {args.repeats}\n")
    print("| calibration | tokens/s | seconds | seconds vs none | rows generated per row kept | marginal TV | pairwise TV |")
    print("|---|---|---|---|---|---|---|")
    for mode, rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"| {mode} | {med['tokens_per_s']:.1f} | {med['seconds']:.1f} | {med['seconds'] / base:.2f}x | "
              f"{med['generated_per_kept']:.2f} | {med['marginal_tv']:.3f} | {med['pairwise_tv']:.3f} |")


if __name__ == "__main__":
    main()
