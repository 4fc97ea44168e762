"""The served generator in-process (a registered champion on the fake backend, loaded with ``mlflow.pyfunc``):
state built once per loaded model, calls concurrent where the backend allows, rows that depend on the seed alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from _served_api import register_champion

from synllm_mlops.generation import GenerationBackend
from synllm_mlops.generation._fake import FakeBackend

# sizes and seeds of 8 clients' calls (a round draws 16 rows: batch 4 x 4 rows), one call of two requests
CALLS = [{"n_rows": 5, "seed": 1}, {"n_rows": 30, "seed": 2}, {"n_rows": 1, "seed": 3}, {"n_rows": 45, "seed": 1},
         [{"n_rows": 3, "seed": 7}, {"n_rows": 20, "seed": 8}], {"n_rows": 16, "seed": 2**32 - 1}, {"n_rows": 2},
         {"n_rows": 33, "seed": 40}]


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    """A steered clin_rule champion for cirrhosis on the fake backend, registered once for this module."""
    return register_champion(tmp_path_factory.mktemp("champion"), backend="fake", model="fake")


@pytest.fixture()
def load(champion, monkeypatch):
    """Loads the champion afresh (a new ``load_context``) and returns its python model."""
    import mlflow

    monkeypatch.setenv("SYNLLM_GUARD_KEY_DIR", champion["SYNLLM_GUARD_KEY_DIR"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion["MLFLOW_TRACKING_URI"])
    mlflow.set_tracking_uri(champion["MLFLOW_TRACKING_URI"])
    yield lambda: mlflow.pyfunc.load_model(champion["uri"]).unwrap_python_model()
    mlflow.set_tracking_uri(None)


def _csv(model, call) -> str:
    return model.predict(None, call).to_csv(index=False)


def test_calls_reuse_the_models_guide_and_give_a_fresh_models_rows(load, monkeypatch):
    """The rule guide (and its verdict caches) is built once per loaded model; each call steers afresh."""
    seen = []
    generate = GenerationBackend.generate

    def recording(self, *args, guide=None, **kwargs):
        seen.append(guide)
        return generate(self, *args, guide=guide, **kwargs)

    monkeypatch.setattr(GenerationBackend, "generate", recording)
    model = load()
    assert model.guide is not None
    first = _csv(model, {"n_rows": 30, "seed": 5})
    n_first = len(seen)
    second = _csv(model, {"n_rows": 30, "seed": 6})
    assert n_first >= 2 and len(seen) > n_first  # several rounds per call
    assert all(g.caches is model.guide.caches for g in seen)  # the verdict caches outlive the call
    steering = {id(g.steering) for g in seen}
    assert len(steering) == 2 and None not in steering  # one Steering (running counts) per call
    assert {id(g.steering) for g in seen[:n_first]} != {id(g.steering) for g in seen[n_first:]}
    assert model.guide.steering is None  # the model's guide holds no call's counts
    fresh = load()
    assert _csv(fresh, {"n_rows": 30, "seed": 6}) == second  # the second call's rows are a fresh model's
    assert _csv(fresh, {"n_rows": 30, "seed": 5}) == first


def _count_overlap(monkeypatch) -> dict[str, int]:
    """Make each fake batch take 20 ms (sleeping, as a device would) and count the batches in flight at once."""
    batch = FakeBackend._generate_batch
    state, lock = {"now": 0, "max": 0}, threading.Lock()

    def slow(self, *args, **kwargs):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            time.sleep(0.02)
            return batch(self, *args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(FakeBackend, "_generate_batch", slow)
    return state


@pytest.mark.parametrize("safe", [True, False], ids=["concurrent-safe", "serialised"])
def test_8_concurrent_calls_give_the_serial_calls_rows(load, monkeypatch, safe):
    """8 clients at once get byte for byte what each gets alone; only a backend not concurrent_safe is serialised."""
    monkeypatch.setattr(FakeBackend, "concurrent_safe", safe)
    overlap = _count_overlap(monkeypatch)
    model = load()
    serial = [_csv(model, c) for c in CALLS]
    assert overlap["max"] == 1
    with ThreadPoolExecutor(len(CALLS)) as pool:
        concurrent = list(pool.map(lambda c: _csv(model, c), CALLS))
    assert concurrent == serial
    assert len(set(serial)) == len(CALLS)  # the calls differ: the comparison can fail
    if safe:
        assert overlap["max"] > 1, "a concurrent_safe backend's calls never overlapped: a lock serialises them"
    else:
        assert overlap["max"] == 1, "a backend that is not concurrent_safe ran two batches at once"


class _JudgingFake(FakeBackend):
    """The fake backend, plus the hf backend's rule processor replayed over each completion, one character a token:
    ``judged`` records, per batch, the states whose verdicts the processor had to compute (its cache misses)."""

    VOCAB = "0123456789.,-\nABMNSYabdefghilmnorstuwy "

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.judged: list[int] = []

    def token_text(self, token: int) -> str:
        return self.VOCAB[token]

    def _generate_batch(self, prompt, batch_size, params, regex, max_new_tokens, seed, guide=None):
        import torch

        from synllm_mlops.constraints import RuleLogitsProcessor

        out = super()._generate_batch(prompt, batch_size, params, regex, max_new_tokens, seed, guide)
        if guide is not None:
            proc = RuleLogitsProcessor(guide, self.token_text, prompt_len=1, batch_size=batch_size, seed=seed)
            texts = [c.text for c in out]
            ids = [[0] + [self.VOCAB.index(ch) for ch in t] for t in texts]
            for step in range(1, max(map(len, ids)) + 1):
                seen = [row[:step] + [self.VOCAB.index("\n")] * max(0, step - len(row)) for row in ids]
                proc(torch.tensor(seen), torch.zeros(batch_size, len(self.VOCAB)))
            self.judged.append(proc.states)
        return out


def test_a_repeated_call_on_a_held_guide_judges_no_new_state():
    """As the served model does (one guide, kept): the same call again computes no verdict and gives the same rows."""
    from synllm_mlops.config import RunConfig
    from synllm_mlops.constraints import RowGuide
    from synllm_mlops.parsing import RowParser
    from synllm_mlops.pipeline import prepare, sample_rows

    cfg = RunConfig.build(dataset="breast_cancer", backend="fake", model="fake", n_rows=4, batch_size=2,
                          calibration="none", strategy="featdesc", rows_per_completion=1, seed=5)
    prep = prepare(cfg)
    backend = _JudgingFake(spec=prep.spec)
    held = RowGuide(prep.spec)  # breast_cancer: ordering rules between columns (mean <= worst)
    assert held.fields

    def call(guide):
        backend.judged.clear()
        s = sample_rows(backend, prep.prompt, prep.spec, cfg, RowParser(prep.spec), max_new_tokens=400, guide=guide)
        return s.pool.to_csv(index=False), sum(backend.judged)

    first, judged_first = call(held)
    again, judged_again = call(held)
    fresh, judged_fresh = call(None)  # a guide of its own, as every call had before
    assert judged_first > 0 and judged_fresh == judged_first
    assert judged_again == 0  # every state of the repeated call was judged by the first
    assert first == again == fresh


def test_the_served_guard_rejects_near_copies_of_real_rows(load):
    """Issue 22's attack on the served model: real rows with Age + 1 day passed a guard of exact copies only."""
    from synllm_mlops.parsing import NearCopyIndex, table_keys
    from synllm_mlops.prompts import format_rows
    from synllm_mlops.spec import load_data

    model = load()
    spec = model.spec
    real = load_data(spec)
    age = spec.column_names.index("Age")
    variants = []
    for line in format_rows(real.head(20), spec).splitlines():
        f = line.split(",")
        variants.append(",".join(f[:age] + [str(int(f[age]) + 1)] + f[age + 1:]))
    model.backend = FakeBackend(spec=spec, copy_rows=variants, copy_all=True)
    out = model.predict(None, {"n_rows": 10, "seed": 1})
    index = NearCopyIndex(table_keys(real, spec), spec)
    assert [k for k in table_keys(out[spec.column_names], spec) if index.near(k)] == []
    assert model.backend._copied == len(variants) and len(out) == 10  # every variant was offered, and refused


def _parents(steering, spec) -> set[tuple[str, str]]:
    return {(spec.column_names[i], spec.column_names[j]) for j, ps in enumerate(steering.parents) for i, _ in ps}


@pytest.mark.parametrize("level", ["target", "pairs"])
def test_the_served_model_steers_on_what_its_release_released(champion, load, monkeypatch, tmp_path, level):
    """The registered model loads the trial's release and its level: at target, Status is every field's only parent."""
    import mlflow

    if level != "target":  # the module's champion is at the default level, target: register one at another
        other = register_champion(tmp_path, backend="fake", model="fake", name="synllm-pairs", release_level=level)
        monkeypatch.setenv("SYNLLM_GUARD_KEY_DIR", other["SYNLLM_GUARD_KEY_DIR"])
        mlflow.set_tracking_uri(other["MLFLOW_TRACKING_URI"])
        model = mlflow.pyfunc.load_model(other["uri"]).unwrap_python_model()
    else:
        model = load()
    seen = []
    generate = GenerationBackend.generate

    def recording(self, *args, guide=None, **kwargs):
        seen.append(guide.steering)
        return generate(self, *args, guide=guide, **kwargs)

    monkeypatch.setattr(GenerationBackend, "generate", recording)
    _csv(model, {"n_rows": 4, "seed": 1})
    assert model.config.prompt.release_level == level and model.targets.level == level
    parents = _parents(seen[0], model.spec)
    features = {p for p in parents if "Status" not in p}
    assert parents and (not features if level == "target" else features)
