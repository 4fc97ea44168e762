"""Statistics of the train split that statguide/clin_rule prompts carry, optionally under differential privacy."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from synllm_mlops.spec import DatasetSpec

StatKind = Literal["moments", "quartiles", "frequencies", "missing", "correlations", "target_differences"]
ALL_STATS: tuple[StatKind, ...] = ("moments", "quartiles", "frequencies", "missing", "correlations", "target_differences")


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{max(decimals, 1) if abs(x) < 10 else decimals}f}"


class _Noise:
    """Laplace mechanism on bounded statistics; a no-op without epsilon.

    Each released statistic gets an equal share of the budget (simple composition). Sensitivities
    use the spec's fixed ranges, never the data, so the release is epsilon-DP with respect to one row.
    """

    def __init__(self, epsilon: float | None, n_releases: int, n_rows: int, rng: np.random.Generator):
        self.eps = None if epsilon is None else epsilon / max(n_releases, 1)
        self.n, self.rng = max(n_rows, 1), rng

    def mean(self, x: float, lo: float, hi: float) -> float:
        if self.eps is None:
            return x
        return float(np.clip(x + self.rng.laplace(0, (hi - lo) / self.n / self.eps), lo, hi))

    def share(self, p: float) -> float:
        if self.eps is None:
            return p
        return float(np.clip(p + self.rng.laplace(0, 1 / self.n / self.eps), 0, 1))


def describe_statistics(train: pd.DataFrame, spec: DatasetSpec, *, include: tuple[str, ...] = ALL_STATS,
                        max_correlations: int = 5, dp_epsilon: float | None = None, seed: int = 0) -> str:
    """Natural-language statistics of ``train``, computed (never typed by hand) for the prompt.

    Args:
        include: which families of statistics to carry (see ``ALL_STATS``).
        max_correlations: how many of the strongest numeric correlations to list.
        dp_epsilon: when set, means, quantiles, shares and correlations get Laplace noise calibrated to
            the spec's ranges (total budget epsilon).
    """
    unknown_kinds = sorted(set(include) - set(ALL_STATS))
    if unknown_kinds:
        raise ValueError(f"unknown statistics {unknown_kinds}; choose from {list(ALL_STATS)}")
    if dp_epsilon is not None and dp_epsilon <= 0:
        raise ValueError(f"dp_epsilon must be > 0, got {dp_epsilon}")
    rng = np.random.default_rng(seed)
    n_rel = len(spec.columns) * len(include) + max_correlations
    noise = _Noise(dp_epsilon, n_rel, len(train), rng)
    lines: list[str] = [f"Statistics of the real table ({len(train)} patients):"]
    for col in spec.columns:
        s = train[col.name]
        parts: list[str] = []
        if col.is_numeric:
            x = s.dropna().astype(float)
            if len(x) == 0:
                continue
            unit = f" {col.unit}" if col.unit else ""
            if "moments" in include:
                m = noise.mean(float(x.mean()), col.min, col.max)
                sd = abs(noise.mean(float(x.std(ddof=0)), 0, col.max - col.min))
                parts.append(f"mean {_fmt(m, col.decimals)}{unit}, sd {_fmt(sd, col.decimals)}")
            if "quartiles" in include:
                q = [noise.mean(float(v), col.min, col.max) for v in x.quantile([0.25, 0.5, 0.75])]
                q = sorted(q)
                parts.append("quartiles " + " / ".join(_fmt(v, col.decimals) for v in q))
        elif "frequencies" in include:
            freq = s.value_counts(normalize=True, dropna=True)
            shares = {c: noise.share(float(freq.get(c, 0.0))) for c in col.categories}
            parts.append(", ".join(f"{c} {100 * p:.0f}%" for c, p in shares.items()))
        if "missing" in include and col.nullable:
            parts.append(f"missing (NA) in {100 * noise.share(float(s.isna().mean())):.0f}%")
        if parts:
            lines.append(f"- {col.name}: " + "; ".join(parts))
    if "correlations" in include:
        lines += _correlations(train, spec, max_correlations, noise)
    if "target_differences" in include and spec.target_is_categorical:
        lines += _target_differences(train, spec, noise)
    return "\n".join(lines)


def _correlations(train: pd.DataFrame, spec: DatasetSpec, k: int, noise: _Noise) -> list[str]:
    num = spec.numeric_columns
    if len(num) < 2 or k <= 0:
        return []
    corr = train[num].astype(float).corr(method="spearman")
    pairs = [(a, b, corr.loc[a, b]) for i, a in enumerate(num) for b in num[i + 1:] if np.isfinite(corr.loc[a, b])]
    pairs.sort(key=lambda t: -abs(t[2]))
    out = ["Strongest correlations (Spearman):"]
    for a, b, r in pairs[:k]:
        r = float(np.clip(noise.mean(r, -1, 1), -1, 1))
        out.append(f"- {a} and {b}: {r:+.2f} ({'higher' if r > 0 else 'lower'} {b} with higher {a})")
    return out


def _target_differences(train: pd.DataFrame, spec: DatasetSpec, noise: _Noise) -> list[str]:
    t = spec.target
    col_t = spec.column(t)
    groups = {c: g for c, g in train.groupby(t, dropna=True)}
    out = [f"By {t}:"]
    for c in col_t.categories:
        g = groups.get(c)
        if g is None or len(g) == 0:
            continue
        share = noise.share(len(g) / len(train))
        bits = []
        for col in spec.columns:
            if col.is_numeric:
                x = g[col.name].dropna().astype(float)
                if len(x):
                    bits.append(f"{col.name} median {_fmt(noise.mean(float(x.median()), col.min, col.max), col.decimals)}")
        out.append(f"- {t}={c} ({100 * share:.0f}% of patients): " + ", ".join(bits))
    return out
