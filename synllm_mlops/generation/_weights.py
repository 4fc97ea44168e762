"""Model weights on disk shared by the backends: the embedded GGUF expanded once into a transformers directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from synllm_mlops.generation._catalog import ModelRef, cache_dir


def dequantized_dir(ref: ModelRef) -> Path:
    """Expand an embedded GGUF once into a transformers directory in the cache; reuse it afterwards."""
    gguf = ref.gguf_path()
    target = cache_dir() / "models" / f"{ref.alias}-{gguf.stat().st_size}"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype="float32")
    # save_pretrained refuses GGUF-quantized models; the weights are already plain fp32 tensors
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".partial-"))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        os.replace(tmp, target)  # atomic: a concurrent process sees either nothing or the whole directory
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():
            raise
    return target
