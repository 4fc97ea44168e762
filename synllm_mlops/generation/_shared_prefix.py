"""Shared-prefix attention: every sequence of a batch continues the same prompt, so read its keys once.

All sequences of a run share one prompt (often 2-5k tokens: statistics and rules). With a plain KV
cache each of the B sequences keeps its own copy of the prompt's keys and values, and each decoding
step reads all B copies: on a CPU that memory traffic, not the model's weights, dominates the step
(breast_cancer's 4.6k-token clin_rule prompt at batch 16: 3.4 GB per step for SmolLM2). Here the
prompt's keys and values stay in one batch-1 tensor per layer; a decoding step attends to them with
one matrix product for the whole batch, to each sequence's own new tokens as usual, and takes one
softmax over both. The result is the same attention (tested against SDPA to float precision).

Registered as the attention implementation ``synllm_shared_prefix``; outside a
:func:`shared_prefix` block, or for prompt prefill (more than one query token), it is plain SDPA.
Used only for models without sliding-window layers or logit soft-capping.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass

NAME = "synllm_shared_prefix"


@dataclass
class _Prefix:
    keys: list  # per layer: (1, kv_heads, P, head_dim)
    values: list
    length: int  # P: positions [0, P) are the prefix; the batch cache holds positions P.. only (``_kv``)


# the prefix of the generate() call running in this thread (a context variable: a served model may
# run several calls at once, each in its own thread, and none may read another's prompt)
_ACTIVE: contextvars.ContextVar[_Prefix | None] = contextvars.ContextVar("synllm_shared_prefix", default=None)


@contextlib.contextmanager
def shared_prefix(cache, length: int):
    """Within this block, decoding steps read positions ``[0, length)`` from ``cache`` (batch 1) instead."""
    token = _ACTIVE.set(_Prefix([layer.keys for layer in cache.layers], [layer.values for layer in cache.layers], length))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    st = _ACTIVE.get()
    if st is not None and query.shape[2] == 1 and attention_mask is None:
        # the batch cache holds no prompt keys: plain SDPA here would silently attend to empty slots
        raise RuntimeError("shared-prefix attention needs the attention mask of a static cache; "
                           "construct the backend with shared_prefix=False for this model")
    if st is None or query.shape[2] != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    p = st.length
    kp, vp = st.keys[module.layer_idx][0], st.values[module.layer_idx][0]  # (Hkv, P, D)
    ks, vs = key, value  # this batch's own tokens (a new-tokens cache: no prompt slots): (B, Hkv, S, D)
    b, h, _, d = query.shape
    hkv = kp.shape[0]
    g = h // hkv
    scale = scaling if scaling is not None else d**-0.5
    q = query.reshape(b, hkv, g, d)  # one query token; heads grouped by their key/value head
    qp = q.permute(1, 0, 2, 3).reshape(hkv, b * g, d)
    sp = torch.matmul(qp, kp.transpose(-1, -2)).mul_(scale)  # (Hkv, B*g, P): the prefix read once
    sp = sp.reshape(hkv, b, g, p).permute(1, 0, 2, 3)  # (B, Hkv, g, P)
    ss = torch.matmul(q, ks.transpose(-1, -2)).mul_(scale)  # (B, Hkv, g, S)
    mask = attention_mask  # (B, 1, 1, S): its columns are positions P.., as the cache's slots
    if mask.shape[-1] != ks.shape[2]:
        raise RuntimeError(f"shared-prefix attention needs a cache of new tokens only (hf backend's _batch_cache); "
                           f"got {ks.shape[2]} cached positions for a mask over {mask.shape[-1]}")
    if mask.dtype == torch.bool:
        ss = ss.masked_fill(~mask, float("-inf"))
    else:
        ss = ss + mask
    probs = torch.softmax(torch.cat([sp, ss], dim=-1), dim=-1, dtype=torch.float32).to(query.dtype)
    pp = probs[..., :p].permute(1, 0, 2, 3).reshape(hkv, b * g, p)
    out = torch.matmul(pp, vp).reshape(hkv, b, g, d).permute(1, 0, 2, 3)  # (B, Hkv, g, D)
    out = out + torch.matmul(probs[..., p:], vs)
    return out.reshape(b, h, 1, d).transpose(1, 2).contiguous(), None


def register() -> str:
    """Register the implementation (and SDPA's mask for it) with transformers; returns its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, _attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)
    return NAME


def supported(model) -> bool:
    """Models whose attention is plain scaled dot-product over all positions (no sliding window, no soft-cap)."""
    cfg = model.config
    if getattr(cfg, "sliding_window", None) or getattr(cfg, "attn_logit_softcapping", None):
        return False
    layer_types = getattr(cfg, "layer_types", None) or []
    if any(t != "full_attention" for t in layer_types):
        return False
    attn = [m for m in model.modules() if hasattr(m, "layer_idx") and hasattr(m, "o_proj")]
    return bool(attn) and getattr(cfg, "_attn_implementation", "sdpa") in ("sdpa", NAME)
