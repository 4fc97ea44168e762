"""The ``vllm`` backend: offline ``vllm.LLM`` on CUDA, for the study-size models.

vLLM is imported lazily (it is an optional extra that needs a CUDA machine). Each sequence is its
own request with its own seed, so a batch is reproducible and its sequences differ; the shared
prompt is served from vLLM's prefix cache. The regex constraint goes through structured outputs
(``StructuredOutputsParams``, vLLM >= 0.10.2) or, on older versions, ``GuidedDecodingParams``; the rule
guide and steering are not supported (they need a per-step logits processor over our own row tracker).
"""

from __future__ import annotations

import importlib

from synllm_mlops.constraints import RowGuide
from synllm_mlops.errors import ModelLoadError
from synllm_mlops.generation._backend import Completion, GenerationBackend, ModelInfo
from synllm_mlops.generation._catalog import ModelRef, resolve_model
from synllm_mlops.generation._params import GenerationParams
from synllm_mlops.generation._weights import dequantized_dir
from synllm_mlops.prompts import Prompt

INSTALL_HINT = "vllm is not installed; pip install 'synllm-mlops[vllm]' on a CUDA machine"


def import_vllm():
    """The ``vllm`` module, or a :class:`ModelLoadError` saying how to install it."""
    try:
        return importlib.import_module("vllm")
    except ImportError as e:
        raise ModelLoadError(f"{INSTALL_HINT} ({e})") from e


def regex_constraint(regex: str) -> dict[str, object]:
    """``SamplingParams`` keyword arguments that constrain the output to ``regex``, whatever the vLLM version."""
    sp = importlib.import_module("vllm.sampling_params")
    if hasattr(sp, "StructuredOutputsParams"):  # vLLM >= 0.10.2; guided_decoding was removed in 0.12
        return {"structured_outputs": sp.StructuredOutputsParams(regex=regex)}
    if hasattr(sp, "GuidedDecodingParams"):
        return {"guided_decoding": sp.GuidedDecodingParams(regex=regex)}
    raise ModelLoadError("this vllm version has neither StructuredOutputsParams nor GuidedDecodingParams; "
                         "pip install 'vllm>=0.11' for constrained decoding, or set constrained=false")


class VLLMBackend(GenerationBackend):
    """vLLM offline-inference backend.

    Args:
        model: catalog alias, Hugging Face id (already in the local HF cache) or local directory.
        dtype: ``auto``, ``bfloat16``, ``float16``, ...
        tensor_parallel_size: GPUs to shard the model over.
        gpu_memory_utilization: share of GPU memory vLLM may take.
        max_model_len: context length cap (``None``: the model's own).
        seed: engine seed (each request also carries its own).

    It takes the output grammar but neither the rule guide nor steering (``supports_guide`` and
    ``supports_steering`` are False: a run asking for them is refused before the model loads).
    """

    name = "vllm"

    def __init__(self, model: str, *, dtype: str = "auto", tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float = 0.9, max_model_len: int | None = None, seed: int = 0,
                 ref: ModelRef | None = None):
        self.ref = ref or resolve_model(model)
        self.dtype, self.tensor_parallel_size, self.seed = dtype, tensor_parallel_size, seed
        self.gpu_memory_utilization, self.max_model_len = gpu_memory_utilization, max_model_len
        self._llm = self._tok = self._version = None

    @classmethod
    def require(cls) -> None:
        import_vllm()

    def load(self) -> "VLLMBackend":
        if self._llm is not None:
            return self
        vllm = import_vllm()
        if self.ref.embedded:  # the GGUF expanded once to a transformers directory, shared with the hf backend
            path = str(dequantized_dir(self.ref))
        else:
            path = self.ref.local_dir or self.ref.hf_id
        kwargs = {"model": path, "dtype": self.dtype, "tensor_parallel_size": self.tensor_parallel_size,
                  "seed": self.seed, "gpu_memory_utilization": self.gpu_memory_utilization}
        if self.max_model_len:
            kwargs["max_model_len"] = self.max_model_len
        try:
            self._llm = vllm.LLM(**kwargs)
        except (OSError, ValueError, RuntimeError) as e:
            raise ModelLoadError(f"vllm could not load model {self.ref.alias!r} from {path}: {e}") from e
        self._tok = self._llm.get_tokenizer()
        self._version = str(getattr(vllm, "__version__", "unknown"))
        return self

    def close(self) -> None:
        """Free the engine (and its GPU memory) so that the next model of a grid fits."""
        if self._llm is None:
            return
        self._llm = self._tok = None
        import gc

        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def info(self) -> ModelInfo:
        self.load()
        revision = f"gguf:{self.ref.gguf_file}" if self.ref.embedded else ("local" if self.ref.local_dir else "hf-cache")
        return ModelInfo(model=self.ref.alias, hf_id=self.ref.hf_id, revision=revision, dtype=self.dtype,
                         backend=self.name, device="cuda",
                         extra={"tensor_parallel_size": str(self.tensor_parallel_size), "vllm_version": self._version,
                                "quantization": self.ref.quantization})

    def count_tokens(self, text: str) -> int:
        self.load()
        return len(self._tok.encode(text, add_special_tokens=False))

    def _chat_tokenizer(self):
        return self._tok if self.ref.chat else None

    def sampling_params(self, params: GenerationParams, regex: str | None, max_new_tokens: int, seed: int):
        """One sequence's ``vllm.SamplingParams``."""
        vllm = import_vllm()
        return vllm.SamplingParams(
            n=1, temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or -1,
            repetition_penalty=params.repetition_penalty, max_tokens=max_new_tokens, seed=seed,
            **(regex_constraint(regex) if regex is not None else {}))

    def _generate_batch(self, prompt: Prompt, batch_size: int, params: GenerationParams, regex: str | None,
                        max_new_tokens: int, seed: int, guide: RowGuide | None = None) -> list[Completion]:
        self.load()
        text = self.prompt_text(prompt)
        sps = [self.sampling_params(params, regex, max_new_tokens, (seed + i) % 2**63) for i in range(batch_size)]
        outputs = self._llm.generate([text] * batch_size, sps, use_tqdm=False)
        # RequestOutput.outputs holds only the generated continuation (never the prompt)
        return [Completion(o.text, len(o.token_ids)) for req in outputs for o in req.outputs]
