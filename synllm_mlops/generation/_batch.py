"""``batch_size=auto``: the largest batch whose decoding memory fits a stated share of the free GPU memory.

With shared-prefix attention the batch KV cache holds new tokens only (``_kv``), so a sequence costs its
own ``max_new_tokens + 1`` cache slots plus its activations of one decoding step (the logits over the
vocabulary in fp32, as the sampler and the grammar read them; the attention scores over the whole
context; the MLP's hidden states). The prompt's cache and the weights are already in memory when the
choice is made, so they are outside the free memory measured.
"""

from __future__ import annotations

AUTO_MEMORY_FRACTION = 0.8  # of the free GPU memory: the rest absorbs the allocator's fragmentation
AUTO_CPU_BATCH = 16  # CPU: throughput stops growing well before memory runs out (README, "Benchmarks")


def choose_batch_size(free_bytes: int, per_sequence_bytes: int, cap: int, *,
                      fraction: float = AUTO_MEMORY_FRACTION) -> int:
    """The largest batch of ``per_sequence_bytes`` sequences in ``fraction`` of ``free_bytes``, at most ``cap``.

    Above 8 it is rounded down to a multiple of 8 (tensor-core friendly shapes); never below 1.

    Example:
        >>> choose_batch_size(free_bytes=10 * 2**30, per_sequence_bytes=2**26, cap=1000)  # 80 % of 10 GiB / 64 MiB
        128
    """
    if per_sequence_bytes <= 0:
        raise ValueError(f"per_sequence_bytes must be > 0, got {per_sequence_bytes}")
    fits = int(free_bytes * fraction // per_sequence_bytes)
    if fits > 8:
        fits -= fits % 8
    return max(1, min(cap, fits))


def per_sequence_bytes(config, *, dtype_bytes: int, context: int, cache_tokens: int) -> int:
    """Decoding memory of one sequence for a transformers ``config``: ``cache_tokens`` KV slots per layer and the
    activations of one step over ``context`` positions."""
    cfg = config.get_text_config(decoder=True)
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * dtype_bytes * cache_tokens
    logits = 3 * cfg.vocab_size * 4  # fp32 logits, the processors' masked copy, the sampling probabilities
    attention = 2 * heads * context * 4  # scores and weights of one layer at a time
    mlp = 3 * getattr(cfg, "intermediate_size", 4 * cfg.hidden_size) * dtype_bytes
    return kv + logits + attention + mlp
