"""An ensemble of membership-inference attacks on a synthetic table, each scored against its control.

Threat model: the attacker holds the synthetic table, a target record, and a sample of the same
population that was not used for training (the *reference*). Each attack gives every candidate
record a score; higher = "more likely a training member".

* ``dcr``: minus the distance to the closest synthetic row (a copy scores 0, the maximum).
* ``density_ratio``: DOMIAS (van Breugel et al., AISTATS 2023): ``log p_syn(x) - log p_ref(x)``, both
  densities by Gaussian kernel density estimates on the shared mixed encoding (each with its set's median
  nearest-neighbour spacing as bandwidth), truncated to each candidate's ``k`` nearest rows. Overfitting
  shows as density that the synthetic table puts on a record and the population does not.
* ``classifier``: gradient boosting trained to tell synthetic rows (1) from reference rows (0); a
  candidate's score is its predicted probability of being synthetic: the same ratio, learnt.

Design, so that no evaluated record helps build its own score: members are a seeded sample of train
(at most ``cap``), non-members a seeded sample of holdout (at most ``cap``). Holdout and members are
each cut in two halves; in fold ``f`` the holdout half ``f`` is the reference and the *other* halves'
members and non-members are scored (2-fold cross-fitting, like out-of-fold predictions), so every
sampled holdout row is a non-member once and never scored by an attack fitted on it. Train rows are
never used to fit anything. The distance attack searches the whole synthetic table; the density and the
classifier use a seeded sample of at most ``cap`` synthetic rows (enough for a density; bounds the cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from synllm_mlops.evaluation._base import EvalData
from synllm_mlops.evaluation._features import feature_frame, gradient_boosting, single_thread
from synllm_mlops.evaluation._neighbours import nearest

ATTACKS = ("dcr", "density_ratio", "classifier")
KDE_NEIGHBOURS = 16


@dataclass(frozen=True)
class AttackScores:
    """Every attack's score for each candidate, with the candidates' membership and target class."""

    scores: dict[str, np.ndarray]
    is_member: np.ndarray
    target: np.ndarray
    notes: dict[str, str]


def _log_kde(dist: np.ndarray, n_ref: int, h: float) -> np.ndarray:
    """Log Gaussian-kernel density from nearest-neighbour distances, up to the kernel's ``-dim * log(h)``."""
    return logsumexp(-0.5 * (dist / h) ** 2, axis=1) - np.log(n_ref)


def _bandwidth(sets: list[np.ndarray]) -> float:
    """Median leave-one-out nearest-neighbour distance inside each set (exact duplicates left out): its spacing."""
    d = np.concatenate([nearest(h, h, k=2)[0][:, 1] for h in sets if len(h) >= 2] or [np.zeros(0)])
    d = d[d > 0]
    return float(np.median(d)) if len(d) else 1.0


def _classifier_scores(data: EvalData, syn: pd.DataFrame, ref: pd.DataFrame, cand: pd.DataFrame, seed: int) -> np.ndarray:
    cols = data.spec.column_names
    X = feature_frame(pd.concat([syn, ref], ignore_index=True), data.spec, cols)
    y = np.r_[np.ones(len(syn)), np.zeros(len(ref))]
    with single_thread():
        model = gradient_boosting(seed).set_params(class_weight="balanced").fit(X, y)
        return model.predict_proba(feature_frame(cand, data.spec, cols))[:, 1]


def run_attacks(data: EvalData, cap: int = 10_000) -> AttackScores | str:
    """Score sampled members and non-members with every attack (cached per ``data``); a reason if impossible."""
    return data.cached(f"mia.attacks.{cap}", lambda: _run(data, cap))


def _run(data: EvalData, cap: int) -> AttackScores | str:
    if len(data.synthetic) == 0:
        return "the synthetic table has no rows"
    if len(data.train) < 2 or len(data.holdout) < 4:
        return f"needs at least 2 train and 4 holdout rows, got {len(data.train)} and {len(data.holdout)}"
    rng = data.rng("mia")
    mem = rng.choice(len(data.train), min(len(data.train), cap), replace=False)
    non = rng.choice(len(data.holdout), min(len(data.holdout), cap), replace=False)
    mem_half, non_half = np.array_split(mem, 2), np.array_split(non, 2)
    enc_t, enc_h, enc_s = data.encoded("train"), data.encoded("holdout"), data.encoded("synthetic")
    # candidates in fold order: fold f scores members mem_half[1-f] and non-members non_half[1-f]
    cand_rows = [(enc_t[mem_half[1 - f]], enc_h[non_half[1 - f]]) for f in (0, 1)]
    cand = np.vstack([x for pair in cand_rows for x in pair])
    is_member = np.concatenate([np.r_[np.ones(len(m)), np.zeros(len(n))] for m, n in cand_rows]).astype(bool)
    fold = np.concatenate([np.full(len(m) + len(n), f) for f, (m, n) in enumerate(cand_rows)])

    dcr = nearest(cand, enc_s, k=1)[0][:, 0]  # the whole synthetic table: one copy anywhere counts
    # density and classifier fit on at most cap synthetic rows: enough for a density, and it bounds the cost
    syn_fit = np.sort(rng.choice(len(enc_s), min(len(enc_s), cap), replace=False))
    k_syn = min(KDE_NEIGHBOURS, len(syn_fit))
    # each density gets its own bandwidth, as DOMIAS's per-set KDEs do; the shared reference bandwidth keeps
    # the two folds' scores on one scale (the kernels' normalising constants are then global and drop out)
    h_syn, h_ref = _bandwidth([enc_s[syn_fit]]), _bandwidth([enc_h[i] for i in non_half])
    d_syn = nearest(cand, enc_s[syn_fit], k=k_syn)[0]
    log_p_syn = _log_kde(d_syn, len(syn_fit), h_syn)
    density = np.empty(len(cand))
    classifier = np.empty(len(cand))
    for f in (0, 1):
        ref_idx, sel = non_half[f], fold == f
        d_ref = nearest(cand[sel], enc_h[ref_idx], k=min(KDE_NEIGHBOURS, len(ref_idx)))[0]
        density[sel] = log_p_syn[sel] - _log_kde(d_ref, len(ref_idx), h_ref)
        rows = pd.concat([data.train.iloc[mem_half[1 - f]], data.holdout.iloc[non_half[1 - f]]], ignore_index=True)
        classifier[sel] = _classifier_scores(data, data.synthetic.iloc[syn_fit], data.holdout.iloc[ref_idx], rows,
                                             data.seed + f)

    t = data.spec.target
    target = np.concatenate([np.r_[data.train[t].to_numpy(object)[mem_half[1 - f]],
                                   data.holdout[t].to_numpy(object)[non_half[1 - f]]] for f in (0, 1)])
    return AttackScores(
        scores={"dcr": -dcr, "density_ratio": density, "classifier": classifier},
        is_member=is_member, target=target,
        notes={"dcr": "minus the distance to the closest synthetic row (mixed encoding, Euclidean)",
               "density_ratio": (f"DOMIAS: log p_syn - log p_ref, Gaussian KDEs (bandwidths {h_syn:.3g} and {h_ref:.3g}: each set's "
                                 f"median nearest-neighbour spacing; {KDE_NEIGHBOURS} nearest rows)"),
               "classifier": "P(synthetic) from HistGradientBoosting, synthetic vs reference, balanced class weights",
               "design": "members: train sample; non-members: holdout sample; 2-fold cross-fitting, each holdout "
                         "half the reference for the other half's candidates; train rows never fitted on"})
