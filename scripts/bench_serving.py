"""Serving throughput: the same calls sent serially and by 8 concurrent clients, on the fake backend, medians.

A steered ``clin_rule`` champion for cirrhosis on the fake backend is registered in a temporary store. Each
repeat sends the same ``--calls`` calls (``--n-rows`` rows each, distinct seeds) once one after another and
once from ``--clients`` threads, and checks that every concurrent answer is byte-identical to the serial one.
The figure is ``median(serial seconds) / median(concurrent seconds)``.

Two parts:

- ``locking`` (in-process, ``mlflow.pyfunc.load_model``): the fake backend sleeps ``--latency-ms`` per
  completion inside each batch, releasing the GIL as a GPU-bound backend does while the device works. It
  measures the server's locking, not compute: the arm ``serialised`` (the backend declares
  ``concurrent_safe = False``: one call at a time per loaded model, as every backend was served before)
  against ``concurrent`` (the fake's own ``concurrent_safe = True``). The fake backend's own Python work
  holds the GIL, so ``--latency-ms 0`` shows what threads alone give it.
- ``workers`` (HTTP): ``mlflow models serve --workers N`` (N uvicorn processes, each loading the model),
  the plain fake backend (no sleep), for each N of ``--workers``: real parallel compute, bounded by the
  machine's cores.

    python scripts/bench_serving.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "tests"))  # the registered-champion and server helpers of the serving tests


def _timed(send, calls: list[dict], clients: int) -> tuple[float, float, list[str], list[str]]:
    """(serial seconds, concurrent seconds, serial answers, concurrent answers) for one repeat."""
    t0 = time.perf_counter()
    serial = [send(c) for c in calls]
    t1 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        concurrent = list(pool.map(send, calls))
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, serial, concurrent


def _measure(name: str, send, calls: list[dict], clients: int, repeats: int) -> dict:
    send(calls[0])  # warm-up: first-call costs stay out of both arms
    serial_s, concurrent_s = [], []
    for _ in range(repeats):
        s, c, a, b = _timed(send, calls, clients)
        if a != b:
            raise SystemExit(f"{name}: a concurrent answer differs from the serial one")
        serial_s.append(s)
        concurrent_s.append(c)
    row = {"arm": name, "serial_s": statistics.median(serial_s), "concurrent_s": statistics.median(concurrent_s)}
    row["ratio"] = row["serial_s"] / row["concurrent_s"]
    print(f"{name:<34} serial {row['serial_s']:7.3f} s   {clients} clients {row['concurrent_s']:7.3f} s   "
          f"x{row['ratio']:.2f}   (serial {', '.join(f'{x:.2f}' for x in serial_s)}; "
          f"concurrent {', '.join(f'{x:.2f}' for x in concurrent_s)})", flush=True)
    return row


def locking(env: dict[str, str], calls: list[dict], args) -> list[dict]:
    import mlflow

    from synllm_mlops.generation._fake import FakeBackend

    batch = FakeBackend._generate_batch
    latency = args.latency_ms / 1000

    def device(self, prompt, batch_size, *rest, **kw):  # the device's time for the batch, GIL released
        out = batch(self, prompt, batch_size, *rest, **kw)
        time.sleep(latency * batch_size)
        return out

    FakeBackend._generate_batch = device
    rows = []
    try:
        for safe in (False, True):
            FakeBackend.concurrent_safe = safe  # read when the model loads (its lock) and by generate
            model = mlflow.pyfunc.load_model(env["uri"]).unwrap_python_model()
            send = lambda c, model=model: model.predict(None, c).to_csv(index=False)  # noqa: E731
            arm = f"locking {'concurrent' if safe else 'serialised'}, {args.latency_ms:g} ms"
            rows.append(_measure(arm, send, calls, args.clients, args.repeats))
    finally:
        FakeBackend._generate_batch, FakeBackend.concurrent_safe = batch, True
    return rows


def workers(env: dict[str, str], folder: Path, calls: list[dict], args) -> list[dict]:
    from _served_api import start_server, stop_server

    rows = []
    for n in args.workers:
        server = start_server(env, folder / f"server-{n}.log", workers=n)
        try:
            send = lambda c, server=server: server.post_raw({"inputs": c})[1]  # noqa: E731
            rows.append(_measure(f"workers={n}, no latency (HTTP)", send, calls, args.clients, args.repeats))
        finally:
            stop_server(server)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=32)
    ap.add_argument("--n-rows", type=int, default=8)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--latency-ms", type=float, nargs="+", default=[50.0, 10.0, 0.0],
                    help="simulated device time per completion, ms (locking part; one arm pair per value)")
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="uvicorn processes (none: skip)")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import warnings

    import mlflow
    from _served_api import register_champion

    folder = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = register_champion(folder, backend="fake", model="fake")
    os.environ["SYNLLM_GUARD_KEY_DIR"] = env["SYNLLM_GUARD_KEY_DIR"]
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    calls = [{"n_rows": args.n_rows, "seed": i} for i in range(args.calls)]
    print(f"{args.calls} calls of {args.n_rows} rows, serial vs {args.clients} concurrent clients, "
          f"medians of {args.repeats} repeats ({os.cpu_count()} CPUs)", flush=True)
    rows = []
    for ms in args.latency_ms:
        rows += locking(env, calls, argparse.Namespace(**{**vars(args), "latency_ms": ms}))
    if args.workers:
        rows += workers(env, folder, calls, args)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
