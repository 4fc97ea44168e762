"""Grid YAML loading, expansion, hashing and the errors users meet."""

from __future__ import annotations

from pathlib import Path

import pytest

from synllm_mlops.compare import GridConfig, cell_hash, load_grid
from synllm_mlops.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_expansion_and_overrides(grid_yaml):
    grid = load_grid(grid_yaml(datasets=["cirrhosis", {"name": "breast_cancer", "data": ""}], seeds=[0, 1, 2]))
    cells = grid.cells()
    assert len(cells) == 2 * 2 * 2 * 3
    assert len({c.hash for c in cells}) == len(cells)
    assert {c.config.generation.batch_size for c in cells} == {2} and {c.config.n_rows for c in cells} == {8}
    assert [c.config.model for c in cells[:12]] == ["fake-a"] * 12  # grouped by model: each model loads once
    assert cells[0].name == "fake-a-cirrhosis-featdesc-s0"


def test_a_dataset_can_set_its_own_row_count(grid_yaml):
    grid = load_grid(grid_yaml(datasets=["cirrhosis", {"name": "breast_cancer", "n_rows": 3}]))
    rows = {c.config.dataset: c.config.n_rows for c in grid.cells()}
    assert rows == {"cirrhosis": 8, "breast_cancer": 3}
    with pytest.raises(ConfigError, match="n_rows"):
        load_grid(grid_yaml(datasets=[{"name": "cirrhosis", "n_rows": 0}]))


def test_hash_is_stable_and_config_sensitive():
    from synllm_mlops.config import RunConfig

    a = RunConfig(n_rows=10, seed=1)
    assert cell_hash(a) == cell_hash(RunConfig(seed=1, n_rows=10))
    assert cell_hash(a) != cell_hash(RunConfig(n_rows=10, seed=1, temperature=0.5))


@pytest.mark.parametrize("change,expected", [
    ({"modles": ["x"]}, "modles: unknown key"),
    ({"strategies": ["clinrule"]}, "unknown strategies ['clinrule']; choose from: seed_ex"),
    ({"backend": "tgi"}, "backend: Input should be 'hf', 'vllm' or 'fake' (got 'tgi')"),
    ({"seeds": [0, 0]}, "seeds must be distinct"),
    ({"models": []}, "models: List should have at least 1 item"),
    ({"overrides": {"seed": 3}}, "overrides cannot set ['seed']"),
    ({"overrides": {"temprature": 0.5}}, "unknown RunConfig fields ['temprature']"),
    ({"overrides": {"temperature": -1}}, "temperature: Input should be greater than 0 (got -1)"),
    ({"datasets": [{"name": "cirrhosis", "path": "x.csv"}]},
     "datasets.0.path: unknown key (got 'x.csv'); allowed keys here: name, data"),
    ({"vllm": {"tp": 2}}, "vllm.tp: unknown key"),
])
def test_config_errors_name_key_value_and_fix(grid_yaml, change, expected):
    with pytest.raises(ConfigError) as e:
        load_grid(grid_yaml(**change))
    assert expected in str(e.value)


def test_missing_key_and_missing_file(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text("name: x\nmodels: [a]\n")
    with pytest.raises(ConfigError, match="datasets: required key is missing"):
        load_grid(p)
    with pytest.raises(ConfigError, match="does not exist; pass --config"):
        load_grid(tmp_path / "nope.yaml")
    p.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_grid(p)


def test_shipped_grids_load():
    paper = load_grid(ROOT / "experiments" / "paper_grid.yaml")
    assert paper.backend == "vllm" and paper.n_rows == 200 and paper.seeds == [0, 1, 2]
    assert {d.name for d in paper.datasets} == {"cirrhosis", "diabetes", "stroke"}
    assert len(paper.strategies) == 4
    cpu = load_grid(ROOT / "experiments" / "cpu_grid.yaml")
    assert cpu.backend == "hf" and "smollm2-135m" in cpu.models
    assert {d.name for d in cpu.datasets} == {"cirrhosis", "breast_cancer"}
    assert isinstance(cpu, GridConfig) and len(cpu.cells()) == len(cpu.models) * 4 * 2 * 3


def test_calibration_axis_multiplies_the_cells_and_names_non_default_modes():
    g = GridConfig(name="t", models=["m"], strategies=["featdesc"], datasets=["cirrhosis"], seeds=[0],
                   calibrations=["none", "select", "steer", "select+steer"], backend="fake")
    cells = g.cells()
    assert [c.config.calibrate.calibration for c in cells] == ["none", "select", "steer", "select+steer"]
    assert [c.name for c in cells] == ["m-cirrhosis-featdesc-none-s0", "m-cirrhosis-featdesc-select-s0",
                                       "m-cirrhosis-featdesc-steer-s0", "m-cirrhosis-featdesc-s0"]
    assert len({c.hash for c in cells}) == 4
    with pytest.raises(Exception, match="calibration"):
        GridConfig(name="t", models=["m"], datasets=["cirrhosis"], overrides={"calibration": "none"})
