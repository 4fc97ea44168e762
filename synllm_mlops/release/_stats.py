"""Statistics of the train split that statguide/clin_rule prompts carry, optionally under differential privacy.

Without DP the statistics are exact but k-floored: the patient count is rounded and a category, missing
share or target group held by fewer than :data:`~synllm_mlops.release.MIN_CELL` patients reads "fewer than 5
patients" (medians are not given for such a group). With DP, the only things read from ``train`` are histograms
over fixed spec bins and then 2-way tables over bins at the quantiles of those released histograms,
all released with discrete Laplace noise and charged to one :class:`~synllm_mlops.privacy.PrivacyBudget`;
every number in the prompt (the patient count included) is read off the noisy counts
(post-processing), so the prompt is ``epsilon``-DP for one patient more or less in the CSV (the keyed
split turns that into at most one row more or less in train).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from synllm_mlops.errors import ConfigError, PrivacyBudgetError
from synllm_mlops.privacy import (
    PrivacyBudget,
    discrete_laplace_variance,
    exact_histogram,
    exact_table2d,
    noisy_histogram,
    noisy_table2d,
)
from synllm_mlops.release._bins import Bins, spec_bins
from synllm_mlops.release._estimates import (
    binned_mean,
    binned_quantiles,
    binned_sd,
    missing_share,
    quantile_bins,
    table_spearman,
    value_weights,
)
from synllm_mlops.release._floor import MIN_CELL, floor_counts, public_count
from synllm_mlops.release._plan import PlannedRelease, allocate
from synllm_mlops.spec import DatasetSpec

StatKind = Literal["moments", "quartiles", "frequencies", "missing", "correlations", "target_differences"]
ALL_STATS: tuple[StatKind, ...] = ("moments", "quartiles", "frequencies", "missing", "correlations", "target_differences")

MARGINAL_BINS, TARGET_BINS, CORRELATION_BINS = 16, 8, 5  # value bins per numeric column in each kind of release
_QUARTILES = (0.25, 0.5, 0.75)


@dataclass
class _Summary:
    """The numbers a prompt carries, whichever way they were computed."""

    n: int
    columns: dict[str, dict] = field(default_factory=dict)  # name -> mean, sd, quartiles, shares, missing (None: < 5)
    correlations: list[tuple[str, str, float]] = field(default_factory=list)  # strongest first
    by_target: list[tuple[str, float | None, dict[str, float]]] = field(default_factory=list)  # class, share, medians


SIGNIFICANT = 2  # digits of every statistic in a prompt


def _fmt(x: float) -> str:
    """``x`` to :data:`SIGNIFICANT` significant figures (1441 -> 1400, 3.47 -> 3.5, 0.794 -> 0.79).

    A model copies the numbers its prompt prints: exact medians came back as values (N_Days 1441 in 8 of
    200 rows). Rounded, a statistic still says where the mass is and no longer looks like a patient's value.
    """
    if not math.isfinite(x) or x == 0:
        return "0" if x == 0 else str(x)
    digits = SIGNIFICANT - 1 - math.floor(math.log10(abs(x)))
    r = round(x, digits)
    if r != 0 and math.floor(math.log10(abs(r))) > math.floor(math.log10(abs(x))):  # 9.96 -> 10: one digit fewer
        digits -= 1
    return f"{round(x, digits) + 0.0:.{max(digits, 0)}f}"


def describe_statistics(train: pd.DataFrame, spec: DatasetSpec, *, include: tuple[str, ...] = ALL_STATS,
                        max_correlations: int = 5, dp_epsilon: float | None = None, seed: int | None = None,
                        budget: PrivacyBudget | None = None) -> str:
    """Natural-language statistics of ``train``, computed (never typed by hand) for the prompt.

    Args:
        include: which families of statistics to carry (see ``ALL_STATS``).
        max_correlations: how many of the strongest numeric correlations to list.
        dp_epsilon: the epsilon these statistics may spend. Set (or with ``budget``), every number is
            read off DP releases of counts on fixed spec bins; unset and without ``budget``, the
            statistics are exact.
        seed: ignored, kept for old callers: DP noise never comes from the run's seed.
        budget: the run's budget to charge (shared with later releases such as calibration targets);
            the statistics spend ``dp_epsilon`` of it, or all that remains when ``dp_epsilon`` is unset.
            Default: a budget of ``dp_epsilon`` of their own.

    Raises:
        ConfigError: unknown statistics, or ``dp_epsilon`` not > 0.
        PrivacyBudgetError: ``budget`` has less than ``dp_epsilon`` left (nothing is spent then).

    Example:
        >>> from synllm_mlops.spec import load_data, load_spec
        >>> spec = load_spec("cirrhosis")
        >>> budget = PrivacyBudget(1.0)
        >>> text = describe_statistics(load_data(spec), spec, dp_epsilon=0.5, budget=budget)
        >>> text.startswith("Statistics of the real table"), round(budget.remaining, 9)
        (True, 0.5)
    """
    del seed
    unknown_kinds = sorted(set(include) - set(ALL_STATS))
    if unknown_kinds:
        raise ConfigError(f"unknown statistics {unknown_kinds}; choose from {list(ALL_STATS)}")
    if dp_epsilon is not None and not (math.isfinite(dp_epsilon) and dp_epsilon > 0):
        raise ConfigError(f"dp_epsilon must be > 0, got {dp_epsilon}")
    if budget is None and dp_epsilon is None:
        summary = _exact_summary(train, spec, include, max_correlations)
    else:
        budget = budget or PrivacyBudget(dp_epsilon)
        epsilon = budget.remaining if dp_epsilon is None else dp_epsilon
        if budget.remaining <= 0 or epsilon > budget.remaining * (1 + 1e-9):
            raise PrivacyBudgetError(f"the prompt statistics need epsilon {epsilon:.6g} but only {budget.remaining:.6g} "
                                     f"of the run's budget {budget.epsilon:.6g} remains; lower dp_epsilon or raise the budget")
        eps = allocate(prompt_plan(spec, include, max_correlations), epsilon)
        summary = _dp_summary(train, spec, include, max_correlations, budget, eps)
    return _render(summary, spec, include)


def prompt_plan(spec: DatasetSpec, include: tuple[str, ...] = ALL_STATS, max_correlations: int = 5) -> list[PlannedRelease]:
    """The DP releases the prompt statistics make (a function of the spec and options only)."""
    return [PlannedRelease("prompt", r.family, r.label) for r in _plan(spec, include, max_correlations)]


def dp_statistics(train: pd.DataFrame, spec: DatasetSpec, include: tuple[str, ...], max_correlations: int,
                  budget: PrivacyBudget, eps: dict[str, float]) -> str:
    """The prompt statistics read off DP releases, each spending ``eps[label]`` of ``budget`` (see :func:`prompt_plan`)."""
    return _render(_dp_summary(train, spec, include, max_correlations, budget, eps), spec, include)


def _render(s: _Summary, spec: DatasetSpec, include: tuple[str, ...]) -> str:
    lines: list[str] = [f"Statistics of the real table ({s.n} patients), rounded to {SIGNIFICANT} significant figures:"]
    for col in spec.columns:
        st = s.columns.get(col.name)
        if st is None:
            continue
        parts: list[str] = []
        if col.is_numeric:
            unit = f" {col.unit}" if col.unit else ""
            if "moments" in include:
                parts.append(f"mean {_fmt(st['mean'])}{unit}, sd {_fmt(st['sd'])}")
            if "quartiles" in include:
                parts.append("quartiles " + " / ".join(_fmt(v) for v in st["quartiles"]))
        elif "frequencies" in include:
            parts.append(", ".join(f"{c} {_pct(p)}" for c, p in st["shares"].items()))
        if "missing" in include and col.nullable:
            parts.append(f"missing (NA) in {_pct(st['missing'])}")
        if parts:
            lines.append(f"- {col.name}: " + "; ".join(parts))
    if s.correlations:
        lines.append("Strongest correlations (Spearman):")
        for a, b, r in s.correlations:
            lines.append(f"- {a} and {b}: {r:+.2f} ({'higher' if r > 0 else 'lower'} {b} with higher {a})")
    if "target_differences" in include and spec.target_is_categorical:
        lines.append(f"By {spec.target}:")
        for c, share, medians in s.by_target:
            bits = [f"{name} median {_fmt(m)}" for name, m in medians.items()]
            size = "fewer than 5 patients" if share is None else f"{_pct(share)} of patients"
            lines.append(f"- {spec.target}={c} ({size})" + (": " + ", ".join(bits) if bits else ""))
    return "\n".join(lines)


def _pct(share: float | None) -> str:
    """A share as the prompt prints it; ``None`` is a cell of fewer than MIN_CELL patients."""
    return f"fewer than {MIN_CELL} patients" if share is None else f"{100 * share:.0f}%"


def _category_shares(categories, counts: np.ndarray) -> dict:
    """Shares of a categorical column from its counts (categories, then missing), k-floored before normalising:
    a cell of 1-4 patients is ``None`` ("fewer than 5") and left out of every other share's denominator, so
    no complement (``100 % - the rest``) gives it away."""
    floored = floor_counts(counts)
    return {"shares": {k: None if _small(x) else p for k, x, p in zip(categories, counts[:-1],
                                                                     value_weights(floored).tolist())},
            "missing": None if _small(counts[-1]) else missing_share(floored)}


def _small(count: float) -> bool:
    """A count of 1 to MIN_CELL - 1 patients: the release says only that it is small (0 stays 0)."""
    return 0 < count < MIN_CELL


# --- exact statistics (no privacy) ---------------------------------------------------------------

def _exact_summary(train: pd.DataFrame, spec: DatasetSpec, include: tuple[str, ...], k: int) -> _Summary:
    out = _Summary(int(public_count(len(train))))
    for col in spec.columns:
        s = train[col.name]
        if not col.is_numeric:
            counts = np.array([s.eq(c).sum() for c in col.categories] + [s.isna().sum()], dtype=float)
            out.columns[col.name] = _category_shares(col.categories, counts)
            continue
        x = s.dropna().astype(float)
        if len(x) == 0:
            continue
        n_missing = int(s.isna().sum())
        out.columns[col.name] = {"mean": float(x.mean()), "sd": float(x.std(ddof=0)),
                                 "quartiles": [float(v) for v in x.quantile(_QUARTILES)],
                                 "missing": None if _small(n_missing) else n_missing / len(s)}
    num = spec.numeric_columns
    if "correlations" in include and len(num) >= 2 and k > 0:
        corr = train[num].astype(float).corr(method="spearman")
        pairs = [(a, b, float(corr.loc[a, b])) for i, a in enumerate(num) for b in num[i + 1:] if np.isfinite(corr.loc[a, b])]
        out.correlations = sorted(pairs, key=lambda t: -abs(t[2]))[:k]
    if "target_differences" in include and spec.target_is_categorical:
        groups = {c: g for c, g in train.groupby(spec.target, dropna=True)}
        floored = sum(len(g) for g in groups.values() if not _small(len(g)))  # the shares' denominator, k-floored
        for c in spec.column(spec.target).categories:
            g = groups.get(c)
            if g is None or len(g) == 0:
                continue
            if _small(len(g)):  # a group of 1-4 patients: its medians would be their values
                out.by_target.append((c, None, {}))
                continue
            medians = {n: float(g[n].dropna().astype(float).median()) for n in num if g[n].notna().sum() >= MIN_CELL}
            out.by_target.append((c, len(g) / floored, medians))
    return out


# --- DP statistics: a data-independent plan of count releases, then post-processing ----------------

@dataclass(frozen=True)
class _Release:
    """One histogram (one ``Bins``) or 2-way table (two) of ``train``, charged as ``label``."""

    family: str
    label: str
    bins: tuple[Bins, ...]

    def exact(self, train: pd.DataFrame) -> np.ndarray:
        codes = [b.total_codes(train[b.column]) for b in self.bins]
        if len(codes) == 1:
            return exact_histogram(codes[0], self.bins[0].n_bins)
        return exact_table2d(codes[0], codes[1], (self.bins[0].n_bins, self.bins[1].n_bins))

    def noisy(self, train: pd.DataFrame, epsilon: float, budget: PrivacyBudget) -> np.ndarray:
        codes = [b.total_codes(train[b.column]) for b in self.bins]
        if len(codes) == 1:
            return noisy_histogram(codes[0], self.bins[0].n_bins, epsilon, budget, self.label)
        return noisy_table2d(codes[0], codes[1], (self.bins[0].n_bins, self.bins[1].n_bins), epsilon, budget, self.label)


def _plan(spec: DatasetSpec, include: tuple[str, ...], k: int, marginals: dict[str, np.ndarray] | None = None,
          ) -> list[_Release]:
    """Every release the DP statistics make, marginals first: a function of the spec and options, never of data.

    A table's numeric bins are the quantiles of that column's *released* marginal when ``marginals``
    (column -> noisy counts on ``spec_bins(col, MARGINAL_BINS)``) holds it, else fixed spec bins; the
    releases, their labels and their number do not depend on ``marginals``.
    """
    marginals = marginals or {}
    wanted = set(include)
    by_target = "target_differences" in wanted and spec.target_is_categorical
    plan = []
    for col in spec.columns:
        kinds = {"moments", "quartiles"} if col.is_numeric else {"frequencies"}
        if wanted & kinds or ("missing" in wanted and col.nullable) or (by_target and col.name == spec.target):
            plan.append(_Release("marginal", f"histogram:{col.name}", (spec_bins(col, MARGINAL_BINS),)))

    def table_bins(col, n: int) -> Bins:
        if col.name in marginals:
            return quantile_bins(spec_bins(col, MARGINAL_BINS), marginals[col.name], n)
        return spec_bins(col, n)

    num = [spec.column(n) for n in spec.numeric_columns]
    if by_target:
        t = spec_bins(spec.column(spec.target))
        plan += [_Release("by_target", f"table:{spec.target}x{c.name}", (t, table_bins(c, TARGET_BINS))) for c in num]
    if "correlations" in wanted and k > 0 and len(num) >= 2:
        bins = [table_bins(c, CORRELATION_BINS) for c in num]
        plan += [_Release("correlation", f"table:{a.column}x{b.column}", (a, b))
                 for i, a in enumerate(bins) for b in bins[i + 1:]]
    if not plan:  # the header's patient count still needs a release
        plan.append(_Release("marginal", f"histogram:{spec.target}", (spec_bins(spec.column(spec.target)),)))
    return plan


def _dp_summary(train: pd.DataFrame, spec: DatasetSpec, include: tuple[str, ...], k: int,
                budget: PrivacyBudget, eps: dict[str, float]) -> _Summary:
    first = _plan(spec, include, k)
    counts = {r.label: r.noisy(train, eps[r.label], budget) for r in first if r.family == "marginal"}
    # then the tables, on bins at the released marginals' quantiles (post-processing; adaptive composition)
    plan = _plan(spec, include, k, {r.bins[0].column: counts[r.label] for r in first if r.label in counts})
    counts |= {r.label: r.noisy(train, eps[r.label], budget) for r in plan if r.label not in counts}
    # patient count: inverse-variance weighted mean of every release's (unclipped, unbiased) total; at a huge
    # epsilon the variance underflows to 0 (no noise): the floor weighs such totals equally instead of dividing by 0
    weights = [1 / max(counts[r.label].size * discrete_laplace_variance(eps[r.label], 1), 1e-300) for r in plan]
    n = sum(w * counts[r.label].sum() for r, w in zip(plan, weights)) / sum(weights)
    out = _Summary(max(int(public_count(n)), 0))
    for r in plan:
        if r.family != "marginal":
            continue
        b, c = r.bins[0], counts[r.label]
        if b.numeric:
            st = {"mean": binned_mean(b, c), "sd": binned_sd(b, c), "quartiles": binned_quantiles(b, c, _QUARTILES)}
        else:  # the k-floor on noisy counts (post-processing, no epsilon), as on exact ones
            out.columns[b.column] = _category_shares(b.categories, c)
            continue
        out.columns[b.column] = {**st, "missing": None if _small(c[-1]) else missing_share(c)}
    rhos = [(r.bins[0].column, r.bins[1].column, table_spearman(counts[r.label])) for r in plan if r.family == "correlation"]
    out.correlations = sorted([t for t in rhos if np.isfinite(t[2])], key=lambda t: -abs(t[2]))[:k]  # noisy |rho| only
    if "target_differences" in include and spec.target_is_categorical:
        t_counts = counts[f"histogram:{spec.target}"]
        t_total = floor_counts(t_counts).sum()
        tables = [r for r in plan if r.family == "by_target"]
        for i, c in enumerate(spec.column(spec.target).categories):
            if t_counts[i] <= 0:
                continue
            if _small(t_counts[i]):
                out.by_target.append((c, None, {}))
                continue
            medians = {r.bins[1].column: binned_quantiles(r.bins[1], counts[r.label][i], (0.5,))[0] for r in tables}
            out.by_target.append((c, float(t_counts[i] / t_total), medians))
    return out
