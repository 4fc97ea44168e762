"""experiments/llm_value.yaml is the grid the README pre-registers, and its GPU form differs only in the models."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from synllm_mlops.compare import GridConfig

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> tuple[dict, GridConfig]:
    raw = yaml.safe_load((ROOT / "experiments" / name).read_text())
    return raw, GridConfig(**yaml.safe_load(yaml.safe_dump(raw)))


def test_the_grid_is_the_preregistered_one():
    raw, grid = _load("llm_value.yaml")
    assert raw["overrides"] == {"dp_epsilon": "none"}  # exact releases: the arms of one seed share one release
    assert {a["name"]: a["overrides"]["release_level"] for a in raw["arms"]} == {
        "A": "target", "B": "target", "C": "target", "D": "pairs"}
    cells = grid.cells(digests=False)
    count = Counter((c.arm, c.config.model, c.config.dataset) for c in cells)
    for model in ("smollm2-135m", "gemma3-270m"):
        for arm in "BC":
            assert count[arm, model, "cirrhosis"] == 10 and count[arm, model, "breast_cancer"] == 5
    for arm in "AD":  # the model-free arms: once per dataset x seed
        assert count[arm, "stats", "cirrhosis"] == 10 and count[arm, "stats", "breast_cancer"] == 5
    assert len(cells) == 2 * 2 * 15 + 2 * 15
    by_arm = {c.arm: c.config for c in cells}
    assert {c.config.strategy for c in cells} == {"featdesc"} and {c.config.n_rows for c in cells} == {300}
    assert by_arm["A"].backend == by_arm["D"].backend == "stats" and by_arm["B"].backend == "hf"
    assert by_arm["B"].calibrate.calibration == "select+steer" and by_arm["B"].calibrate.steer_strength == 0.5
    assert by_arm["C"].calibrate.steer_strength == 0.5 and by_arm["C"].prompt.scramble_names
    assert not by_arm["B"].prompt.scramble_names
    levels = {c.arm: c.config.flat_params()["release_level"] for c in cells}
    assert levels == {"A": "target", "B": "target", "C": "target", "D": "pairs"}
    assert {c.config.prompt.dp_epsilon for c in cells} == {None}


def test_the_gpu_form_changes_only_the_name_the_models_and_the_batch_size():
    cpu, _ = _load("llm_value.yaml")
    gpu, grid = _load("llm_value_gpu.yaml")
    assert gpu.pop("name") == "llm-value-gpu" and cpu.pop("name") == "llm-value"
    assert len(gpu.pop("models")) == 3 and cpu.pop("models") == ["smollm2-135m", "gemma3-270m"]
    assert gpu.pop("overrides") == {"dp_epsilon": "none", "batch_size": "auto"}
    cpu.pop("overrides")
    assert gpu == cpu
    assert {c.config.backend for c in grid.cells(digests=False)} == {"hf", "stats"}  # hf steers; vllm cannot
