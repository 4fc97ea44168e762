"""Bad calls to the served API, table-driven: each is an HTTP 4xx whose one message names the problem, the
value and the fix, with no traceback; the server answers a good call after every one.

The server is `mlflow models serve` of a registered champion on the deterministic fake backend (the
session's ``served_fake``, shared with the load test), capped at ``MAX_ROWS`` rows per call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from _served_api import MAX_ROWS


@dataclass(frozen=True)
class HttpCase:
    id: str
    body: object  # JSON-able, or bytes sent as they are
    problem: str  # substrings of the response's message
    value: str
    fix: str
    status: int = 400
    content_type: str = "application/json"


def _one(**request) -> dict:
    return {"inputs": request}


SEED_RANGE = "0..4294967295"
CASES = [
    HttpCase("n_rows-fraction", _one(n_rows=2.9), "n_rows must be a whole number", "got 2.9", "send an integer such as 2"),
    HttpCase("seed-fraction", _one(n_rows=1, seed=-0.5), f"seed must be a whole number in {SEED_RANGE}", "got -0.5",
             "send an integer such as 0"),
    HttpCase("seed-too-big", _one(n_rows=1, seed=2**64), f"seed must be a whole number in {SEED_RANGE}",
             "got 18446744073709551616", f"send a value in {SEED_RANGE}"),
    HttpCase("n_rows-string", _one(n_rows="5"), "n_rows must be a whole number", "got '5' (str)",
             "send a JSON number without quotes"),
    HttpCase("n_rows-bool", _one(n_rows=True), "n_rows must be a whole number", "got True (bool)",
             "send a JSON number without quotes"),
    HttpCase("n_rows-object", _one(n_rows=[[1]]), "n_rows must be a whole number", "got [1]", "send a JSON number"),
    HttpCase("n_rows-zero", _one(n_rows=0), f"n_rows must be a whole number in 1..{MAX_ROWS}", "got 0",
             f"send a value in 1..{MAX_ROWS}"),
    HttpCase("n_rows-over-cap", _one(n_rows=MAX_ROWS + 1), f"n_rows must be a whole number in 1..{MAX_ROWS}",
             f"got {MAX_ROWS + 1}", f"split it into calls of at most {MAX_ROWS} rows, or raise SYNLLM_SERVE_MAX_ROWS"),
    HttpCase("total-over-cap", {"dataframe_records": [{"n_rows": 150, "seed": 1}, {"n_rows": 150, "seed": 2}]},
             f"more than the server's cap of {MAX_ROWS} rows per call", "asks for 300 rows in total",
             "raise SYNLLM_SERVE_MAX_ROWS where the model is served"),
    HttpCase("issue-12-100k-requests", {"dataframe_records": [{"n_rows": 10_000}] * 100_000},
             f"more than the server's cap of {MAX_ROWS} rows per call", "holds 100000 requests",
             "send fewer requests per call"),
    HttpCase("unknown-key", _one(n_rows=1, colour="red"), "unknown key(s)", "'colour'",
             "a request takes n_rows (required) and seed (optional) only"),
    HttpCase("missing-n_rows", _one(seed=1), "n_rows is missing", "n_rows", "every request needs n_rows"),
    HttpCase("null-n_rows", _one(n_rows=None), "n_rows is missing", "n_rows", "every request needs n_rows"),
    HttpCase("ragged-columns", _one(n_rows=[1, 2, 3], seed=[1, 2]), "lists of different lengths",
             "n_rows: [1, 2, 3], seed: [1, 2]", "several as a list of such objects"),
    HttpCase("no-request", {"inputs": []}, "the call holds no request", "no request", "send at least one"),
    HttpCase("not-an-object", {"inputs": [{"n_rows": 1}, 5]}, "a request must be an object", "got 5",
             'like {"n_rows": 5, "seed": 1}'),
    HttpCase("csv-text-value", b"n_rows,seed\nfive,1\n", "n_rows must be a whole number", "got 'five' (str)",
             "send a JSON number without quotes", content_type="text/csv"),
    # MLflow's scoring server answers these before the model sees them (its own messages)
    HttpCase("malformed-json", b'{"inputs": {"n_rows": 1', "valid JSON", '{"inputs": {"n_rows": 1',
             "Ensure that input is a valid JSON"),
    HttpCase("empty-payload", b"", "valid JSON", "b''", "Ensure that input is a valid JSON"),
    HttpCase("empty-object", {}, "exactly one of the input fields", "Received dictionary with input fields: []",
             "must be a JSON dictionary with exactly one of the input fields"),
    HttpCase("wrong-content-type", b"n_rows=1", "only supports the following content types", "text/plain",
             "application/json", status=415, content_type="text/plain"),
]


def test_the_table_is_broad():
    assert len(CASES) >= 12 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_call(case: HttpCase, served_fake):
    status, text = served_fake.post_raw(case.body if isinstance(case.body, bytes) else json.dumps(case.body),
                                        content_type=case.content_type)
    assert status == case.status, f"{case.id}: HTTP {status}\n{text[:1000]}"
    assert "Traceback" not in text and "stack_trace" not in text, f"{case.id}: traceback in the response\n{text[:3000]}"
    try:
        message = json.loads(text)["message"]  # one message, as MLflow's error body carries it
    except ValueError:
        message = text  # the scoring server answers 415 in plain text
    for what in ("problem", "value", "fix"):
        assert getattr(case, what) in message, f"{case.id}: the message does not name the {what}\n{message[:2000]}"
    status, body = served_fake.post({"inputs": {"n_rows": 1, "seed": 0}})
    assert status == 200 and len(body["predictions"]) == 1, "the server stopped serving"
