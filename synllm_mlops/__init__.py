"""synllm-mlops: privacy-preserving synthetic medical tables by prompting open LLMs, tracked in MLflow."""

__version__ = "0.1.0"
__all__ = ["__version__"]
