"""A batch KV cache that holds each sequence's new tokens only; the prompt stays in the one shared prefix cache.

With shared-prefix attention (``_shared_prefix``) a decoding step reads the prompt's keys and values
from one batch-1 copy; a static cache sized ``prompt + new tokens`` for every sequence then allocates
B x prompt positions that are never read (breast_cancer's 4.6k-token prompt at batch 16: 3.4 GB for
SmolLM2-135M in fp32; the 1.7B shape at batch 256 did not fit 139 GiB). Here each layer holds positions
``[offset, offset + capacity)`` only. Positions stay absolute everywhere the model sees them (rotary
embeddings, the cache's sequence length, the mask's query positions); only the slot a key is written to
is shifted by ``offset``, and the mask's key columns start at ``offset`` (``get_mask_sizes``).

Imported lazily, by the ``hf`` backend only (it subclasses transformers' static layer).
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, StaticLayer


class NewTokensLayer(StaticLayer):
    """A static layer for absolute positions ``[offset, offset + max_cache_len)``."""

    def __init__(self, max_cache_len: int, offset: int):
        super().__init__(max_cache_len)
        self.offset = offset

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = key_states.shape[-2]
        slots = torch.arange(n, device=self.device) + (self.cumulative_length - self.offset)
        self.cumulative_length.add_(n)  # absolute, as the rest of transformers reads it
        self.keys.index_copy_(2, slots, key_states)
        self.values.index_copy_(2, slots, value_states)
        return self.keys, self.values

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.max_cache_len, self.offset  # mask columns: absolute positions offset .. offset + capacity - 1


def new_tokens_cache(config, *, offset: int, capacity: int, batch_size: int, dtype, device) -> Cache:
    """A cache for ``batch_size`` sequences that continue a shared ``offset``-token prefix by up to ``capacity`` tokens.

    Allocated up front (batch x capacity per layer, nothing for the prefix) and positioned at ``offset``,
    so the next token written is absolute position ``offset``.
    """
    cfg = config.get_text_config(decoder=True)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    cache = Cache(layers=[NewTokensLayer(capacity, offset) for _ in range(cfg.num_hidden_layers)])
    cache.early_initialization(batch_size, cfg.num_key_value_heads, head_dim, dtype, device)
    for layer in cache.layers:
        layer.cumulative_length.fill_(offset)
    return cache
