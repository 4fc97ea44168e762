"""Measure the DP end-bin trim (``release._targets._trim_tails``) on the no-LLM control, paired on one noise draw.

Under DP each run draws fresh noise (``privacy._mechanisms._RNG`` is ``secrets.SystemRandom``: not seedable, on
purpose), so two runs of the same seed differ by their noise draws as well as by what is compared, and a 10-seed
comparison of a post-processing step drowns in release-to-release variance. For this measurement only, the noise
RNG is seeded per seed, so the variants of one seed post-process **the same noisy counts**: ``none`` (no trim),
``both`` (the release's trim: the outermost value bin at each end, when within two noise sds), ``low`` and
``high`` (one end only). Each (dataset, variant, seed) is the default run on the ``stats`` backend (DP ε = 4,
release level ``target``), evaluated by the full ``evaluate``. Prints per dataset the means ± 95 % t-interval and
each variant's difference from ``none`` paired by seed.

Usage:
    python scripts/measure_end_trim.py --seeds 10                     # cirrhosis and breast_cancer, ~4 min
    python scripts/measure_end_trim.py --datasets cirrhosis --seeds 3 --json trim.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import synllm_mlops.privacy._mechanisms as mechanisms  # noqa: E402
import synllm_mlops.release._targets as targets  # noqa: E402
from synllm_mlops.config import RunConfig  # noqa: E402
from synllm_mlops.evaluation import evaluate, t_interval  # noqa: E402
from synllm_mlops.generation import make_backend  # noqa: E402
from synllm_mlops.pipeline import generate_rows, prepare  # noqa: E402
from synllm_mlops.spec import load_spec  # noqa: E402

KEYS = ("score/harmonic", "score/quality", "score/privacy", "fidelity/in_bin_limit_share", "fidelity/in_bin_ks",
        "fidelity/column_shapes", "fidelity/column_pair_trends", "fidelity/detection_auc", "utility/tstr_auc")
VARIANTS = {"none": (), "both": ("low", "high"), "low": ("low",), "high": ("high",)}
_TRIM, _RNG = targets._trim_tails, mechanisms._RNG  # the release's own, put back after


def trim_ends(ends: tuple[str, ...]):
    """The release's trim applied at ``ends`` only (``()``: no trim)."""
    def trim(bins, counts, epsilon):
        if not ends or not bins.numeric:
            return counts
        full, out = _TRIM(bins, counts, epsilon), np.asarray(counts, dtype=float).copy()
        for end, i in (("low", 0), ("high", bins.n_values - 1)):
            if end in ends:
                out[i] = full[i]
        return out
    return trim


def measure(datasets: list[str], seeds: int, n_rows: int) -> dict[str, list[dict[str, float]]]:
    out: dict[str, list[dict[str, float]]] = {}
    try:
        for ds in datasets:
            backend = make_backend("stats", "stats", spec=load_spec(ds)).load()
            for name, ends in VARIANTS.items():
                targets._trim_tails = trim_ends(ends)
                rows = []
                for seed in range(seeds):
                    mechanisms._RNG = random.Random(1000 + seed)  # the same noise draw for every variant of a seed
                    prep = prepare(RunConfig.build(backend="stats", model="stats", dataset=ds, seed=seed,
                                                   n_rows=n_rows))
                    syn = generate_rows(prep, backend, progress=False).synthetic
                    res = evaluate(prep.split.train, prep.split.holdout, syn, prep.spec, seed=seed, progress=False)
                    rows.append({k: float(res.metrics.get(k, np.nan)) for k in KEYS})
                out[f"{ds}/{name}"] = rows
                print(f"{ds} {name}: {seeds} seeds", file=sys.stderr, flush=True)
    finally:
        targets._trim_tails, mechanisms._RNG = _TRIM, _RNG
    return out


def report(results: dict[str, list[dict[str, float]]]) -> str:
    lines = []
    for ds in dict.fromkeys(k.split("/")[0] for k in results):
        lines += [f"## {ds} (n = {len(results[ds + '/none'])} seeds, one DP noise draw per seed for every variant)",
                  "| variant | " + " | ".join(k.split("/")[1] for k in KEYS) + " |", "|---|" + "---|" * len(KEYS)]
        for v in VARIANTS:
            cells = ["{:.3f} ± {:.3f}".format(*t_interval([r[k] for r in results[f"{ds}/{v}"]])) for k in KEYS]
            lines.append(f"| {v} | " + " | ".join(cells) + " |")
        for v in list(VARIANTS)[1:]:
            cells = ["{:+.3f} ± {:.3f}".format(*t_interval([a[k] - b[k] for a, b in
                                                             zip(results[f"{ds}/{v}"], results[f"{ds}/none"])]))
                     for k in KEYS]
            lines.append(f"| {v} − none | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["cirrhosis", "breast_cancer"])
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1")
    ap.add_argument("--n-rows", type=int, default=200)
    ap.add_argument("--json", help="also write every seed's metrics here")
    args = ap.parse_args(argv)
    results = measure(args.datasets, args.seeds, args.n_rows)
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
