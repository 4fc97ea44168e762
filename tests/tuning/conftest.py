"""Tuning fixtures: a fast, known-answer stand-in for evaluation, fake backends that fail on purpose.

The throwaway PostgreSQL (``postgres``) is in tests/conftest.py: the compare tests use it too.
"""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from synllm_mlops.generation._fake import FakeBackend


class StubEval:
    """Replaces ``evaluate_and_log``: scores are a hash of the synthetic table (deterministic, varied per trial).

    ``adherence`` is what every table scores on ``clinical/rule_adherence`` (to drive the constraint).
    """

    def __init__(self):
        self.adherence = 1.0
        self.calls = 0

    def __call__(self, split, synthetic, spec, seed, *, progress=True, context=None, log=True):
        from synllm_mlops import tracking

        self.calls += 1
        h = hashlib.sha256(synthetic.to_csv(index=False).encode()).digest()
        q, p = 0.2 + 0.6 * h[0] / 255, 0.2 + 0.6 * h[1] / 255
        metrics = {"score/quality": q, "score/privacy": p, "score/harmonic": 2 * q * p / (q + p),
                   "clinical/rule_adherence": self.adherence}
        if log:
            tracking.log_metrics(metrics)
        return SimpleNamespace(metrics=metrics, summary=lambda: None)  # no summary: the description omits scores


@pytest.fixture()
def fast_eval(monkeypatch):
    stub = StubEval()
    monkeypatch.setattr("synllm_mlops.workflow.evaluate_and_log", stub)
    return stub


class FailingBackend(FakeBackend):
    """Writes junk for the strategies in ``fail_on`` (-> no valid row -> GenerationError); Ctrl-C on call ``interrupt_at``."""

    def __init__(self, model="fake", *, spec, fail_on=(), interrupt_at=None):
        super().__init__(model, spec=spec)
        self.model, self.fail_on, self.interrupt_at, self.n, self.closed = model, set(fail_on), interrupt_at, 0, 0

    def close(self) -> None:
        self.closed += 1
        super().close()

    def _generate_batch(self, prompt, batch_size, params, regex, max_new_tokens, seed, guide=None):
        self.n += 1
        if self.interrupt_at is not None and self.n >= self.interrupt_at:
            raise KeyboardInterrupt
        if prompt.strategy in self.fail_on:
            self.garbage_rate = 1.0
        else:
            self.garbage_rate = 0.0
        return super()._generate_batch(prompt, batch_size, params, regex, max_new_tokens, seed)


@pytest.fixture()
def fake_factory(cirrhosis):
    spec = cirrhosis[0]
    built = []

    def make(**kw):
        def factory(model):
            b = FailingBackend(model, spec=spec, **kw)
            built.append(b)
            return b
        return factory
    make.built = built
    return make
