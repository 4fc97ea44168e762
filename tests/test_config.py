"""Run settings: one definition per field, flat or nested input, precedence defaults < --config < flags."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from synllm_mlops import cli as cli_module
from synllm_mlops.config import RunConfig
from synllm_mlops.errors import ConfigError
from synllm_mlops.generation import GenerationParams, derive_seed
from synllm_mlops.prompts import PromptOptions


def test_fields_are_defined_once_and_reachable_flat():
    flat = RunConfig.flat_fields()
    assert set(GenerationParams.model_fields) <= set(flat) and set(PromptOptions.model_fields) <= set(flat)
    cfg = RunConfig.build(temperature=0.5, n_examples=3, n_rows=7)
    assert cfg.generation.temperature == 0.5 and cfg.prompt.n_examples == 3
    assert RunConfig.build(**cfg.flat_params()) == cfg
    assert RunConfig.model_validate_json(cfg.model_dump_json()) == cfg


def test_flat_params_keep_the_logged_names():
    p = RunConfig().flat_params()
    for k in ("dataset", "strategy", "model", "seed", "n_rows", "temperature", "top_p", "batch_size", "statistics",
              "max_rules", "holdout_fraction"):
        assert k in p
    assert isinstance(p["statistics"], str) and "," in p["statistics"]


def test_limits_are_enforced_with_the_field_named():
    with pytest.raises(ConfigError, match=r"generation.temperature: Input should be greater than 0 \(got -0.1\)"):
        RunConfig.build(temperature=-0.1)
    with pytest.raises(ConfigError, match="unknown key|Extra inputs"):
        RunConfig.build(temprature=0.5)


def _capture(monkeypatch) -> list[RunConfig]:
    seen: list[RunConfig] = []

    def fake_run(cfg, *, evaluate):
        seen.append(cfg)
        raise ConfigError("stop here")
    import synllm_mlops.workflow as workflow

    monkeypatch.setattr(workflow, "run_generation", fake_run)
    return seen


def test_precedence_defaults_then_config_file_then_explicit_flags(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    yml = tmp_path / "run.yaml"
    yml.write_text("n_rows: 30\ntemperature: 0.5\ngeneration:\n  top_p: 0.8\nprompt:\n  max_rules: 2\n")
    res = CliRunner().invoke(cli_module.cli, ["generate", "--config", str(yml), "--temperature", "0.7",
                                              "--holdout-fraction", "0.3"])
    assert res.exit_code == 2 and "stop here" in res.output
    cfg = seen[0]
    assert cfg.n_rows == 30 and cfg.generation.top_p == 0.8 and cfg.prompt.max_rules == 2  # from the file
    assert cfg.generation.temperature == 0.7 and cfg.holdout_fraction == 0.3  # explicit flags win
    assert cfg.generation.batch_size == 16 and cfg.seed == 0  # defaults where nobody said anything


def test_unset_flags_are_not_forwarded_and_mlflow_renderings_are_accepted(monkeypatch):
    seen = _capture(monkeypatch)
    CliRunner().invoke(cli_module.cli, ["main", "--n-rows", "50.0", "--max-rules", "", "--constrained", "false",
                                        "--statistics", "moments,quartiles"])
    cfg = seen[0]
    assert cfg.n_rows == 50 and cfg.prompt.max_rules is None and cfg.constrained is False
    assert cfg.prompt.statistics == ("moments", "quartiles") and cfg == RunConfig.build(
        n_rows=50, constrained=False, statistics="moments,quartiles")


def test_a_missing_config_file_is_a_user_error(monkeypatch):
    _capture(monkeypatch)
    res = CliRunner().invoke(cli_module.cli, ["main", "--config", "no/such.yaml"])
    assert res.exit_code == 2 and "config file 'no/such.yaml' does not exist; fix: pass --config" in res.output


def test_derived_seeds_fit_torch_and_differ_by_round():
    seeds = [derive_seed(s, r) for s in range(3) for r in range(50)]
    assert len(set(seeds)) == len(seeds) and all(0 <= s < 2**63 for s in seeds)
    assert derive_seed(1, 2) == derive_seed(1, 2) and isinstance(derive_seed(0), int)
    assert np.random.default_rng(derive_seed(0, 1)).random() != np.random.default_rng(derive_seed(0, 2)).random()


def test_importing_the_package_has_no_side_effects():
    code = ("import os, sys, warnings, numpy, pandas, scipy.stats, pydantic, click, yaml, tqdm; "  # their own filters
            "before = dict(os.environ); n = len(warnings.filters); "
            "import synllm_mlops.cli, synllm_mlops.tracking, synllm_mlops.tuning, synllm_mlops.compare; "
            "assert dict(os.environ) == before, 'environment changed'; assert len(warnings.filters) == n, 'filters'; "
            "assert 'mlflow' not in sys.modules, 'mlflow imported'; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("value", ["2.9", 2.9, "-0.5", -0.5, "1e3", "many"])
def test_an_integer_setting_is_never_truncated(value):
    with pytest.raises(ConfigError, match=r"n_rows: not an integer \(got .*\); fix: set n_rows \(--n-rows\) to a whole "
                                          r"number >= 1 and <= 1000000"):
        RunConfig.build(n_rows=value)


@pytest.mark.parametrize("value", ["200.0", 200.0, "200", 200, np.int64(200)])
def test_mlflow_renderings_of_an_integer_are_that_integer(value):
    assert RunConfig.build(n_rows=value).n_rows == 200


def test_seeds_fit_numpy_and_scikit_learn():
    assert RunConfig.build(seed=2**32 - 1).seed == 2**32 - 1
    for bad in (2**32, -1):
        with pytest.raises(ConfigError, match=rf"seed: .*\(got {bad}\); fix: .*a whole number >= 0 and <= 4294967295"):
            RunConfig.build(seed=bad)


def test_a_config_error_is_one_line_with_numbers_as_written():
    from synllm_mlops.errors import show

    with pytest.raises(ConfigError) as e:
        RunConfig.build(n_rows=np.int64(0), temperature=np.float64(-1.5), calibration="bogus")
    text = str(e.value)
    assert "\n" not in text and "np." not in text and "int64" not in text
    assert "n_rows: Input should be greater than or equal to 1 (got 0)" in text and "(got -1.5)" in text
    assert "(got 'bogus'); fix: set calibration (--calibration) to one of: none, select, steer, select+steer" in text
    assert [show(v, numeric_text_bare=True) for v in (np.int64(3), np.float64(0.5), "0.50", "x", True)] == ["3", "0.5", "0.50", "'x'", "true"]


def test_field_rule_reads_limits_through_optional():
    from synllm_mlops.config import EvaluateConfig, field_rule

    assert field_rule(EvaluateConfig.model_fields["seed"]) == "a whole number >= 0 and <= 4294967295"
    assert field_rule(RunConfig.flat_fields()["holdout_fraction"]) == "a number > 0 and < 1"
    assert field_rule(RunConfig.flat_fields()["constrained"]) == "true or false"


def test_cli_numbers_reach_the_field_as_written(monkeypatch):
    seen = _capture(monkeypatch)
    res = CliRunner().invoke(cli_module.cli, ["main", "--n-rows", "2.9"])
    assert res.exit_code == 2 and not seen and "(got 2.9)" in res.output  # refused, not truncated to 2
    res = CliRunner().invoke(cli_module.cli, ["main", "--seed", "7.0", "--temperature", "0.50"])
    assert seen[0].seed == 7 and seen[0].generation.temperature == 0.5


def test_release_level_none_refuses_what_needs_a_release():
    with pytest.raises(ConfigError, match=r"calibration='select\+steer' steers and selects on the released statistics, "
                       r"but release_level='none' releases none; fix: set calibration=none"):
        RunConfig.build(release_level="none")
    with pytest.raises(ConfigError, match="backend 'stats' samples the released calibration targets, but "
                       "release_level='none' releases none; fix: set release_level=marginals, target or pairs"):
        RunConfig.build(release_level="none", calibration="none", backend="stats")
    cfg = RunConfig.build(release_level="none", calibration="none")
    assert cfg.flat_params()["release_level"] == "none" and RunConfig().prompt.release_level == "target"


def test_release_level_is_a_cli_option_with_its_choices():
    from synllm_mlops.cli import cli

    out = CliRunner().invoke(cli, ["generate", "--help"]).output
    assert "--release-level" in out and "pairs (+ every pair table" in " ".join(out.split())
    bad = CliRunner().invoke(cli, ["generate", "--release-level", "all", "--backend", "fake"])
    assert bad.exit_code != 0 and "release_level (--release-level) to one of: none, marginals, target, pairs" in bad.output


# --- issue 22: private by default --------------------------------------------------------------------------------

def test_dp_is_the_default_and_none_is_the_explicit_non_private_choice_everywhere(tmp_path, monkeypatch):
    from synllm_mlops.compare import GridConfig
    from synllm_mlops.release import DEFAULT_EPSILON

    assert RunConfig().prompt.dp_epsilon == DEFAULT_EPSILON and RunConfig().private
    seen = _capture(monkeypatch)
    CliRunner().invoke(cli_module.cli, ["main", "--dp-epsilon", "none"])
    CliRunner().invoke(cli_module.cli, ["main", "--dp-epsilon", ""])  # how an MLproject passes its empty default
    yml = tmp_path / "run.yaml"
    yml.write_text("dp_epsilon: none\n")
    CliRunner().invoke(cli_module.cli, ["generate", "--config", str(yml)])
    assert [c.prompt.dp_epsilon for c in seen] == [None, DEFAULT_EPSILON, None]
    grid = GridConfig(name="g", models=["fake"], datasets=["cirrhosis"], strategies=["clin_rule", "seed_ex"],
                      backend="fake", overrides={"dp_epsilon": "none"})
    assert [c.config.prompt.dp_epsilon for c in grid.cells(digests=False)] == [None, None]
    default = GridConfig(name="g", models=["fake"], datasets=["cirrhosis"], strategies=["clin_rule", "seed_ex"])
    assert [c.config.prompt.dp_epsilon for c in default.cells(digests=False)] == [DEFAULT_EPSILON, None]
    # the logged param is the effective value, and rebuilds the same run
    assert RunConfig.build(dp_epsilon="none").flat_params()["dp_epsilon"] == "none"
    assert RunConfig().flat_params()["dp_epsilon"] == DEFAULT_EPSILON
    assert RunConfig.build(**RunConfig.build(dp_epsilon="none").flat_params()).prompt.dp_epsilon is None


def test_seed_ex_left_at_the_default_runs_non_private_and_an_explicit_epsilon_is_refused():
    from synllm_mlops.pipeline import prepare
    from synllm_mlops.release import DEFAULT_EPSILON

    cfg = RunConfig.build(strategy="seed_ex")
    assert cfg.prompt.dp_epsilon is None and not cfg.private and cfg.flat_params()["dp_epsilon"] == "none"
    with pytest.raises(ConfigError, match=r"seed_ex puts real rows in the prompt, so dp_epsilon=2 .*drop dp_epsilon"):
        prepare(RunConfig.build(strategy="seed_ex", dp_epsilon=2))
    # a tuning trial rebuilds its base with the search's strategy: a default stays a default, either way
    base = RunConfig.build(n_rows=8)
    assert RunConfig.build(**{**base.given_params(), "strategy": "seed_ex"}).prompt.dp_epsilon is None
    assert RunConfig.build(**{**cfg.given_params(), "strategy": "clin_rule"}).private
    # why not flat_params: the effective epsilon would come back explicit, and prepare would refuse the trial
    assert RunConfig.build(**{**base.flat_params(), "strategy": "seed_ex"}).prompt.dp_epsilon == DEFAULT_EPSILON


def test_a_bad_epsilon_names_none_in_its_fix():
    with pytest.raises(ConfigError, match=r"dp_epsilon \(--dp-epsilon\) to a number > 0 or none, or leave it out"):
        RunConfig.build(dp_epsilon="abc")
