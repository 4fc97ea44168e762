"""The served champion under load: `mlflow models serve` on loopback, 8 concurrent clients.

Every good call gets exactly its rows, valid, byte for byte what the same call gets when sent alone;
every bad one (oversized, malformed) a 4xx; the server survives and its memory stays bounded. The 100
calls run on the deterministic fake backend (the embedded model would take far longer than CI
affords); a small check runs 8 concurrent calls through the real embedded model.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from _served_api import MAX_ROWS

from synllm_mlops.spec import conform, load_spec
from synllm_mlops.serving import SEED_MAX

pytestmark = pytest.mark.slow

RSS_GROWTH_MB = 64  # server RSS after the load minus after a warm-up call (measured: +4 MB)
SIZES = (1, 2, 5, 13, 40, 120, MAX_ROWS)
BAD = (
    b"{not json",
    {"inputs": {"n_rows": 2.5}},
    {"inputs": {"n_rows": "3"}},
    {"dataframe_records": [{"n_rows": MAX_ROWS // 2 + 1}, {"n_rows": MAX_ROWS // 2 + 1}]},  # total over the cap
    {"inputs": {"n_rows": 1, "seed": -1}},
)


def _plan() -> list[tuple[object, int | None]]:
    """100 calls: (body, rows expected) with None for a bad call; sizes, seeds and kinds interleaved."""
    calls = []
    for i in range(100):
        if i % 10 == 3:  # oversized
            calls.append(({"inputs": {"n_rows": MAX_ROWS + 1 + i}}, None))
        elif i % 10 == 7:  # malformed or out of range
            calls.append((BAD[(i // 10) % len(BAD)], None))
        elif i % 10 == 9:  # several requests in one call
            calls.append(({"inputs": [{"n_rows": 3, "seed": i}, {"n_rows": 4, "seed": SEED_MAX - i}]}, 7))
        else:
            n = SIZES[i % len(SIZES)]
            calls.append(({"inputs": {"n_rows": n, "seed": i % 30}}, n))  # seeds repeat: same seed, same rows
    return calls


def _check_rows(text: str, expected: int, spec) -> None:
    rows = pd.DataFrame(json.loads(text)["predictions"])
    assert len(rows) == expected
    conform(rows.astype(object).where(rows.notna(), "NA").astype(str), spec)


def _concurrently(server, bodies, workers: int = 8) -> list[tuple[int, str]]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda b: server.post_raw(b, timeout=600), bodies))


def test_100_mixed_calls_from_8_clients_match_serial_calls(served_fake):
    spec = load_spec(served_fake.dataset)
    calls = _plan()
    assert served_fake.post({"inputs": {"n_rows": MAX_ROWS, "seed": 99}})[0] == 200  # warm-up: steady state
    rss_before = served_fake.rss_mb()
    t0 = time.perf_counter()
    answers = _concurrently(served_fake, [body for body, _ in calls])
    concurrent_s = time.perf_counter() - t0
    serial = [served_fake.post_raw(body) if rows is not None else None for body, rows in calls]
    rss_after = served_fake.rss_mb()
    for (body, rows), (status, text), alone in zip(calls, answers, serial):
        if rows is None:
            assert 400 <= status < 500, (body, status, text[:300])
            assert "Traceback" not in text and "stack_trace" not in text, text[:300]
        else:
            assert status == 200, (body, text[:300])
            _check_rows(text, rows, spec)
            assert alone == (status, text), f"{body}: the concurrent answer differs from the serial one"
    assert sum(rows is None for _, rows in calls) == 20
    assert served_fake.alive()
    assert "Traceback" not in served_fake.log.read_text()
    assert rss_after - rss_before < RSS_GROWTH_MB, (rss_before, rss_after)
    print(f"\n100 calls from 8 clients: {concurrent_s:.1f} s; server RSS {rss_before:.0f} -> {rss_after:.0f} MB")


def test_real_model_concurrent_calls_match_serial_calls(served_hf):
    """8 small calls at once through the embedded model give exactly what each gives alone."""
    spec = load_spec(served_hf.dataset)
    bodies = [{"inputs": {"n_rows": 1 + i % 2, "seed": 100 + i}} for i in range(8)]
    t0 = time.perf_counter()
    answers = _concurrently(served_hf, bodies)
    concurrent_s = time.perf_counter() - t0
    for body, (status, text) in zip(bodies, answers):
        assert status == 200, text[:500]
        _check_rows(text, body["inputs"]["n_rows"], spec)
    t0 = time.perf_counter()
    for body, answer in zip(bodies, answers):
        assert served_hf.post_raw(body, timeout=600) == answer, body
    print(f"\nreal model, 8 calls of 1-2 rows: {concurrent_s:.1f} s concurrently, {time.perf_counter() - t0:.1f} s serially")
    assert served_hf.alive()
