"""Benchmark the near-copy guard as the real table grows: index build, rows checked, reject lines read.

The real table is cirrhosis resampled to ``n`` rows with its numbers jittered (so values repeat as in
real data, and the index cannot lean on every value being unique); the candidates are fake rows and
echoed real rows in free-text forms. Work per checked row must not grow with ``n``.

    python scripts/bench_nearcopy.py --sizes 1000 10000 100000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _table(n: int, seed: int = 0):
    from synllm_mlops.spec import load_data, load_spec

    spec = load_spec("cirrhosis")
    real = load_data(spec)
    rng = np.random.default_rng(seed)
    df = real.iloc[rng.integers(len(real), size=n)].reset_index(drop=True)
    for c in spec.columns:
        if c.is_numeric:
            x = df[c.name] * rng.uniform(0.8, 1.2, n)
            df[c.name] = x.clip(c.min, c.max).round(c.decimals)
    return spec, df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--rows", type=int, default=2000, help="candidate rows checked per size")
    args = ap.parse_args()
    from synllm_mlops.generation import make_backend
    from synllm_mlops.parsing import NearCopyIndex, RowParser
    from synllm_mlops.prompts import format_rows
    from synllm_mlops.spec import table_keys

    print("| real rows | index build s | near() µs/row | parse µs/row, exact guard only | parse µs/row, with near "
          "copies (valid rows) | flag_lines µs/line (echoes) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        spec, real = _table(n)
        keys = table_keys(real, spec)
        t = time.perf_counter()
        index = NearCopyIndex(keys, spec)
        build = time.perf_counter() - t
        fake = make_backend("fake", "fake", spec=spec)
        rng = np.random.default_rng(1)
        rows = [fake._row(rng) for _ in range(args.rows)]
        parsed = [tuple(r.split(",")) for r in rows]
        t = time.perf_counter()
        for r in parsed:
            index.near(r)
        near_us = (time.perf_counter() - t) / len(parsed) * 1e6
        texts = ["\n".join(rows[i:i + 4]) for i in range(0, len(rows), 4)]
        t = time.perf_counter()
        RowParser(spec, {k: "train" for k in keys}).parse(texts)
        exact_us = (time.perf_counter() - t) / len(rows) * 1e6
        t = time.perf_counter()
        res = RowParser(spec, {k: "train" for k in keys}, index).parse(texts)
        parse_us = (time.perf_counter() - t) / len(rows) * 1e6
        lines = format_rows(real.head(200), spec).splitlines()
        echoes = [json.dumps(dict(zip(spec.column_names, ln.split(",")))) for ln in lines]
        echoes += [" ".join(reversed(ln.split(","))) for ln in lines]
        t = time.perf_counter()
        flagged = index.flag_lines(echoes)
        flag_us = (time.perf_counter() - t) / len(echoes) * 1e6
        assert len(flagged) == len(echoes), "every echo must be flagged"
        print(f"| {n:,} | {build:.2f} | {near_us:.0f} | {exact_us:.0f} | {parse_us:.0f} ({len(res.rows)} valid) | "
              f"{flag_us:.0f} |")


if __name__ == "__main__":
    main()
