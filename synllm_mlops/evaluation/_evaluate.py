"""``evaluate()``: run every metric group on one synthetic table and collect an EvaluationResult."""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd

from synllm_mlops.errors import ContractViolation
from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._column_pair_trends import ColumnPairTrends
from synllm_mlops.evaluation._column_detection import ColumnDetectionAUC
from synllm_mlops.evaluation._column_shapes import ColumnShapes
from synllm_mlops.evaluation._detection import DetectionAUC
from synllm_mlops.evaluation._distance import (DCRQuantile, DCRShareCloserToTrain, ExactMatchExcess, ExactMatchRate,
                                              NNDRQuantile)
from synllm_mlops.evaluation._diversity import DuplicateRate, UniqueRows
from synllm_mlops.evaluation._feature_pair_trends import FeaturePairTrends
from synllm_mlops.evaluation._holdout_pairs import HoldoutPairTables
from synllm_mlops.evaluation._in_bin_edge_share import InBinEdgeShare
from synllm_mlops.evaluation._in_bin_ks import InBinKS
from synllm_mlops.evaluation._in_bin_limit_share import InBinLimitShare
from synllm_mlops.evaluation._inference import InferenceRisk, InferenceRiskMax
from synllm_mlops.evaluation._linkability import LinkabilityRisk
from synllm_mlops.evaluation._marginals import (CategoryCoverage, JensenShannonDistance, RangeCoverage,
                                                RelativeMeanError, WassersteinDistance)
from synllm_mlops.evaluation._membership import MembershipInferenceAUC, MembershipTPRAtFPR, RareClassMembershipAUC
from synllm_mlops.evaluation._result import EvaluationResult
from synllm_mlops.evaluation._rule_adherence import RuleAdherence, RowsWithoutViolation
from synllm_mlops.evaluation._scores import SCORE_INFO, summary_scores
from synllm_mlops.evaluation._singling_out import SinglingOutRisk
from synllm_mlops.evaluation._three_way import ThreeWayMarginals
from synllm_mlops.evaluation._utility import TRTRAUC, TSTRAUC
from synllm_mlops.spec import DatasetSpec

log = logging.getLogger(__name__)


def default_metrics() -> dict[str, list[Metric]]:
    """The metric groups ``evaluate`` runs, in order (fresh instances with default settings)."""
    return {
        "fidelity": [ColumnShapes(), ColumnPairTrends(), DetectionAUC(), RelativeMeanError(), WassersteinDistance(),
                     JensenShannonDistance(), RangeCoverage(), CategoryCoverage(), HoldoutPairTables(),
                     FeaturePairTrends(),
                     ThreeWayMarginals(), InBinKS(), InBinLimitShare(), InBinEdgeShare(), ColumnDetectionAUC()],
        "clinical": [RuleAdherence(), RowsWithoutViolation()],
        "privacy": [ExactMatchRate(), ExactMatchExcess(), DCRShareCloserToTrain(), DCRQuantile(0.05), DCRQuantile(0.5),
                    NNDRQuantile(0.05), NNDRQuantile(0.5), MembershipInferenceAUC(), MembershipTPRAtFPR(0.01),
                    MembershipTPRAtFPR(0.001), RareClassMembershipAUC(), SinglingOutRisk(), LinkabilityRisk(),
                    InferenceRisk(), InferenceRiskMax()],
        "utility": [TSTRAUC(), TRTRAUC()],
        "diversity": [DuplicateRate(), UniqueRows()],
    }


def _safe(metric: Metric, data: EvalData) -> dict[str, Any]:
    # a metric that cannot be computed on this data is NaN plus the reason, and the evaluation goes on;
    # a metric that breaks its own declaration (ContractViolation) is a bug and raises
    try:
        return metric.compute_prepared(data)
    except ContractViolation:
        raise
    except Exception as e:  # noqa: BLE001
        log.warning("metric %s failed: %s: %s", metric.name, type(e).__name__, e)
        return skipped(f"{type(e).__name__}: {e}", error=True)


def evaluate(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, spec: DatasetSpec, *,
             seed: int = 0, progress: bool = False, metrics: dict[str, list[Metric]] | None = None) -> EvaluationResult:
    """Evaluate a synthetic table for fidelity, clinical plausibility, privacy, ML utility and diversity.

    Args:
        train: real rows the generator learnt from (spec columns, spec order, typed by ``conform``).
        holdout: real rows it never saw: privacy control and utility test set.
        synthetic: the table to evaluate (may be tiny, single-class or larger than train).
        spec: the dataset spec.
        seed: seeds every subsample, fold and model.
        progress: show a tqdm bar over metric groups.
        metrics: metric groups to run instead of :func:`default_metrics`.

    Returns:
        An :class:`EvaluationResult`; a metric that cannot be computed is NaN with a reason in its breakdown.

    Example:
        >>> from synllm_mlops.spec import load_spec, load_data, split_data
        >>> spec = load_spec("cirrhosis"); split = split_data(load_data(spec), spec, seed=0)
        >>> result = evaluate(split.train, split.holdout, split.holdout.sample(50, random_state=0), spec, seed=0)
        >>> 0.0 <= result.metrics["score/harmonic"] <= 1.0
        True
    """
    data = EvalData(train, holdout, synthetic, spec, seed=seed)
    reference = EvalData(train, holdout, holdout, spec, seed=seed)  # real-vs-real: what "as good as real" looks like
    groups = metrics or default_metrics()
    values: dict[str, float] = {}
    breakdowns: dict[str, Any] = {}
    info: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(groups) + 1, desc="evaluate", unit="group")
    for group, members in groups.items():
        if bar is not None:
            bar.set_postfix_str(group)
        for metric in members:
            t0 = time.perf_counter()
            out = _safe(metric, data)
            if metric.holdout_reference and "reference" not in out:
                out["reference"] = _safe(metric, reference)["score"]
                out["reference_note"] = "the same metric with the real holdout in place of the synthetic table"
            timings[metric.name] = time.perf_counter() - t0
            values[metric.name] = float(out["score"])
            breakdowns[metric.name] = out
            info[metric.name] = metric.info()
        if bar is not None:
            bar.update(1)
    for name, out in summary_scores(values).items():
        values[name] = float(out["score"])
        breakdowns[name] = out
        info[name] = dict(SCORE_INFO[name])
    if bar is not None:
        bar.update(1)
        bar.close()
    return EvaluationResult(metrics=values, breakdowns=breakdowns, info=info, timings=timings, _data=data,
                            seed=int(seed), dataset=spec.name,
                            n_rows={"train": len(data.train), "holdout": len(data.holdout),
                                    "synthetic": len(data.synthetic)})
