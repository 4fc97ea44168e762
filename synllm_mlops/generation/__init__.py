"""Generation: model catalog, backends (hf, vllm, fake), sampling parameters, output grammar, rule guide."""

from synllm_mlops.generation._backend import (
    BACKENDS,
    BatchResult,
    Completion,
    GenerationBackend,
    ModelInfo,
    backend_key,
    check_backend,
    derive_seed,
    make_backend,
    register_backend,
)
from synllm_mlops.generation._catalog import CATALOG, DEFAULT_MODEL, ModelRef, resolve_model
from synllm_mlops.generation._grammar import column_regex, completion_regex, int_range_regex, row_regex
from synllm_mlops.generation._params import GenerationParams
from synllm_mlops.generation._rules import RowGuide
from synllm_mlops.generation._space import GENERATION_SPACE

__all__ = ["BACKENDS", "CATALOG", "DEFAULT_MODEL", "GENERATION_SPACE", "BatchResult", "Completion", "GenerationBackend",
           "GenerationParams", "ModelInfo", "ModelRef", "RowGuide", "backend_key", "check_backend", "column_regex",
           "completion_regex", "derive_seed", "int_range_regex", "make_backend", "register_backend", "resolve_model",
           "row_regex"]
