"""Resuming a study draws new points: the sampler is seeded from (sampler_seed, trials already in the study)."""

from __future__ import annotations

import pytest

from synllm_mlops.tuning import TuneConfig, tune
from synllm_mlops.tuning._study import resume_seed


def test_resume_seed_depends_on_both_numbers():
    seeds = {resume_seed(s, n) for s in range(4) for n in range(4)}
    assert len(seeds) == 16 and resume_seed(3, 2) == resume_seed(3, 2)


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_resumed_study_does_not_repeat_earlier_trials(mlflow_store, tmp_path, fast_eval, fake_factory, sampler):
    # TPE with 10 startup trials: every trial here is one of its seeded random draws, as in the first
    # minutes of a real study; re-seeding with the bare sampler_seed repeated them exactly
    cfg = TuneConfig.build(backend="fake", model="fake", n_rows=6, batch_size=4, storage=str(tmp_path / "o.sqlite3"),
                           study_name="r", sampler=sampler, sampler_seed=7, n_startup_trials=10, n_trials=3,
                           register_champion=False, strategies="featdesc,statguide,clin_rule")
    first = tune(cfg, backend_factory=fake_factory(), progress=False)
    res = tune(cfg, backend_factory=fake_factory(), progress=False)  # same command again: a resume
    trials = res.study.trials
    assert [t.number for t in trials] == list(range(6))
    earlier = [tuple(sorted(t.params.items())) for t in trials[:3]]
    later = [tuple(sorted(t.params.items())) for t in trials[3:]]
    assert not set(earlier) & set(later), (earlier, later)
    # and the run says which seed it used
    import mlflow

    tags = [mlflow.get_run(r).data.tags["optuna.sampler_seed_derived"] for r in (first.run_id, res.run_id)]
    assert tags == [str(resume_seed(7, 0)), str(resume_seed(7, 3))]
