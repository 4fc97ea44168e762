"""The backend contract, one suite run against every backend (in the style of Optuna's sampler test suites).

* ``hf``: a tiny random-weight Llama built from a config, with SmolLM2's tokenizer (read from the GGUF);
* ``vllm``: with ``vllm`` replaced by a stub module (no GPU, no vLLM);
* ``stats`` (the no-LLM control: it samples a release, so its calls carry a steered guide);
* ``fake``.
Every backend must: load once and return itself; describe itself; render the prompt it continues;
return exactly ``n`` completions of new text in batches, reproducibly for a seed; validate its
arguments; free its model on ``close`` and load again when used; honour what it declares
(``supports_guide``: every row meets the hard rules; ``supports_steering``: at strength 1 every field
lands in its drawn bin) and refuse what it does not declare.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_vllm import _stub_vllm  # noqa: E402 - the stub vllm module of the vllm backend's own tests

from synllm_mlops.constraints import RowGuide, Steering, completion_regex  # noqa: E402
from synllm_mlops.errors import CapabilityError, ConfigError  # noqa: E402
from synllm_mlops.generation import (  # noqa: E402
    BatchResult,
    GenerationBackend,
    GenerationParams,
    ModelInfo,
    ModelRef,
    check_backend,
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


@pytest.fixture(params=["hf", "vllm", "stats", "fake"])
def backend(request, monkeypatch) -> GenerationBackend:
    name = request.param
    if name == "hf":
        d = request.getfixturevalue("tiny_hf_dir")
        return make_backend("hf", str(d), ref=ModelRef("tiny", str(d), local_dir=str(d), chat=True))
    if name == "vllm":
        _stub_vllm(monkeypatch)
        return make_backend("vllm", "toy", ref=ModelRef("toy-chat", "org/toy-chat", chat=True))
    return make_backend(name, name, spec=load_spec("cirrhosis"))


def _steered(spec):
    """A guide that steers ``spec``'s fields by its built-in release: what a backend that needs steering is given."""
    from synllm_mlops.release import make_release
    from synllm_mlops.spec import load_data

    return RowGuide.for_spec(spec, Steering(make_release(spec, load_data(spec), statistics=None).targets, 1.0))


def _own_guide(backend):
    return {"guide": _steered(load_spec("cirrhosis")), "regex": completion_regex(load_spec("cirrhosis"), 2)} \
        if backend.needs_steering else {"regex": None}


def _texts(backend, seed: int, n: int = 3, **kw) -> list[str]:
    kw = {**_own_guide(backend), **kw}
    return [c.text for c in backend.generate(PROMPT, n, PARAMS, max_new_tokens=8, seed=seed, **kw).completions]


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
    res = backend.generate(PROMPT, 5, PARAMS, max_new_tokens=8, seed=0, on_batch=batches.append, **_own_guide(backend))
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


def test_constrained_generation_takes_the_grammar(backend):
    spec = load_spec("breast_cancer")
    if backend.needs_steering:
        backend = make_backend(backend.name, backend.name, spec=spec)
    guide = _steered(spec) if backend.needs_steering else None
    res = backend.generate(PROMPT, 2, PARAMS, regex=completion_regex(spec, 1), max_new_tokens=4, seed=0, guide=guide)
    assert len(res.completions) == 2


def _rule_spec(rules=()):
    """Four short columns (a contract run writes whole rows in a few dozen tokens) and ``rules``."""
    from synllm_mlops.spec import DatasetSpec

    columns = [{"name": "y", "type": "categorical", "categories": ["0", "1"]},
               {"name": "a", "type": "numeric", "min": 0, "max": 50, "decimals": 1},
               {"name": "g", "type": "categorical", "categories": ["low", "high"]},
               {"name": "b", "type": "numeric", "min": 0, "max": 50, "decimals": 1}]
    return DatasetSpec.model_validate({"name": "contract", "target": "y", "columns": columns, "rules": list(rules)})


# no dead end: whatever a is, some b >= a is left (a dead end is the parser's, whatever the backend)
HARD = [{"id": "order", "kind": "ordering", "note": "n", "hard": True, "left": "a", "op": "<=", "right": "b"},
        {"id": "imply", "kind": "implication", "note": "n", "hard": True,
         "if": {"column": "a", "op": ">", "value": 20}, "then": {"column": "g", "op": "in", "value": ["high"]}}]


def _rows(backend, spec, guide, seed: int = 0, n: int = 4) -> list[list[str]]:
    """The complete rows ``backend`` writes for ``spec`` under the grammar and ``guide`` (3 rows per completion)."""
    if backend.needs_spec:  # the fake and the control write rows of the spec they were built for
        backend = make_backend(backend.name, backend.name, spec=spec)
    res = backend.generate(PROMPT, n, PARAMS, regex=completion_regex(spec, 3), max_new_tokens=120, seed=seed,
                           guide=guide)
    rows = [line.split(",") for c in res.completions for line in c.text.splitlines()]
    return [r for r in rows if len(r) == len(spec.columns) and all(r)]


def test_a_backend_declaring_the_guide_keeps_every_row_inside_the_hard_rules(backend):
    import pandas as pd

    spec = _rule_spec(HARD)
    guide = RowGuide.for_spec(spec, Steering(_rule_targets(spec), 1.0) if backend.needs_steering else None)
    if not backend.supports_guide:
        with pytest.raises(CapabilityError, match=rf"backend '{backend.name}' does not enforce .*supports_guide=False"):
            backend.generate(PROMPT, 1, PARAMS, regex=completion_regex(spec, 1), max_new_tokens=4, seed=0, guide=guide)
        with pytest.raises(CapabilityError, match="fix: use backend 'hf'"):
            check_backend(backend.name, guide=True)
        return
    rows = _rows(backend, spec, guide)
    assert len(rows) >= 6  # whole rows were written, so the check below has something to judge
    table = pd.DataFrame(rows, columns=spec.column_names).astype({"a": float, "b": float})
    broken = {r.id: int(r.violations(table).sum()) for r in spec.rules}
    assert broken == {"order": 0, "imply": 0}, table


def _rule_targets(spec):
    """Released targets of a small frame of ``_rule_spec``'s columns."""
    import numpy as np
    import pandas as pd

    from synllm_mlops.release import CalibrationTargets

    frame = pd.DataFrame({"y": ["0", "1"] * 50, "a": np.linspace(0, 50, 100), "g": ["low", "high"] * 50,
                          "b": np.linspace(0, 50, 100)})
    return CalibrationTargets.from_table(frame, spec, n_bins=4)


class _FixedBins(Steering):
    """Steering that always draws the same admissible bin of a field (``pick[j]``): where each field must land."""

    pick: list[int] = []

    def draw(self, j, written, rng, allowed=None):
        return next(k for k in (self.pick[j], *range(len(allowed))) if allowed is None or allowed[k])


def test_a_backend_declaring_steering_lands_every_field_in_its_drawn_bin(backend):
    spec = _rule_spec()
    steering = _FixedBins(_rule_targets(spec), 1.0)
    steering.pick = [1, 2, 0, 3]
    guide = RowGuide.for_spec(spec, steering)
    if not backend.supports_steering:
        with pytest.raises(CapabilityError, match=rf"backend '{backend.name}' cannot steer .*supports_steering=False"):
            backend.generate(PROMPT, 1, PARAMS, regex=completion_regex(spec, 1), max_new_tokens=4, seed=0, guide=guide)
        with pytest.raises(CapabilityError, match="fix: use backend 'hf', or calibration=select"):
            check_backend(backend.name, steering=True)
        return
    rows = _rows(backend, spec, guide)
    assert len(rows) >= 6
    bins = steering.targets.bins
    landed = [[bins[j].code_text(v) for j, v in enumerate(r)] for r in rows]
    assert all(code == steering.pick for code in landed), landed


def test_a_guide_without_the_grammar_is_refused(backend):
    spec = _rule_spec(HARD)
    with pytest.raises(ConfigError, match="a rule guide narrows what the output grammar allows, so it needs regex="):
        backend.generate(PROMPT, 1, PARAMS, regex=None, max_new_tokens=4, seed=0, guide=RowGuide.for_spec(spec))


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
