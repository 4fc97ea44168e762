"""Confidence intervals and the leaderboard on known numbers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from synllm_mlops.compare import leaderboard, t_interval


def test_t_interval_known_answer():
    # mean 2, sd 1, n 3: t(0.975, 2) = 4.302653 -> half-width 4.302653 / sqrt(3) = 2.484138
    m, h = t_interval([1.0, 2.0, 3.0])
    assert m == pytest.approx(2.0)
    assert h == pytest.approx(2.484138, abs=1e-6)
    # n 2: t(0.975, 1) = 12.7062; values 0.4, 0.6 -> sd 0.141421, sem 0.1 -> 1.27062
    assert t_interval([0.4, 0.6])[1] == pytest.approx(1.270620, abs=1e-5)


def test_t_interval_edge_cases():
    assert t_interval([0.7]) == (0.7, pytest.approx(math.nan, nan_ok=True))
    assert all(math.isnan(x) for x in t_interval([]))
    assert t_interval([0.5, math.nan, 0.5]) == (0.5, 0.0)  # NaN dropped; no spread, zero width


def test_leaderboard_groups_and_ignores_failed_cells():
    cells = pd.DataFrame([
        {"model": "a", "strategy": "s", "dataset": "d", "status": "FINISHED", "score/quality": 0.4,
         "score/privacy": 0.9, "score/harmonic": 0.5, "gen/validity_rate": 1.0},
        {"model": "a", "strategy": "s", "dataset": "d", "status": "FINISHED", "score/quality": 0.6,
         "score/privacy": 0.9, "score/harmonic": 0.7, "gen/validity_rate": 1.0},
        {"model": "a", "strategy": "s", "dataset": "d", "status": "FAILED", "score/quality": math.nan,
         "score/privacy": math.nan, "score/harmonic": math.nan, "gen/validity_rate": math.nan},
        {"model": "b", "strategy": "s", "dataset": "d", "status": "FINISHED", "score/quality": 0.9,
         "score/privacy": 0.9, "score/harmonic": 0.9, "gen/validity_rate": 0.5},
    ])
    board = leaderboard(cells)
    assert list(board["model"]) == ["b", "a"]  # best harmonic first
    a = board.set_index("model").loc["a"]
    assert (a["n_cells"], a["n_failed"]) == (2, 1)
    assert a["score/quality_mean"] == pytest.approx(0.5)
    assert a["score/quality_ci95"] == pytest.approx(1.270620, abs=1e-5)
    assert a["score/privacy_ci95"] == pytest.approx(0.0)
    assert math.isnan(board.set_index("model").loc["b", "score/harmonic_ci95"])
