"""Tracing overhead: generation with the MLflow trace (a span per batch) vs tracing off, same process, medians.

Each repeat runs the same seeded generation twice, interleaved (traced, then untraced), inside an active run
of a temporary SQLite store, and times the whole traced block (span creation, attributes, the root span's end
and export). It also sums the time spent in the tracing calls themselves. The figure for the README is
``median(traced) / median(untraced) - 1`` and the direct share ``tracing calls / generation time``.

    python scripts/bench_tracing.py --n-rows 32 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-rows", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backend", default="hf", help="hf (the embedded model) or fake (a smoke run)")
    args = ap.parse_args()
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    from synllm_mlops.config import RunConfig
    from synllm_mlops.generation import make_backend
    from synllm_mlops.pipeline import generate_rows, prepare
    from synllm_mlops.tracking import _tracing

    cfg = RunConfig(n_rows=args.n_rows, batch_size=args.batch_size, calibration="none", backend=args.backend)
    prep = prepare(cfg)
    backend = make_backend(args.backend, cfg.model, **({"spec": prep.spec} if args.backend == "fake" else {})).load()
    seconds: dict[str, list[float]] = {"traced": [], "untraced": []}
    in_tracing: list[float] = []
    tracing_ms: list[float] = []
    n_batches: list[int] = []
    mlflow.set_experiment("bench-tracing")
    with mlflow.start_run():
        generate_rows(prep, backend, progress=False)  # warm-up (first-call costs stay out of both arms)
        for r in range(args.repeats):
            for arm in ("traced", "untraced"):
                os.environ[_tracing.TRACING_ENV] = "true" if arm == "traced" else "false"
                spent = [0.0]
                t0 = time.perf_counter()
                with _tracing.generation_trace({"strategy": cfg.strategy, "model": cfg.model}, "prompt") as hook:
                    def timed(batch, hook=hook):
                        t = time.perf_counter()
                        hook(batch)
                        spent[0] += time.perf_counter() - t
                    t_exit = time.perf_counter()
                    out = generate_rows(prep, backend, progress=False, on_batch=timed if hook else None)
                    gen_s = time.perf_counter() - t_exit
                total = time.perf_counter() - t0
                seconds[arm].append(total)
                if arm == "traced":
                    cost = spent[0] + (total - gen_s)  # the hooks + opening/closing (and exporting) the trace
                    in_tracing.append(cost / gen_s)
                    tracing_ms.append(1000 * cost)
                    n_batches.append(-(-int(out.metrics["gen/completions"]) // args.batch_size))
                print(arm, r, f"{total:.2f} s", f"{out.metrics['gen/completions']:.0f} completions", flush=True)
    t, u = statistics.median(seconds["traced"]), statistics.median(seconds["untraced"])
    print(f"\nmedian traced {t:.2f} s, untraced {u:.2f} s: overhead {100 * (t / u - 1):+.2f} % "
          f"(machine noise included); time in tracing calls: median {100 * statistics.median(in_tracing):.3f} % "
          f"of generation time ({args.repeats} repeats, {args.n_rows} rows, batch {args.batch_size}, {args.backend}); "
          f"tracing cost per generation: median {statistics.median(tracing_ms):.1f} ms for "
          f"{statistics.median(n_batches):.0f} batches")


if __name__ == "__main__":
    main()
