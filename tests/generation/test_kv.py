"""The new-tokens cache: allocation independent of the prompt, same logits as plain attention."""

from __future__ import annotations

import pytest
import torch

from synllm_mlops.generation import _shared_prefix as sp


def _tiny_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=1024)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).eval()
    model.set_attn_implementation(sp.register())
    return model


def _cache_bytes(kv) -> int:
    return sum(layer.keys.nbytes + layer.values.nbytes for layer in kv.layers)


@pytest.mark.parametrize("prompt_len", [10, 1000])
def test_allocation_grows_with_new_tokens_not_with_the_prompt(prompt_len):
    from synllm_mlops.generation._kv import new_tokens_cache

    model = _tiny_model()
    kv = new_tokens_cache(model.config, offset=prompt_len - 1, capacity=33, batch_size=16, dtype=torch.float32,
                          device="cpu")
    # 2 layers x (keys + values) x batch 16 x 2 kv heads x 33 slots x head_dim 8 x 4 bytes, whatever the prompt
    assert _cache_bytes(kv) == 2 * 2 * 16 * 2 * 33 * 8 * 4
    assert int(kv.get_seq_length()) == prompt_len - 1


def test_backend_batch_cache_holds_new_tokens_only_with_shared_prefix():
    from transformers import DynamicCache

    from synllm_mlops.generation._hf import HFBackend

    backend = HFBackend("smollm2-135m")  # no weights are loaded: a tiny model stands in
    backend._model = _tiny_model()
    prefix = DynamicCache(config=backend._model.config)
    with torch.inference_mode():
        backend._model(input_ids=torch.arange(300)[None] % 97, past_key_values=prefix, use_cache=True)
    shared = backend._batch_cache(prefix, 301, 16, 32)
    backend.shared_prefix = False
    plain = backend._batch_cache(prefix, 301, 16, 32)
    # 33 slots (32 new tokens + 1) per sequence, against 301 + 32 with the prompt copied into every sequence
    assert _cache_bytes(shared) * (301 + 32) == _cache_bytes(plain) * 33


def test_decoding_with_the_new_tokens_cache_gives_the_logits_of_plain_attention():
    from transformers import DynamicCache

    from synllm_mlops.generation._kv import new_tokens_cache

    model = _tiny_model()
    prompt = (torch.arange(40) * 7 % 97)[None]
    batch, steps = 3, 5
    prefix = DynamicCache(config=model.config)
    with torch.inference_mode():
        model(input_ids=prompt[:, :-1], past_key_values=prefix, use_cache=True)
    p = prompt.shape[1] - 1
    kv = new_tokens_cache(model.config, offset=p, capacity=steps + 1, batch_size=batch, dtype=torch.float32, device="cpu")
    seqs = prompt.repeat(batch, 1)
    tok = seqs[:, -1:]
    with torch.inference_mode(), sp.shared_prefix(prefix, p):
        for step in range(steps):
            pos = p + step
            out = model(input_ids=tok, attention_mask=torch.ones(batch, pos + 1, dtype=torch.long), past_key_values=kv,
                        cache_position=torch.tensor([pos]), use_cache=True).logits[:, -1]
            ref = torch.stack([_plain(model, seqs[b:b + 1]) for b in range(batch)])
            assert torch.allclose(out, ref, atol=1e-5, rtol=0), (step, (out - ref).abs().max())
            tok = torch.tensor([[3 + step], [50 + step], [90 - step]])  # sequences part ways
            seqs = torch.cat([seqs, tok], dim=1)
    assert not torch.equal(out[0], out[1])


def _plain(model, ids) -> torch.Tensor:
    """Last-position logits of a full forward pass over ``ids``, outside any shared-prefix block (plain SDPA)."""
    token = sp._ACTIVE.set(None)
    try:
        return model(input_ids=ids).logits[0, -1]
    finally:
        sp._ACTIVE.reset(token)
