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


def _user_dataset(small_csv):
    """A user's spec YAML next to its CSV (the small hand-written table)."""
    from synllm_mlops.spec import infer_spec

    spec_path = small_csv.with_suffix(".yaml")
    spec_path.write_text(infer_spec(small_csv, name="mytable", target="outcome").to_yaml())
    return str(spec_path), str(small_csv)


def test_cell_identity_covers_the_spec_and_the_data(grid_yaml, small_csv):
    spec_path, csv_path = _user_dataset(small_csv)
    path = grid_yaml(datasets=["cirrhosis", {"name": spec_path, "data": csv_path}])
    before = {c.name: c.hash for c in load_grid(path).cells()}
    assert before == {c.name: c.hash for c in load_grid(path).cells()}  # stable
    mine = {n for n in before if "-mytable-" in n}
    assert len(mine) == len(before) / 2

    text = small_csv.read_text().splitlines()
    small_csv.write_text("\n".join(text[:-1]) + "\n")  # one row less
    edited = {c.name: c.hash for c in load_grid(path).cells()}
    assert {n for n in before if before[n] != edited[n]} == mine  # only the cells on the edited CSV

    spec = Path(spec_path)
    spec.write_text(spec.read_text().replace("description: Draft spec", "description: Edited draft spec"))
    respec = {c.name: c.hash for c in load_grid(path).cells()}
    assert {n for n in edited if edited[n] != respec[n]} == mine

    cell = next(c for c in load_grid(path).cells() if c.name in mine)
    from synllm_mlops.spec import data_digest, load_data, load_spec
    assert cell.data_digest == data_digest(load_data(load_spec(spec_path), csv_path))  # the pipeline's digest


def test_a_missing_csv_still_expands_its_cells_to_fail_in_their_own_runs(grid_yaml, tmp_path):
    cells = load_grid(grid_yaml(datasets=[{"name": "cirrhosis", "data": str(tmp_path / "gone.csv")}])).cells()
    assert {c.data_digest for c in cells} == {"error:DataError"}


def test_shards_partition_the_cells(grid_yaml):
    from synllm_mlops.compare._grid import in_shard, parse_shard

    cells = load_grid(grid_yaml(seeds=[0, 1, 2, 3, 4])).cells()
    shards = [[c.hash for c in cells if in_shard(c.hash, (k, 3))] for k in range(3)]
    assert sorted(h for s in shards for h in s) == sorted(c.hash for c in cells)  # every cell in exactly one
    assert all(shards)
    assert parse_shard("") is None and parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "1", "-1/2", "a/b", "1/0"):
        with pytest.raises(ConfigError, match=rf"shard must be k/n with 0 <= k < n .*got '{bad}'"):
            parse_shard(bad)


def test_release_level_axis_multiplies_the_cells_names_and_hashes_them():
    g = GridConfig(name="t", models=["m"], strategies=["featdesc"], datasets=["cirrhosis"], seeds=[0],
                   calibrations=["none", "select+steer"], release_levels=["none", "marginals", "target", "pairs"],
                   backend="fake")
    cells = g.cells()
    assert [(c.config.calibrate.calibration, c.config.prompt.release_level) for c in cells] == [
        ("none", "none"), ("none", "marginals"), ("none", "target"), ("none", "pairs"),
        ("select+steer", "marginals"), ("select+steer", "target"), ("select+steer", "pairs")]  # none: uncalibrated only
    assert [c.name for c in cells][:3] == ["m-cirrhosis-featdesc-none-none-s0", "m-cirrhosis-featdesc-none-marginals-s0",
                                           "m-cirrhosis-featdesc-none-s0"]
    assert cells[-1].name == "m-cirrhosis-featdesc-pairs-s0" and len({c.hash for c in cells}) == 7
    assert [c.config.prompt.release_level for c in GridConfig(name="t", models=["m"], datasets=["cirrhosis"],
                                                               backend="fake").cells()] == ["target"] * 4
    with pytest.raises(Exception, match="release level none releases nothing to calibrate on.*add none to calibrations"):
        GridConfig(name="t", models=["m"], datasets=["cirrhosis"], release_levels=["none"])
    with pytest.raises(Exception, match="release_level"):
        GridConfig(name="t", models=["m"], datasets=["cirrhosis"], overrides={"release_level": "pairs"})


def test_a_dataset_can_set_its_own_seeds(grid_yaml):
    cells = load_grid(grid_yaml(models=["m"], strategies=["featdesc"], seeds=[0, 1, 2],
                                datasets=["cirrhosis", {"name": "breast_cancer", "seeds": [7]}])).cells()
    assert [(c.config.dataset, c.config.seed) for c in cells] == [("cirrhosis", 0), ("cirrhosis", 1),
                                                                   ("cirrhosis", 2), ("breast_cancer", 7)]
    with pytest.raises(ConfigError, match=r"datasets.0.seeds: Value error, seeds must be distinct .*got \[1, 1\]"):
        load_grid(grid_yaml(datasets=[{"name": "cirrhosis", "seeds": [1, 1]}]))
