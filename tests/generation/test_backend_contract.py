"""The backend contract, one suite run against every backend (in the style of Optuna's sampler test suites).

* ``hf``: a tiny random-weight Llama built from a config, with SmolLM2's tokenizer (read from the GGUF);
* ``vllm``: with ``vllm`` replaced by a stub module (no GPU, no vLLM);
* ``fake``.
Every backend must: load once and return itself; describe itself; render the prompt it continues;
return exactly ``n`` completions of new text in batches, reproducibly for a seed; validate its
arguments; free its model on ``close`` and load again when used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_vllm import _stub_vllm  # noqa: E402 - the stub vllm module of the vllm backend's own tests

from synllm_mlops.errors import ConfigError  # noqa: E402
from synllm_mlops.generation import (  # noqa: E402
    BatchResult,
    GenerationBackend,
    GenerationParams,
    ModelInfo,
    ModelRef,
    RowGuide,
    completion_regex,
    make_backend,
)
from synllm_mlops.prompts import Prompt  # noqa: E402
from synllm_mlops.spec import load_spec  # noqa: E402

PROMPT = Prompt("clin_rule", "t", "You write CSV rows.", "Write 2 rows of the table.", False, {"n_rows": "2"})
PARAMS = GenerationParams(batch_size=2, temperature=1.0)


@pytest.fixture(scope="module")
def tiny_hf_dir(tmp_path_factory) -> Path:
    """A 1-layer random-weight Llama with SmolLM2's tokenizer and chat template, saved as a local model directory."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from synllm_mlops.generation import resolve_model

    gguf = resolve_model("smollm2-135m").gguf_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    d = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture(params=["hf", "vllm", "fake"])
def backend(request, monkeypatch) -> GenerationBackend:
    name = request.param
    if name == "hf":
        d = request.getfixturevalue("tiny_hf_dir")
        return make_backend("hf", str(d), ref=ModelRef("tiny", str(d), local_dir=str(d), chat=True))
    if name == "vllm":
        _stub_vllm(monkeypatch)
        return make_backend("vllm", "toy", ref=ModelRef("toy-chat", "org/toy-chat", chat=True))
    return make_backend("fake", "fake", spec=load_spec("cirrhosis"))


def _texts(backend, seed: int, n: int = 3, **kw) -> list[str]:
    return [c.text for c in backend.generate(PROMPT, n, PARAMS, regex=None, max_new_tokens=8, seed=seed, **kw).completions]


def test_load_returns_the_backend_once_and_info_describes_it(backend):
    assert backend.load() is backend and backend.load() is backend
    info = backend.info()
    assert isinstance(info, ModelInfo) and info.backend == backend.name
    assert backend.count_tokens("120,D,Placebo") >= 1


def test_prompt_text_holds_the_prompt(backend):
    text = backend.prompt_text(PROMPT)
    assert isinstance(text, str) and PROMPT.user in text and PROMPT.system in text


def test_generate_returns_n_completions_of_new_text_in_batches(backend):
    batches: list[BatchResult] = []
    res = backend.generate(PROMPT, 5, PARAMS, regex=None, max_new_tokens=8, seed=0, on_batch=batches.append)
    assert len(res.completions) == 5 and [len(b.completions) for b in batches] == [2, 2, 1]
    assert all(isinstance(c.text, str) and c.n_tokens >= 0 for c in res.completions)
    assert not any(PROMPT.user in c.text for c in res.completions)  # only new tokens, never the prompt
    assert res.n_tokens == sum(c.n_tokens for c in res.completions) and res.seconds >= 0


def test_a_seed_reproduces_its_completions(backend):
    assert _texts(backend, 7) == _texts(backend, 7)
    assert _texts(backend, 7) != _texts(backend, 8)


def test_generate_validates_its_arguments(backend):
    with pytest.raises(ConfigError, match="number of sequences must be >= 1, got 0"):
        backend.generate(PROMPT, 0, PARAMS, regex=None, max_new_tokens=8, seed=0)
    with pytest.raises(ConfigError, match="max_new_tokens must be >= 1, got 0"):
        backend.generate(PROMPT, 1, PARAMS, regex=None, max_new_tokens=0, seed=0)


def test_constrained_generation_takes_the_grammar_and_the_rule_guide(backend):
    spec = load_spec("breast_cancer")
    res = backend.generate(PROMPT, 2, PARAMS, regex=completion_regex(spec, 1), max_new_tokens=4, seed=0,
                           guide=RowGuide.for_spec(spec))
    assert len(res.completions) == 2


def test_close_frees_the_model_and_a_later_call_loads_it_again(backend):
    before = _texts(backend, 3)
    backend.close()
    backend.close()  # closing twice is harmless
    assert _texts(backend, 3) == before


def test_concurrent_calls_give_each_seed_its_own_completions(backend):
    """A served model is called from several threads: each call's completions depend on its seed only."""
    from concurrent.futures import ThreadPoolExecutor

    alone = {s: _texts(backend, s) for s in (1, 2, 3, 4)}
    with ThreadPoolExecutor(4) as pool:
        together = dict(zip((1, 2, 3, 4), pool.map(lambda s: _texts(backend, s), (1, 2, 3, 4))))
    assert together == alone
