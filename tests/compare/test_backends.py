"""The runner's default backends: built once per model, released when the grid moves to the next model."""

from __future__ import annotations

from synllm_mlops.compare import GridConfig
from synllm_mlops.compare._runner import _Backends
from synllm_mlops.generation._vllm import VLLMBackend


def _local_model(tmp_path, name: str) -> str:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text("{}")  # "available": a local directory with a config.json
    return str(d)


def test_vllm_settings_reach_the_backend_and_models_are_released(tmp_path, monkeypatch):
    a, b = _local_model(tmp_path, "model-a"), _local_model(tmp_path, "model-b")
    grid = GridConfig(name="g", models=[a, b], strategies=["clin_rule"], datasets=["cirrhosis"], seeds=[0, 1],
                      n_rows=4, backend="vllm", vllm={"tensor_parallel_size": 2, "dtype": "float16"})
    closed = []
    monkeypatch.setattr(VLLMBackend, "close", lambda self: closed.append(self.ref.alias))
    backends = _Backends(grid)
    cells = grid.cells()
    first = [backends(c.config) for c in cells[:2]]
    assert first[0] is first[1]  # one engine per model, shared by its cells
    assert isinstance(first[0], VLLMBackend)
    assert (first[0].tensor_parallel_size, first[0].dtype) == (2, "float16")
    assert first[0].ref.local_dir == a
    second = backends(cells[2].config)
    assert second is not first[0] and second.ref.local_dir == b
    assert closed == ["model-a"]  # the previous model was freed before the next one was built
    backends.release()
    assert closed == ["model-a", "model-b"]


def test_fake_backends_are_per_model_and_dataset():
    grid = GridConfig(name="g", models=["m"], strategies=["clin_rule"], datasets=["cirrhosis", "breast_cancer"],
                      n_rows=4, backend="fake")
    backends = _Backends(grid)
    c1, c2 = (c.config for c in grid.cells())
    assert backends(c1) is backends(c1)
    assert backends(c1).spec.name != backends(c2).spec.name
