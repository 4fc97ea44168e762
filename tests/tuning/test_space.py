"""Search-space mapping: conditional dimensions, bounds, subsets, and that every point is a valid RunConfig."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.errors import ConfigError
from synllm_mlops.release import ALL_STATS
from synllm_mlops.tuning import SearchSpace, hypervolume_2d, open_storage, redact

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _points(space: SearchSpace, n: int = 60):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1), directions=["maximize", "minimize"])
    out = []
    for _ in range(n):
        t = study.ask()
        kw = space.suggest(t)
        out.append((t.params, kw))
        study.tell(t, [0.5, 0.5])
    return out


def test_conditional_dimensions_exist_only_for_their_strategies():
    points = _points(SearchSpace(n_rules=7))
    seen = set()
    for params, kw in points:
        s = kw["strategy"]
        seen.add(s)
        assert ("n_examples" in params) == (s == "seed_ex")
        assert any(k.startswith("statistics.") for k in params) == (s in ("statguide", "clin_rule"))
        assert ("max_rules" in params) == (s == "clin_rule")
        assert "dp_epsilon" not in params and "model" not in params
        if s == "clin_rule":
            assert 0 <= kw["max_rules"] <= 7
        if "statistics" in kw:
            assert set(kw["statistics"]) <= set(ALL_STATS) and kw["statistics"]
        assert 0.3 <= kw["temperature"] <= 1.5 and kw["top_k"] in (0, 20, 50, 100)
        RunConfig.build(**kw, n_rows=5)  # every point is a valid configuration
    assert seen == {"seed_ex", "featdesc", "statguide", "clin_rule"}


def test_models_and_dp_are_dimensions_only_when_asked():
    points = _points(SearchSpace(strategies=("statguide",), models=("a/x", "b/y"), opt_in=("dp_epsilon",)), 20)
    for params, kw in points:
        assert "strategy" not in params and kw["strategy"] == "statguide"  # one strategy: fixed, not searched
        assert params["model"] in ("a/x", "b/y") and 0.1 <= params["dp_epsilon"] <= 10


def test_empty_statistics_subset_falls_back_to_all():
    class AllFalse:
        params: dict = {}

        def suggest_categorical(self, name, choices):
            return False if name.startswith("statistics.") else choices[0]

        def suggest_int(self, name, low, high):
            return low

        def suggest_float(self, name, low, high, log=False):
            return low

    kw = SearchSpace(strategies=("statguide",)).suggest(AllFalse())
    assert kw["statistics"] == ALL_STATS


def test_unknown_strategy_is_an_error_that_lists_the_choices():
    with pytest.raises(ConfigError, match=r"unknown strategies \['clinrule'\]; choose from: seed_ex, featdesc, statguide, clin_rule"):
        SearchSpace(strategies=("clinrule",))


def test_hypervolume_matches_optuna():
    from optuna._hypervolume import compute_hypervolume

    rng = np.random.default_rng(0)
    for _ in range(20):
        pts = rng.uniform(0, 1, size=(int(rng.integers(1, 12)), 2))
        ours = hypervolume_2d([tuple(p) for p in pts])
        ref = compute_hypervolume(np.c_[-pts[:, 0], pts[:, 1]], np.array([0.0, 1.0]))
        assert ours == pytest.approx(ref)
    assert hypervolume_2d([(0.5, 0.5), (0.4, 0.6)]) == pytest.approx(0.25)  # dominated point adds nothing
    assert hypervolume_2d([]) == 0.0


def test_storage_resolution_and_redaction(tmp_path):
    assert open_storage(str(tmp_path / "s.sqlite3")) == f"sqlite:///{tmp_path / 's.sqlite3'}"
    assert isinstance(open_storage(str(tmp_path / "s.journal")), optuna.storages.JournalStorage)
    assert redact("postgresql://bob:s3cr%40t@db:5432/optuna") == "postgresql://bob:***@db:5432/optuna"
    assert redact("postgresql://bob@db/optuna") == "postgresql://bob@db/optuna"


def test_calibration_dimensions_exist_only_for_their_modes():
    import optuna

    from synllm_mlops.config import RunConfig
    from synllm_mlops.tuning._space import SearchSpace

    space = SearchSpace(strategies=("featdesc",))
    seen = {}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(60):
        point = space.suggest(study.ask())
        RunConfig(**point)  # every point is a valid run configuration
        seen.setdefault(point["calibration"], set()).update(k for k in ("oversample", "steer_strength") if k in point)
    assert seen == {"none": set(), "select": {"oversample"}, "steer": {"steer_strength"},
                    "select+steer": {"oversample", "steer_strength"}}


def test_a_study_can_fix_or_restrict_the_calibration_mode():
    import optuna

    from synllm_mlops.errors import ConfigError
    from synllm_mlops.tuning._space import SearchSpace

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    fixed = SearchSpace(strategies=("featdesc",), calibrations=("steer",))
    trial = study.ask()
    point = fixed.suggest(trial)
    assert point["calibration"] == "steer" and "calibration" not in trial.params and "steer_strength" in point
    two = SearchSpace(strategies=("featdesc",), calibrations=("none", "select"))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))  # another space: its own study
    assert {two.suggest(study.ask())["calibration"] for _ in range(30)} == {"none", "select"}
    with pytest.raises(ConfigError, match="unknown calibrations \\['both'\\]"):
        SearchSpace(calibrations=("both",))


def test_the_typed_space_suggests_a_known_sequence():
    """Known answer (same seed, same parameter names and values, same order); recorded again when release_level
    became the first dimension (every later draw moved), and steer_strength's range became [0, 1]."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3), directions=["maximize", "minimize"])
    space, got, params = SearchSpace(n_rules=7), [], []
    for _ in range(6):
        t = study.ask()
        got.append(space.suggest(t))
        params.append(t.params)
        study.tell(t, [0.5, 0.5])
    assert got[0] == {"release_level": "marginals", "strategy": "featdesc", "rows_per_completion": 1,
                      "temperature": 0.8289718123807637, "top_p": 0.70896286326357, "top_k": 100,
                      "repetition_penalty": 1.1772588452249053, "calibration": "select", "oversample": 1.5670501635426375}
    assert got[1]["strategy"] == "seed_ex" and got[1]["n_examples"] == 10 and got[1]["release_level"] == "none"
    assert got[1]["calibration"] == "none" and "calibration" not in params[1]  # level none: fixed, not searched
    assert got[2]["statistics"] == ("moments", "frequencies", "missing", "correlations") and got[2]["max_rules"] == 5
    assert got[5]["calibration"] == "select+steer" and got[5]["steer_strength"] == pytest.approx(0.06467319799028326)


def test_choices_come_from_the_registries():
    from typing import get_args

    from synllm_mlops.calibration import CALIBRATION_SPACE, CalibrationMode
    from synllm_mlops.prompts import PROMPT_SPACE, STRATEGIES

    assert PROMPT_SPACE["strategy"].choices == tuple(STRATEGIES)
    assert CALIBRATION_SPACE["calibration"].choices == get_args(CalibrationMode)
    assert PROMPT_SPACE["statistics"].active_if.values == ("statguide", "clin_rule")  # the strategies that carry statistics
    assert PROMPT_SPACE["n_examples"].active_if.values == ("seed_ex",)  # the one that shows rows


def test_a_condition_names_an_existing_earlier_dimension_and_its_values():
    from synllm_mlops.searchspace import CategoricalDim
    from synllm_mlops.tuning._space import DECLARED

    names = list(DECLARED)
    for name, d in DECLARED.items():
        if d.active_if is not None:
            ref = d.active_if.name
            assert names.index(ref) < names.index(name), f"{name} depends on the later {ref}"
            assert isinstance(DECLARED[ref], CategoricalDim) and set(d.active_if.values) <= set(DECLARED[ref].choices)


def test_typed_dimensions_refuse_bad_bounds_and_unknown_opt_ins():
    from synllm_mlops.searchspace import Bound, CategoricalDim, FloatDim, IntDim

    with pytest.raises(ConfigError, match="low < high"):
        FloatDim(1.0, 0.5)
    with pytest.raises(ConfigError, match="low > 0 on a log scale"):
        FloatDim(0.0, 1.0, log=True)
    with pytest.raises(ConfigError, match="low <= high"):
        IntDim(3, 1)
    with pytest.raises(ConfigError, match="at least one choice"):
        CategoricalDim(())
    assert IntDim(0, Bound("n_rules")).resolve({"n_rules": 4}) == IntDim(0, 4)
    assert IntDim(1, Bound("n_rules")).resolve({"n_rules": 0}) is None  # empty: the dimension is dropped
    with pytest.raises(ConfigError, match=r"unknown optional dimensions \['dp_eps'\]; choose from: dp_epsilon"):
        SearchSpace(opt_in=("dp_eps",))


def test_a_spec_without_rules_still_searches_max_rules_0_and_one_model_is_fixed():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    t = study.ask()
    point = SearchSpace(strategies=("clin_rule",), n_rules=0, models=("only",)).suggest(t)
    assert point["max_rules"] == 0 and point["model"] == "only" and "model" not in t.params


def test_every_dimension_is_a_run_field_declared_once():
    from synllm_mlops.calibration import CALIBRATION_SPACE
    from synllm_mlops.generation import GENERATION_SPACE
    from synllm_mlops.prompts import PROMPT_SPACE
    from synllm_mlops.tuning._space import DECLARED

    assert len(DECLARED) == len(PROMPT_SPACE) + len(GENERATION_SPACE) + len(CALIBRATION_SPACE)  # no name twice
    assert set(DECLARED) <= set(RunConfig.flat_fields())  # a point is RunConfig keyword arguments


def test_release_level_is_searched_and_never_proposes_calibration_without_a_release():
    from synllm_mlops.tuning import TuneConfig

    points = _points(SearchSpace(n_rules=7), 120)
    levels = {kw["release_level"] for _, kw in points}
    assert levels == {"none", "marginals", "target", "pairs"}
    for params, kw in points:
        assert kw["release_level"] != "none" or (kw["calibration"] == "none" and "calibration" not in params)
        RunConfig.build(**kw, n_rows=5)  # never the invalid combination
    strengths = [kw["steer_strength"] for _, kw in points if "steer_strength" in kw]
    assert min(strengths) < 0.25 and all(0 <= s <= 1 for s in strengths)  # [0, 1]: the model may write every bin
    no_none = SearchSpace(calibrations=("select", "steer"))  # none is not a calibration here: level none is left out
    assert no_none.dims["release_level"].choices == ("marginals", "target", "pairs")
    with pytest.raises(ConfigError, match="release level none releases nothing to calibrate on.*add none to calibrations"):
        SearchSpace(calibrations=("select",), release_levels=("none",))
    assert TuneConfig(backend="stats", model="stats").searched_levels == ("marginals", "target", "pairs")
    assert TuneConfig(release_levels="target,pairs").searched_levels == ("target", "pairs")
    with pytest.raises(Exception, match=r"unknown release_levels \['all'\]"):
        TuneConfig(release_levels="all")


_MODEL_PARAMS = {"strategy", "rows_per_completion", "temperature", "top_p", "top_k", "repetition_penalty", "model"}


def test_the_control_arm_has_release_and_steering_dimensions_only():
    space = SearchSpace(models=("a/x", "b/y"), backends=("hf", "stats"), n_rules=7, opt_in=("dp_epsilon",))
    assert list(space.dims)[:3] == ["release_level", "calibration", "backend"]  # the arm needs a steered release
    arms = set()
    for params, kw in _points(space, 80):
        arms.add(kw["backend"])
        if kw["backend"] == "stats":
            assert kw["model"] == "stats" and not (_MODEL_PARAMS & set(params))
            assert not any(k.startswith("statistics.") for k in params) and "n_examples" not in params
            assert kw["calibration"] in ("steer", "select+steer") and kw["release_level"] != "none"
            assert {"release_level", "calibration", "steer_strength", "dp_epsilon"} <= set(params)
        else:
            assert kw["backend"] == "hf" and {"model", "temperature", "top_p", "top_k"} <= set(params)
        if kw["calibration"] in ("none", "select"):  # nothing steered for the control to sample: a model trial
            assert kw["backend"] == "hf" and "backend" not in params
        RunConfig.build(**kw, n_rows=5)
    assert arms == {"hf", "stats"}


def test_a_study_of_the_control_alone_searches_release_steering_and_dp():
    space = SearchSpace(models=("m",), backends=("stats",), opt_in=("dp_epsilon",))
    for params, kw in _points(space, 30):
        assert set(params) <= {"release_level", "calibration", "oversample", "steer_strength", "dp_epsilon"}
        assert kw["backend"] == "stats" and kw["model"] == "stats" and kw["release_level"] != "none"
        assert kw["calibration"] in ("steer", "select+steer")
    with pytest.raises(ConfigError, match=r"holds no steering mode; fix: search one of steer, select\+steer"):
        SearchSpace(backends=("stats",), calibrations=("none", "select"))
    with pytest.raises(ConfigError, match=r"holds no steering mode.*or leave stats out of backends"):
        SearchSpace(backends=("hf", "stats"), calibrations=("none", "select"))  # the arm could never be drawn
    with pytest.raises(ConfigError, match="names 2 language-model backends"):
        SearchSpace(backends=("hf", "vllm", "stats"))


def test_without_the_control_arm_the_space_is_unchanged():
    assert list(SearchSpace(backends=("hf",)).dims) == list(SearchSpace().dims)
    assert "backend" not in SearchSpace(backends=("hf",)).dims
