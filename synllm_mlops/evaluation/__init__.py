"""Evaluation of synthetic tables: fidelity, clinical rules, privacy, ML utility, diversity, summary scores.

Example:
    >>> from synllm_mlops.evaluation import evaluate
    >>> result = evaluate(train, holdout, synthetic, spec, seed=0)  # doctest: +SKIP
    >>> result.metrics["score/harmonic"]  # doctest: +SKIP
"""

from synllm_mlops.evaluation._base import EvalData, Metric
from synllm_mlops.evaluation._evaluate import default_metrics, evaluate
from synllm_mlops.evaluation._intervals import min_detectable, paired_min_detectable, t_interval
from synllm_mlops.evaluation._memorisation import memorisation_probe
from synllm_mlops.evaluation._neighbours import nearest
from synllm_mlops.evaluation._reference import RealReference, ladder_tables, real_reference
from synllm_mlops.evaluation._result import EvaluationResult
from synllm_mlops.evaluation._scores import COMPONENT_METRICS

__all__ = ["COMPONENT_METRICS", "EvalData", "EvaluationResult", "Metric", "RealReference", "default_metrics", "evaluate", "ladder_tables",
           "memorisation_probe", "min_detectable", "nearest", "paired_min_detectable", "real_reference", "t_interval"]
