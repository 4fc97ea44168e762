"""One MLflow trace per generation: a root span, and a child span per batch with its counts and reject reasons.

What goes into a trace: the loggable prompt (a ``seed_ex`` prompt's real rows are a placeholder there, see
``workflow.loggable_prompt_text``), counts, seconds, tokens and reject *reasons* — never a completion, a
row or a rejected line. On by default (a few spans per run: well under 1 % of generation time, see the
README); ``SYNLLM_TRACING=false`` turns it off.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from synllm_mlops.settings import settings

TRACING_ENV = "SYNLLM_TRACING"  # read through settings(); named here for scripts/bench_tracing.py


def tracing_enabled() -> bool:
    """Whether generation runs are traced (``SYNLLM_TRACING``, default true)."""
    return settings().tracing


@contextmanager
def generation_trace(attributes: dict[str, Any], prompt_text: str) -> Iterator[Callable[[Any], None] | None]:
    """Open the root span ``generate``; yield a hook that records one batch (a ``pipeline.BatchRecord``) as a child span.

    Yields None when tracing is off. The root span ends with the totals set by :func:`finish`.
    """
    if not tracing_enabled():
        yield None
        return
    import mlflow
    from mlflow.entities import SpanType

    with mlflow.start_span(name="generate", span_type=SpanType.CHAIN, attributes=_clean(attributes)) as root:
        root.set_inputs({"prompt": prompt_text})
        # pool rows: every valid row drawn, before selection keeps n_rows of them (the run's gen/rows_valid)
        totals = {"batches": 0, "tokens": 0, "pool_rows_valid": 0, "rows_rejected": 0, "seconds_in_batches": 0.0}

        def record(batch) -> None:
            span = mlflow.start_span_no_context(
                name=f"batch {batch.index}", span_type=SpanType.LLM, parent_span=root, start_time_ns=batch.start_ns,
                attributes=_clean({**{k: attributes[k] for k in ("prompt_uri", "strategy", "model") if k in attributes},
                                   "batch.index": batch.index, "batch.size": batch.size, "batch.seed": batch.seed,
                                   "batch.tokens": batch.tokens, "batch.seconds": round(batch.seconds, 4),
                                   "batch.tokens_per_s": round(batch.tokens / batch.seconds, 2) if batch.seconds else 0.0,
                                   "rows.valid": batch.valid, "rows.rejected": batch.rejected,
                                   "rows.copy_rejects": batch.copy_rejects, "rows.near_copy_rejects": batch.near_copy_rejects}))
            span.set_inputs({"sequences": batch.size, "max_new_tokens": batch.max_new_tokens})
            span.end(outputs={"valid_rows": batch.valid, "rejected_rows": batch.rejected,
                              "reject_reasons": {str(k): int(v) for k, v in batch.reasons.items()}},
                     end_time_ns=batch.end_ns)
            totals["batches"] += 1
            totals["tokens"] += batch.tokens
            totals["pool_rows_valid"] += batch.valid
            totals["rows_rejected"] += batch.rejected
            totals["seconds_in_batches"] += batch.seconds

        yield record
        root.set_outputs({**totals, "seconds_in_batches": round(totals["seconds_in_batches"], 3)})
    # MLflow exports traces on a background thread: drain it while the run is open, so the trace is in the store
    # (and searchable by run) when the run ends, not only when the process exits; one wait per generation
    mlflow.flush_trace_async_logging()


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != ""}
