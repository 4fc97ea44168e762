"""Shared-prefix attention gives the same logits as plain SDPA over a per-sequence copy of the prompt."""

from __future__ import annotations

import contextlib

import pytest
import torch

from synllm_mlops.config import RunConfig
from synllm_mlops.generation import _shared_prefix as sp
from synllm_mlops.pipeline import prepare

pytestmark = pytest.mark.slow


def _decode(backend, cache, ids, *, shared: bool, steps: int = 4) -> torch.Tensor:
    """Logits of ``steps`` decoding steps for 3 sequences that continue the prompt with different tokens."""
    prompt_len, batch = ids.shape[1], 3
    before = backend.shared_prefix
    backend.shared_prefix = shared
    try:
        kv = backend._batch_cache(cache, prompt_len, batch, steps + 2)
        ctx = sp.shared_prefix(cache, prompt_len - 1) if shared else contextlib.nullcontext()
        out, tok = [], ids[:, -1:].repeat(batch, 1)
        with torch.inference_mode(), ctx:
            for step in range(steps):
                pos = prompt_len - 1 + step
                o = backend._model(input_ids=tok, attention_mask=torch.ones(batch, pos + 1, dtype=torch.long),
                                   past_key_values=kv, cache_position=torch.tensor([pos]), use_cache=True)
                out.append(o.logits[:, -1].clone())
                tok = torch.tensor([[10 + step], [200 + step], [3000 + step]])
        return torch.stack(out)
    finally:
        backend.shared_prefix = before


def test_same_logits_as_sdpa_on_the_real_model(hf_backend):
    assert hf_backend.shared_prefix and hf_backend.info().extra["attn_implementation"] == sp.NAME
    prep = prepare(RunConfig(dataset="cirrhosis", strategy="featdesc"))
    ids, cache = hf_backend._prefill(hf_backend.prompt_text(prep.prompt))
    shared, plain = _decode(hf_backend, cache, ids, shared=True), _decode(hf_backend, cache, ids, shared=False)
    assert shared.shape == plain.shape and not torch.equal(shared[:, 0], shared[:, 1])  # sequences differ
    assert torch.allclose(shared, plain, atol=1e-3, rtol=0), (shared - plain).abs().max()


def test_refuses_to_attend_without_a_mask(hf_backend):
    prep = prepare(RunConfig(dataset="cirrhosis", strategy="featdesc"))
    ids, cache = hf_backend._prefill(hf_backend.prompt_text(prep.prompt))
    q = torch.zeros(2, 9, 1, 64)
    module = next(m for m in hf_backend._model.modules() if hasattr(m, "layer_idx") and hasattr(m, "o_proj"))
    with sp.shared_prefix(cache, ids.shape[1] - 1), pytest.raises(RuntimeError, match="shared_prefix=False"):
        sp._attention(module, q, torch.zeros(2, 3, 50, 64), torch.zeros(2, 3, 50, 64), None)
