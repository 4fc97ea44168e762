"""Feature matrices and the two seeded classifiers shared by detection and ML utility."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synllm_mlops.spec import DatasetSpec


def feature_frame(df: pd.DataFrame, spec: DatasetSpec, columns: list[str]) -> pd.DataFrame:
    """Numeric columns as float, categorical ones as pandas ``category`` over the spec categories (NaN kept)."""
    out = {}
    for name in columns:
        col = spec.column(name)
        if col.is_numeric:
            out[name] = pd.to_numeric(df[name], errors="coerce").astype(float)
        else:
            out[name] = pd.Categorical(df[name].astype(object).where(df[name].notna(), None), categories=col.categories)
    return pd.DataFrame(out, index=df.index)


def gradient_boosting(seed: int):
    """HistGradientBoostingClassifier: native NaN and categorical support; no early stopping (deterministic)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(categorical_features="from_dtype", early_stopping=False,
                                          max_iter=100, random_state=seed)


def single_thread():
    """Context manager: one OpenMP / BLAS thread while fitting the small evaluation models.

    On a shared 2-core machine, spinning thread barriers made a 300-row gradient-boosting fit take minutes
    instead of a second, and a 10k-row logistic regression 16 s instead of 0.3 s, whenever another
    process held a core (measured); one thread is slower only on big tables.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def logistic_regression(spec: DatasetSpec, columns: list[str], seed: int):
    """Impute (median / "missing") + one-hot + scale + logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = [c for c in columns if spec.column(c).is_numeric]
    cat = [c for c in columns if not spec.column(c).is_numeric]
    parts = []
    if num:
        # keep_empty_features: a column all-missing in a tiny synthetic table must not change the width
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                                           StandardScaler()), num))
    if cat:
        cats = [list(spec.column(c).categories or []) + ["__missing__"] for c in cat]
        parts.append(("cat", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="__missing__", missing_values=np.nan,
                          keep_empty_features=True),
            OneHotEncoder(categories=cats, handle_unknown="ignore")), cat))
    pre = ColumnTransformer(parts)
    return make_pipeline(pre, LogisticRegression(max_iter=1000, random_state=seed))


def to_object(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns back to object with NaN (what the imputer/one-hot pipeline expects)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), np.nan)
    return out
