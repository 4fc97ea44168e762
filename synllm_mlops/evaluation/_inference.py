"""Attribute-inference risk (anonymeter): guessing a secret column of a real record from the others."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.evaluation._base import EvalData, Metric, skipped
from synllm_mlops.evaluation._neighbours import nearest
from synllm_mlops.evaluation._risk import risk_breakdown

TOLERANCE = 0.05


def correct_guesses(guess: pd.Series, truth: pd.Series, numeric: bool, tolerance: float = TOLERANCE) -> np.ndarray:
    """Categorical: equal; numeric: within ``tolerance`` relative error (anonymeter's rule). NaN == NaN."""
    g, t = guess.reset_index(drop=True), truth.reset_index(drop=True)
    both_na = (g.isna() & t.isna()).to_numpy()
    if numeric:
        gv, tv = g.to_numpy(float), t.to_numpy(float)
        with np.errstate(invalid="ignore"):
            ok = np.abs(gv - tv) <= tolerance * np.abs(tv)
        return both_na | np.nan_to_num(ok, nan=0).astype(bool)
    return both_na | (g.astype(object) == t.astype(object)).fillna(False).to_numpy(bool)


class InferenceRisk(Metric):
    """Residual risk of inferring a secret column of a training record from its other columns.

    Attack: the nearest synthetic row on all other columns gives its secret value as the guess. Targets:
    train rows (seeded subsample, at most ``n_attacks``); control: as many holdout rows; baseline: a random
    synthetic value. Every column is tried as the secret; the headline is the spec target's risk (the
    clinical outcome); ``per_column`` has all of them and ``max_risk`` the worst.
    """

    name = "privacy/inference_risk"
    group = "privacy"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.0
    description = "anonymeter-style inference risk of the target from the other columns, train vs holdout control"

    def __init__(self, n_attacks: int = 1000, secrets: list[str] | None = None) -> None:
        self.n_attacks, self.secrets = n_attacks, secrets

    def _compute(self, data: EvalData) -> dict[str, Any]:
        return data.cached(f"inference.{self.n_attacks}.{self.secrets}", lambda: self._all(data))

    def _all(self, data: EvalData) -> dict[str, Any]:
        spec = data.spec
        if len(spec.columns) < 2:
            return skipped("needs at least two columns (a secret and something to infer it from)")
        if len(data.synthetic) == 0 or min(len(data.train), len(data.holdout)) == 0:
            return skipped("needs synthetic rows and non-empty train and holdout tables")
        rng = data.rng("inference")
        ref_t, ref_h = data.reference_index("train"), data.reference_index("holdout")
        n = min(self.n_attacks, len(ref_t))
        tgt = ref_t[np.sort(rng.choice(len(ref_t), n, replace=False))]
        ctl = ref_h[np.sort(rng.choice(len(ref_h), n, replace=False))]
        syn_enc, enc = data.encoded("synthetic"), data.encoder
        per: dict[str, Any] = {}
        for secret in self.secrets or spec.column_names:
            aux = enc.dims([c for c in spec.column_names if c != secret])
            numeric = spec.column(secret).is_numeric
            secret_syn = data.synthetic[secret]

            def hits(rows: np.ndarray, truth: pd.Series) -> int:
                _, idx = nearest(rows[:, aux], syn_enc[:, aux], 1)
                return int(correct_guesses(secret_syn.iloc[idx[:, 0]], truth, numeric).sum())

            n_att = hits(data.encoded("train")[tgt], data.train[secret].iloc[tgt])
            n_ctl = hits(data.encoded("holdout")[ctl], data.holdout[secret].iloc[ctl])
            guesses = secret_syn.iloc[rng.integers(len(secret_syn), size=n)]
            n_base = int(correct_guesses(guesses, data.train[secret].iloc[tgt], numeric).sum())
            per[secret] = risk_breakdown(n_att, n_ctl, n_base, n)
        head = spec.target if spec.target in per else next(iter(per))
        risks = [p["score"] for p in per.values() if not np.isnan(p["score"])]
        return {**per[head], "secret": head, "per_column": per, "max_risk": max(risks) if risks else float("nan"),
                "tolerance": TOLERANCE, "n_synthetic": len(syn_enc)}


class InferenceRiskMax(Metric):
    """The largest per-column inference risk (worst secret); noisier than the target's, so kept separate."""

    name = "privacy/inference_risk_max"
    group = "privacy"
    goal = "minimize"
    min_value, max_value = 0.0, 1.0
    baseline = 0.0
    description = "maximum over columns of the anonymeter-style inference risk"

    def _compute(self, data: EvalData) -> dict[str, Any]:
        full = InferenceRisk().compute_prepared(data)
        if "per_column" not in full:
            return skipped(full.get("skipped", "inference attack skipped"))
        worst = max(full["per_column"], key=lambda c: np.nan_to_num(full["per_column"][c]["score"], nan=-1))
        return {"score": float(full["max_risk"]), "secret": worst}
