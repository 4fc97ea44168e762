"""Shared encodings of a spec-typed table: mixed-type vectors, row keys, integer codes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synllm_mlops.spec import DatasetSpec, key_frame


def scaled(values: pd.Series, lo: float, hi: float) -> np.ndarray:
    """Numeric values mapped by the spec range ``[lo, hi]`` to ``[0, 1]`` (NaN stays NaN; no clipping)."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return (x - lo) / (hi - lo) if hi > lo else x - lo


@dataclass(frozen=True)
class MixedEncoder:
    """Encodes rows so that Euclidean distance is a sum of per-column dissimilarities.

    * numeric: value scaled by the spec range to [0, 1]; missing is imputed 0.5 and flagged by an
      indicator column (so missing vs present costs up to 1.25, missing vs missing 0);
    * categorical: one-hot over the spec categories plus a "missing" level, scaled by 1/sqrt(2) so a
      mismatch costs exactly 1, as does the full numeric range.

    Build it once with :meth:`fit` (which numeric columns need an indicator depends on all frames)
    and encode every frame with the same instance.
    """

    spec: DatasetSpec
    columns: tuple[str, ...]
    indicators: frozenset[str]

    @classmethod
    def fit(cls, spec: DatasetSpec, frames: list[pd.DataFrame], columns: list[str] | None = None) -> "MixedEncoder":
        cols = tuple(columns if columns is not None else spec.column_names)
        ind = frozenset(c for c in cols if spec.column(c).is_numeric
                        and (spec.column(c).nullable or any(f[c].isna().any() for f in frames if c in f)))
        return cls(spec, cols, ind)

    def subset(self, columns: list[str]) -> "MixedEncoder":
        """The same encoding restricted to ``columns``."""
        return MixedEncoder(self.spec, tuple(columns), frozenset(c for c in self.indicators if c in columns))

    def dims(self, columns: list[str]) -> np.ndarray:
        """Indices of the encoded dimensions that belong to ``columns``."""
        out, start = [], 0
        for name in self.columns:
            col = self.spec.column(name)
            width = (1 + (name in self.indicators)) if col.is_numeric else len(col.categories or []) + 1
            if name in columns:
                out.extend(range(start, start + width))
            start += width
        return np.asarray(out, dtype=np.int64)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        blocks: list[np.ndarray] = []
        for name in self.columns:
            col = self.spec.column(name)
            if col.is_numeric:
                x = scaled(df[name], float(col.min), float(col.max))  # type: ignore[arg-type]
                miss = np.isnan(x)
                blocks.append(np.where(miss, 0.5, x)[:, None])
                if name in self.indicators:
                    blocks.append(miss.astype(float)[:, None])
            else:
                codes = category_codes(df[name], col.categories or [])
                onehot = np.zeros((len(df), len(col.categories or []) + 1))
                onehot[np.arange(len(df)), codes] = 1.0 / np.sqrt(2.0)
                blocks.append(onehot)
        if not blocks:
            return np.zeros((len(df), 0))
        return np.hstack(blocks).astype(np.float32)


def category_codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Integer codes ``0..K-1`` for the spec categories and ``K`` for missing or unknown values."""
    codes = pd.Categorical(values.astype(object).where(values.notna(), None), categories=categories).codes
    return np.where(codes < 0, len(categories), codes).astype(np.int64)


def normalised(df: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Values written as the synthetic CSV writes them: numbers rounded to the spec's decimals, text stripped."""
    out = {}
    for col in spec.columns:
        s = df[col.name]
        if col.is_numeric:
            out[col.name] = pd.to_numeric(s, errors="coerce").astype(float).round(col.decimals) + 0.0  # -0.0 -> 0.0
        else:
            out[col.name] = s.astype(object).where(s.isna(), s.astype(str).str.strip())
    return pd.DataFrame(out, index=df.index)


def row_keys(df: pd.DataFrame, spec: DatasetSpec) -> np.ndarray:
    """A 64-bit hash per row of its :func:`~synllm_mlops.spec.row_key` (the copy guard's identity)."""
    if len(df) == 0:
        return np.zeros(0, dtype=np.uint64)
    return pd.util.hash_pandas_object(key_frame(df, spec), index=False).to_numpy()


def binned_codes(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    """Bin numeric values on fixed ``edges`` (interior cut points); missing gets the last code."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    codes = np.searchsorted(edges, x, side="right")
    return np.where(np.isnan(x), len(edges) + 1, codes).astype(np.int64)
