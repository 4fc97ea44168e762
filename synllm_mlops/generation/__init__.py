"""Generation: model catalog, backends (hf, vllm, fake) and their registry, sampling parameters.

The decoding constraints a backend may honour (grammar, rule guide, steering) are in
:mod:`synllm_mlops.constraints`; each backend declares which it supports.
"""

from synllm_mlops.generation._backend import (
    BatchResult,
    Completion,
    GenerationBackend,
    ModelInfo,
    capability_problem,
    derive_seed,
)
from synllm_mlops.generation._catalog import CATALOG, DEFAULT_MODEL, ModelRef, resolve_model
from synllm_mlops.generation._params import GenerationParams
from synllm_mlops.generation._registry import BACKENDS, backend_key, check_backend, make_backend, register_backend
from synllm_mlops.generation._space import GENERATION_SPACE

__all__ = ["BACKENDS", "CATALOG", "DEFAULT_MODEL", "GENERATION_SPACE", "BatchResult", "Completion", "GenerationBackend",
           "GenerationParams", "ModelInfo", "ModelRef", "backend_key", "capability_problem", "check_backend",
           "derive_seed", "make_backend", "register_backend", "resolve_model"]
