"""Release levels: what each level releases, exactly and under DP, and what it costs."""

import hashlib
import json

import numpy as np
import pytest

from synllm_mlops.errors import ConfigError
from synllm_mlops.release import (
    ALL_STATS,
    RELEASE_LEVELS,
    CalibrationTargets,
    Release,
    level_parts,
    make_release,
    release_plan,
)

# sha256 of release/release.json of the default run before release levels existed (cirrhosis, seed 0, clin_rule,
# every statistic, exact, before the k-floor): the `pairs` level must publish exactly that
OLD_DEFAULT_RELEASE = "dea70060e96da1d44bbe71f6b220a17a4a90dc16e980dc816848fbbc9e0b802b"
OLD_DEFAULT_PROMPT = "e27fe410614d55e0d248810be699c64ba25dd5ef3043d9c17eb726f6dfbaed5b"


def test_each_level_releases_its_pair_tables_and_statistic_families(cirrhosis):
    spec = cirrhosis[0]
    t = spec.column_names.index("Status")
    parts = {lv: level_parts(spec, lv) for lv in RELEASE_LEVELS}
    assert [len(p.pairs) for p in parts.values()] == [0, 0, 18, 171]
    assert all(t in pair for pair in parts["target"].pairs)  # 18 target tables, none of the 153 feature pairs
    assert [p.targets for p in parts.values()] == [False, True, True, True]
    assert parts["marginals"].allowed_statistics(ALL_STATS) == ("moments", "quartiles", "frequencies", "missing")
    assert parts["target"].allowed_statistics(ALL_STATS)[-1] == "target_differences"
    assert parts["pairs"].allowed_statistics(ALL_STATS) == ALL_STATS
    assert parts["none"].allowed_statistics(ALL_STATS) is None
    with pytest.raises(ConfigError, match="unknown release_level 'all'; choose one of: none, marginals, target, pairs"):
        level_parts(spec, "all")


def test_the_exact_release_per_level(cirrhosis):
    spec, _, split = cirrhosis
    r = {lv: make_release(spec, split.train, release_level=lv) for lv in RELEASE_LEVELS}
    assert r["none"].statistics is None and r["none"].targets is None and r["none"].level == "none"
    assert [len(r[lv].targets.released_pairs) for lv in ("marginals", "target", "pairs")] == [0, 18, 171]
    assert "correlation" not in r["target"].statistics.lower() and "By Status:" in r["target"].statistics
    assert "correlation" not in r["marginals"].statistics.lower() and "By Status" not in r["marginals"].statistics
    assert "Strongest correlations (Spearman):" in r["pairs"].statistics
    # an unreleased pair is the product of the released marginals; a released one is not
    tg = r["target"].targets
    a, b = spec.column_names.index("Bilirubin"), spec.column_names.index("Albumin")
    mi = np.bincount(tg.coarse[a], weights=tg.marginals[a], minlength=tg.pairs[(a, b)].shape[0])
    mj = np.bincount(tg.coarse[b], weights=tg.marginals[b], minlength=tg.pairs[(a, b)].shape[1])
    assert np.allclose(tg.pairs[(a, b)], np.outer(mi, mj))
    assert not np.allclose(r["pairs"].targets.pairs[(a, b)], np.outer(mi, mj))
    assert tg.meta["level"] == "target" and ["N_Days", "Status"] in tg.meta["released_pairs"]


def test_pairs_is_the_release_of_before_levels_byte_for_byte(monkeypatch):
    import numpy as np

    from synllm_mlops.config import RunConfig
    from synllm_mlops.pipeline import prepare
    from synllm_mlops.release import _release, _stats

    # the k-floor of issue 22 (MIN_CELL, rounded n) switched off: nothing else may differ from before levels
    monkeypatch.setattr(_release, "MIN_CELL", 0)
    monkeypatch.setattr(_stats, "_small", lambda count: False)
    monkeypatch.setattr(_stats, "public_count", lambda n: n)
    monkeypatch.setattr(_stats, "floor_counts", lambda c: np.clip(np.asarray(c, dtype=float), 0, None))
    prep = prepare(RunConfig(release_level="pairs", dp_epsilon="none"))
    d = json.loads(prep.release.to_json())
    assert d["options"].pop("release_level") == "pairs"
    assert d["targets"]["meta"].pop("level") == "pairs" and len(d["targets"]["meta"].pop("released_pairs")) == 171
    assert hashlib.sha256(json.dumps(d, indent=1).encode()).hexdigest() == OLD_DEFAULT_RELEASE
    assert hashlib.sha256(prep.prompt.user.encode()).hexdigest() == OLD_DEFAULT_PROMPT


def test_the_default_run_releases_the_target_level_and_its_prompt_has_no_correlations():
    from synllm_mlops.config import RunConfig
    from synllm_mlops.pipeline import prepare

    prep = prepare(RunConfig())
    assert prep.release.level == "target" and prep.targets.level == "target"
    assert "correlation" not in prep.prompt.user.lower() and "By Status:" in prep.prompt.user


def test_the_dp_ledger_charges_each_level_for_what_it_releases(cirrhosis):
    spec, _, split = cirrhosis
    eps = {}
    for lv in RELEASE_LEVELS:
        r = make_release(spec, split.train, dp_epsilon=2.0, release_level=lv)
        labels = [e["release"] for e in r.ledger["releases"]]
        assert labels == [p.label for p in release_plan(spec, release_level=lv)]
        eps[lv] = {e["release"]: e["epsilon"] for e in r.ledger["releases"]}
        if lv != "none":
            assert r.ledger["spent"] == pytest.approx(2.0)
    assert [len(e) for e in eps.values()] == [0, 38, 67, 275]
    tables = [k for k in eps["pairs"] if k.startswith("calibration:table:")]
    assert len(tables) == 171 and "calibration:table:BilirubinxAlbumin" in tables  # pairs: every coarse table, charged
    assert not any(k.startswith(("calibration:table:", "table:")) for k in eps["marginals"])
    assert "table:N_DaysxAge" not in eps["target"] and "table:StatusxAge" in eps["target"]
    # fewer releases, more epsilon each (the planner splits a part between families, then equally within one)
    assert eps["marginals"]["histogram:Age"] > eps["target"]["histogram:Age"] > eps["pairs"]["histogram:Age"]
    label = "calibration:histogram:Age"
    assert eps["marginals"][label] == pytest.approx(2 * eps["target"][label]) == pytest.approx(2 * eps["pairs"][label])
    label = "calibration:table:N_DaysxStatus"
    assert eps["target"][label] == pytest.approx(171 / 18 * eps["pairs"][label])


def test_levels_round_trip_through_the_artifact(cirrhosis):
    spec, _, split = cirrhosis
    for eps in (None, 1.0):
        r = make_release(spec, split.train, dp_epsilon=eps, release_level="target")
        back = Release.from_json(r.to_json())
        assert back.to_json() == r.to_json() and back.level == "target"
        assert back.targets.released_pairs == r.targets.released_pairs and len(back.targets.released_pairs) == 18
    old = json.loads(make_release(spec, split.train, release_level="pairs").to_json())
    del old["options"]["release_level"], old["targets"]["meta"]["level"], old["targets"]["meta"]["released_pairs"]
    before = Release.from_json(json.dumps(old))  # an artifact logged before levels: every pair was released
    assert before.level == "pairs" and before.targets.level is None and len(before.targets.released_pairs) == 171


def test_from_table_at_a_level_only_keeps_the_released_tables():
    import pandas as pd

    from synllm_mlops.spec import DatasetSpec

    spec = DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
        {"name": "y", "type": "categorical", "categories": ["0", "1"]},
        {"name": "g", "type": "categorical", "categories": ["a", "b"]},
        {"name": "h", "type": "categorical", "categories": ["u", "v"]}]})
    df = pd.DataFrame({"y": ["0", "0", "1", "1"], "g": ["a", "b", "a", "b"], "h": ["u", "v", "u", "v"]})  # g = h
    full = CalibrationTargets.from_table(df, spec, shrinkage=0)
    target = CalibrationTargets.from_table(df, spec, shrinkage=0, level="target")
    assert np.allclose(full.pairs[(1, 2)], [[0.5, 0], [0, 0.5]])
    assert np.allclose(target.pairs[(1, 2)], 0.25) and np.allclose(target.pairs[(0, 1)], full.pairs[(0, 1)])
    assert target.released_pairs == {(0, 1), (0, 2)} and full.released_pairs == {(0, 1), (0, 2), (1, 2)}
