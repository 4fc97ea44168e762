"""The vllm backend's requests and result handling, against a stub ``vllm`` module (no GPU, no vLLM)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import pytest

from synllm_mlops.errors import ModelLoadError
from synllm_mlops.generation import GenerationParams, ModelRef, make_backend
from synllm_mlops.generation._vllm import VLLMBackend
from synllm_mlops.prompts import Prompt

PROMPT = Prompt("clin_rule", "t", "You write CSV rows.", "Write 2 rows.", False, {"n_rows": "2"})
CHAT = ModelRef("toy-chat", "org/toy-chat", chat=True)
BASE = ModelRef("toy-base", "org/toy-base", chat=False)


@dataclass
class _Out:
    text: str
    token_ids: list[int]


@dataclass
class _RequestOutput:
    outputs: list[_Out]
    prompt: str = ""


class _Tokenizer:
    chat_template = "{{ messages }}"

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        assert add_generation_prompt and not tokenize
        return "".join(f"<|{m['role']}|>{m['content']}" for m in messages) + "<|assistant|>"

    def encode(self, text, add_special_tokens=True):
        return text.split()


@dataclass
class _Recorder:
    llm_kwargs: list[dict] = field(default_factory=list)
    generate_calls: list[tuple] = field(default_factory=list)


def _stub_vllm(monkeypatch, *, structured: bool = True) -> _Recorder:
    rec = _Recorder()

    class LLM:
        def __init__(self, **kwargs):
            rec.llm_kwargs.append(kwargs)

        def get_tokenizer(self):
            return _Tokenizer()

        def generate(self, prompts, sampling_params, use_tqdm=True):
            rec.generate_calls.append((prompts, sampling_params, use_tqdm))
            return [_RequestOutput([_Out(f"row {sp.kwargs['seed']}\n", list(range(3 + i)))], p)
                    for i, (p, sp) in enumerate(zip(prompts, sampling_params))]

    class SamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    class _Constraint:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams, vllm.__version__ = LLM, SamplingParams, "0.0-stub"
    sp_mod = types.ModuleType("vllm.sampling_params")
    setattr(sp_mod, "StructuredOutputsParams" if structured else "GuidedDecodingParams", _Constraint)
    vllm.sampling_params = sp_mod
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sp_mod)
    return rec


def test_registered_and_lazy(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    backend = VLLMBackend("toy", ref=CHAT)  # nothing is imported or loaded yet
    assert backend.name == "vllm" and backend._llm is None
    with pytest.raises(ModelLoadError, match=r"vllm is not installed; pip install 'synllm-mlops\[vllm\]' on a CUDA machine"):
        backend.info()


def test_make_backend_knows_vllm():
    from synllm_mlops.generation import BACKENDS

    with pytest.raises(ModelLoadError, match="unknown model"):  # the backend name is accepted; the model is not
        make_backend("vllm", "no-such-model-alias")
    assert "vllm" in BACKENDS


def test_engine_arguments_and_info(monkeypatch):
    rec = _stub_vllm(monkeypatch)
    b = VLLMBackend("toy", ref=CHAT, dtype="bfloat16", tensor_parallel_size=2, seed=7, max_model_len=4096)
    info = b.info()
    b.info()
    assert rec.llm_kwargs == [{"model": "org/toy-chat", "dtype": "bfloat16", "tensor_parallel_size": 2, "seed": 7,
                               "gpu_memory_utilization": 0.9, "max_model_len": 4096}]  # created once
    assert (info.backend, info.device, info.dtype, info.hf_id) == ("vllm", "cuda", "bfloat16", "org/toy-chat")
    assert info.extra["tensor_parallel_size"] == "2" and info.extra["vllm_version"] == "0.0-stub"
    assert b.count_tokens("a b c") == 3


def test_requests_one_per_sequence_with_chat_template_and_regex(monkeypatch):
    rec = _stub_vllm(monkeypatch)
    b = VLLMBackend("toy", ref=CHAT)
    params = GenerationParams(temperature=0.7, top_p=0.9, top_k=0, repetition_penalty=1.1, batch_size=3)
    res = b.generate(PROMPT, 3, params, regex=r"(\d+\n){2}", max_new_tokens=50, seed=5)
    (prompts, sps, use_tqdm), = rec.generate_calls
    assert prompts == ["<|system|>You write CSV rows.<|user|>Write 2 rows.<|assistant|>"] * 3 and use_tqdm is False
    seeds = [sp.kwargs["seed"] for sp in sps]
    assert len(set(seeds)) == 3 and seeds[1] == seeds[0] + 1
    kw = sps[0].kwargs
    assert {k: kw[k] for k in ("n", "temperature", "top_p", "top_k", "repetition_penalty", "max_tokens")} == \
        {"n": 1, "temperature": 0.7, "top_p": 0.9, "top_k": -1, "repetition_penalty": 1.1, "max_tokens": 50}
    assert kw["structured_outputs"].kwargs == {"regex": r"(\d+\n){2}"} and "guided_decoding" not in kw
    # results: only the generated text, token counts from token_ids
    assert [c.text for c in res.completions] == [f"row {s}\n" for s in seeds]
    assert [c.n_tokens for c in res.completions] == [3, 4, 5] and res.n_tokens == 12


def test_older_vllm_uses_guided_decoding_and_completion_models_get_plain_text(monkeypatch):
    rec = _stub_vllm(monkeypatch, structured=False)
    b = VLLMBackend("toy", ref=BASE)
    b.generate(PROMPT, 2, GenerationParams(top_k=40, batch_size=2), regex="x+", max_new_tokens=9, seed=0)
    (prompts, sps, _), = rec.generate_calls
    assert prompts[0] == "You write CSV rows.\n\nWrite 2 rows.\n\nCSV rows:\n"
    assert sps[0].kwargs["guided_decoding"].kwargs == {"regex": "x+"} and sps[0].kwargs["top_k"] == 40


def test_unconstrained_requests_carry_no_constraint(monkeypatch):
    rec = _stub_vllm(monkeypatch)
    b = VLLMBackend("toy", ref=CHAT)
    b.generate(PROMPT, 1, GenerationParams(batch_size=1), regex=None, max_new_tokens=9, seed=0)
    kw = rec.generate_calls[0][1][0].kwargs
    assert "structured_outputs" not in kw and "guided_decoding" not in kw


def test_batches_split_by_batch_size(monkeypatch):
    rec = _stub_vllm(monkeypatch)
    res = VLLMBackend("toy", ref=CHAT).generate(PROMPT, 5, GenerationParams(batch_size=2), regex=None,
                                                max_new_tokens=9, seed=1)
    assert [len(c[0]) for c in rec.generate_calls] == [2, 2, 1] and len(res.completions) == 5


def test_close_frees_the_engine_and_reloads_on_demand(monkeypatch):
    rec = _stub_vllm(monkeypatch)
    b = VLLMBackend("toy", ref=CHAT)
    b.info()
    b.close()
    assert b._llm is None
    b.info()
    assert len(rec.llm_kwargs) == 2
