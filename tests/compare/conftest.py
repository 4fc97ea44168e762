"""Grid fixtures: a small fake-backend grid YAML and a fast stand-in for evaluation."""

from __future__ import annotations

import math

import pytest
import yaml


@pytest.fixture()
def grid_yaml(tmp_path):
    """Write a grid YAML (fake backend, 2 models x 2 strategies x cirrhosis x 2 seeds unless overridden)."""
    def write(**changes) -> str:
        cfg = {"name": "test-grid", "backend": "fake", "models": ["fake-a", "fake-b"],
               "strategies": ["featdesc", "clin_rule"], "datasets": ["cirrhosis"], "seeds": [0, 1], "n_rows": 8,
               "overrides": {"rows_per_completion": 4, "batch_size": 2}}
        cfg.update(changes)
        p = tmp_path / f"grid-{len(list(tmp_path.glob('grid-*.yaml')))}.yaml"
        p.write_text(yaml.safe_dump(cfg))
        return str(p)
    return write


@pytest.fixture()
def fast_eval(monkeypatch):
    """Replace the (slow, separately tested) evaluation by known metrics that depend on the cell.

    quality = 0.5 + 0.1 * seed, privacy = 0.8 (0.6 for seed_ex), so the leaderboard has known answers.
    """
    from synllm_mlops import tracking, workflow

    class _Result:
        def __init__(self, metrics):
            self.metrics = metrics

        def summary(self):  # no breakdowns: the run description omits the scores table
            return None

    def fake_evaluate_and_log(split, synthetic, spec, seed, *, progress=True, context=None, log=True):
        q = 0.5 + 0.1 * seed
        p = 0.8
        m = {"score/quality": q, "score/privacy": p, "score/harmonic": 2 * p * q / (p + q),
             "fidelity/column_shapes": math.nan}
        if log:
            tracking.log_metrics(m)
        return _Result(m)

    monkeypatch.setattr(workflow, "evaluate_and_log", fake_evaluate_and_log)
