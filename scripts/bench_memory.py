"""Peak memory of one generation batch: the process's resident memory, sampled while ``generate`` runs.

Loads the model, prefills the prompt, then samples one batch (grammar and rule guide on, as a run does)
while a thread reads the resident set size every 10 ms; also reports the bytes of the batch's KV cache.
It touches only the ``hf`` backend's long-standing internals (``_prefill``, ``_batch_cache``), so the
same script measures an older checkout: ``PYTHONPATH=/path/to/old/checkout python scripts/bench_memory.py``.
Linux only (reads ``/proc/self/status``).

    python scripts/bench_memory.py --dataset breast_cancer --strategy clin_rule --batch-size 16
"""

from __future__ import annotations

import argparse
import threading
import time


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def decode_steps(backend, text: str, batch: int, limit: int, steps: int) -> int:
    """``steps`` forward passes on the batch cache the backend builds for ``limit`` new tokens (no sampling)."""
    import contextlib

    import torch

    from synllm_mlops.generation import _shared_prefix

    ids, cache = backend._prefill(text)
    kv = backend._batch_cache(cache, ids.shape[1], batch, limit)
    x, pos = ids[:, -1:].repeat(batch, 1), ids.shape[1] - 1
    shared = _shared_prefix.shared_prefix(cache, pos) if backend.shared_prefix else contextlib.nullcontext()
    with torch.inference_mode(), shared:
        for s in range(steps):
            backend._model(input_ids=x, attention_mask=torch.ones(batch, pos + s + 1, dtype=torch.long),
                           past_key_values=kv, use_cache=True, cache_position=torch.tensor([pos + s]))
    return batch * steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="breast_cancer")
    ap.add_argument("--strategy", default="clin_rule")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=0,
                    help="instead of a whole batch, only this many bare decode steps on the batch's cache (quick)")
    args = ap.parse_args()

    import synllm_mlops
    from synllm_mlops.config import RunConfig
    from synllm_mlops.constraints import RowGuide, completion_regex
    from synllm_mlops.generation import GenerationParams, make_backend
    from synllm_mlops.pipeline import max_new_tokens, prepare

    prep = prepare(RunConfig(dataset=args.dataset, strategy=args.strategy, model=args.model,
                             batch_size=args.batch_size, rows_per_completion=1))
    backend = make_backend("hf", args.model).load()
    limit = max_new_tokens(backend, prep.config, prep.spec)
    text = backend.prompt_text(prep.prompt)
    backend._prefill(text)
    cache_bytes = []
    make_cache = backend._batch_cache

    def counting(*a, **kw):
        kv = make_cache(*a, **kw)
        cache_bytes.append(sum(layer.keys.nbytes + layer.values.nbytes for layer in kv.layers))
        return kv

    backend._batch_cache = counting
    before = rss_mib()
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib())
            time.sleep(0.01)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    if args.steps:
        n_tokens = decode_steps(backend, text, args.batch_size, limit, args.steps)
    else:
        n_tokens = backend.generate(prep.prompt, args.batch_size, GenerationParams(batch_size=args.batch_size),
                                    regex=completion_regex(prep.spec, 1), max_new_tokens=limit, seed=0,
                                    guide=RowGuide.for_spec(prep.spec)).n_tokens
    seconds = time.perf_counter() - t0
    done.set()
    thread.join()
    print(f"code {synllm_mlops.__file__}")
    print(f"{args.dataset}/{args.strategy}, prompt {backend.count_tokens(text)} tokens, batch {args.batch_size}, "
          f"max_new_tokens {limit}, {n_tokens} tokens in {seconds:.0f} s" + (f" ({args.steps} bare decode steps)" if args.steps else ""))
    print(f"resident memory: {before:.0f} MiB before the batch (model + prompt cache), peak {peak[0]:.0f} MiB during it "
          f"(+{peak[0] - before:.0f} MiB); batch KV cache {cache_bytes[0] / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
