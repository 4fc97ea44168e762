"""ML utility: train on synthetic, test on real holdout (TSTR) vs train on real train (TRTR)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._features import (feature_frame, gradient_boosting, logistic_regression,
                                               single_thread, to_object)

MODELS = ("gradient_boosting", "logistic_regression")
MAX_TRAIN_ROWS = 10_000  # seeded subsample above this: AUROC is stable long before, fitting time is not


def macro_ovr_auc(y_true: np.ndarray, proba: np.ndarray, model_classes: list[str], classes: list[str]) -> dict[str, float]:
    """One-vs-rest AUROC per holdout class; a class the model never saw gets a constant score (AUC 0.5).

    For a binary target the macro mean equals the ordinary AUROC.
    """
    from sklearn.metrics import roc_auc_score

    out = {}
    for c in classes:
        score = proba[:, model_classes.index(c)] if c in model_classes else np.zeros(len(y_true))
        out[c] = float(roc_auc_score(y_true == c, score))
    return out


def _xy(df: pd.DataFrame, data: EvalData, features: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    keep = df[data.spec.target].notna().to_numpy()
    return feature_frame(df[keep], data.spec, features), df[data.spec.target][keep].astype(str).to_numpy()


def _fit_score(kind: str, data: EvalData, X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame, y_test: np.ndarray,
               features: list[str], classes: list[str]) -> dict[str, Any]:
    with single_thread():
        if kind == "gradient_boosting":
            # a feature with no observed value carries nothing, and sklearn's binning fails on it
            seen = [c for c in X.columns if X[c].notna().any()]
            model = gradient_boosting(data.seed).fit(X[seen], y)
            proba = model.predict_proba(X_test[seen])
        else:
            model = logistic_regression(data.spec, features, data.seed).fit(to_object(X), y)
            proba = model.predict_proba(to_object(X_test))
    per_class = macro_ovr_auc(y_test, proba, [str(c) for c in model.classes_], classes)
    return {"auc": float(np.mean(list(per_class.values()))), "per_class_auc": per_class}


def utility_results(data: EvalData) -> dict[str, Any]:
    """TSTR and TRTR AUROC of both models (cached per evaluation)."""
    return data.cached("utility", lambda: _utility(data))


def _utility(data: EvalData) -> dict[str, Any]:
    spec = data.spec
    if not spec.target_is_categorical:
        reason = f"target {spec.target!r} is numeric; AUROC needs a categorical target"
        return {"tstr": skipped(reason), "trtr": skipped(reason)}
    features = [c for c in spec.column_names if c != spec.target and c not in spec.id_columns]
    if not features:
        reason = "no feature columns besides the target"
        return {"tstr": skipped(reason), "trtr": skipped(reason)}
    X_test, y_test = _xy(data.holdout, data, features)
    classes = sorted(set(y_test))
    if len(classes) < 2:
        reason = f"the holdout target has {len(classes)} class(es) {classes}; AUROC needs at least 2"
        return {"tstr": skipped(reason), "trtr": skipped(reason)}
    out: dict[str, Any] = {}
    for key, frame in (("tstr", data.synthetic), ("trtr", data.train)):
        X, y = _xy(frame, data, features)
        n_available = len(y)
        if len(y) > MAX_TRAIN_ROWS:
            keep = np.sort(data.rng(f"utility.{key}").choice(len(y), MAX_TRAIN_ROWS, replace=False))
            X, y = X.iloc[keep], y[keep]
        seen = sorted(set(y))
        if len(seen) < 2:
            out[key] = skipped(f"the {'synthetic' if key == 'tstr' else 'train'} target has {len(seen)} class(es) "
                               f"{seen} after dropping {len(frame) - len(y)} missing; a classifier needs at least 2",
                               n_train=len(y))
            continue
        models = {m: _fit_score(m, data, X, y, X_test, y_test, features, classes) for m in MODELS}
        absent = [c for c in classes if c not in seen]
        out[key] = {"score": float(np.mean([m["auc"] for m in models.values()])), "models": models,
                    "n_train": len(y), "n_train_available": n_available, "n_test": len(y_test), "classes": classes,
                    "average": "macro one-vs-rest over holdout classes" if len(classes) > 2 else "binary",
                    **({"classes_missing_from_training": absent,
                        "note": "a holdout class absent from the training rows scores AUC 0.5"} if absent else {})}
        extra = [c for c in seen if c not in classes]
        if extra:
            out[key]["classes_absent_from_holdout"] = extra
    return out


class TSTRAUC(Metric):
    """Mean AUROC (gradient boosting, logistic regression) of models trained on synthetic, tested on holdout."""

    name = "utility/tstr_auc"
    group = "utility"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.5
    description = "train-on-synthetic test-on-holdout AUROC, mean of HistGradientBoosting and logistic regression"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        return dict(utility_results(data)["tstr"])


class TRTRAUC(Metric):
    """Mean AUROC of the same models trained on real train, tested on holdout: the ceiling for TSTR."""

    name = "utility/trtr_auc"
    group = "utility"
    goal = "maximize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.5
    description = "train-on-real test-on-holdout AUROC (the reference TSTR is compared with)"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        return dict(utility_results(data)["trtr"])
