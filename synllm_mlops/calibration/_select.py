"""Calibrated selection: choose ``n`` rows of an oversampled pool whose binned marginals and released
pairwise tables best match the targets (an unreleased pair is not matched: the model's rows keep their own).

The objective is the L1 gap between the chosen rows' bin counts and the targets scaled to ``n``,
summed over every marginal cell and (weighted) every pairwise cell. Each row touches one cell per
column and one per column pair, so the change in the objective from adding or removing a row is a
sum over its cells: a greedy pass picks ``n`` rows one at a time (largest decrease first, seeded
tie-breaks), then swap passes exchange a chosen row for an unchosen one while that lowers the gap.
Model-agnostic (works on any backend's rows), deterministic for a seed, never picks a row twice.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from synllm_mlops.release import CalibrationTargets


def _cells(codes: np.ndarray, targets: CalibrationTargets, pair_weight: float):
    """Each pool row's cell indices into one flat vector of targets, and that vector (as shares) + weights."""
    offsets, flat_t, weights, cols = 0, [], [], []
    for j, (b, m) in enumerate(zip(targets.bins, targets.marginals)):
        c = codes[:, j]
        cols.append(np.where(c >= 0, c + offsets, -1))
        flat_t.append(m)
        weights.append(np.ones(b.n_bins))
        offsets += b.n_bins
    released = targets.released_pairs
    for i, j in combinations(range(len(targets.bins)), 2):
        if (i, j) not in released:  # an unreleased pair's table is the product of its marginals: nothing to match
            continue
        t = targets.pairs[(i, j)]
        ci, cj = codes[:, i], codes[:, j]
        ok = (ci >= 0) & (cj >= 0)
        gi, gj = targets.coarse[i][np.where(ok, ci, 0)], targets.coarse[j][np.where(ok, cj, 0)]
        cols.append(np.where(ok, gi * t.shape[1] + gj + offsets, -1))
        flat_t.append(t.ravel())
        weights.append(np.full(t.size, pair_weight))
        offsets += t.size
    return np.stack(cols, axis=1), np.concatenate(flat_t), np.concatenate(weights)


def select_rows(codes: np.ndarray, targets: CalibrationTargets, n: int, *, seed: int = 0,
                pair_weight: float | None = None, max_swaps: int | None = None) -> np.ndarray:
    """Indices of ``n`` distinct pool rows (bin ``codes``, one column per spec column) that best match ``targets``.

    Example:
        >>> import pandas as pd
        >>> from synllm_mlops.spec import ColumnSpec, DatasetSpec
        >>> spec = DatasetSpec(name="t", target="g", columns=[ColumnSpec(name="g", type="categorical", categories=["a", "b"])])
        >>> targets = CalibrationTargets.from_table(pd.DataFrame({"g": ["a", "b"]}), spec)
        >>> pool = pd.DataFrame({"g": ["a", "a", "a", "b"]})
        >>> sorted(pool["g"].iloc[select_rows(targets.codes(pool), targets, 2)])
        ['a', 'b']
    """
    m = len(codes)
    if n > m:
        raise ValueError(f"cannot select {n} rows from a pool of {m}")
    if n == m:
        return np.arange(m)
    k, released = len(targets.bins), len(targets.released_pairs)
    if pair_weight is None:  # marginals and released pairs weigh alike in total (every pair: 2 / (k - 1) each)
        pair_weight = 1.0 / max(k - 1, 1) * 2 * (len(targets.pairs) / released if released else 1.0)
    cells, share, weight = _cells(codes, targets, pair_weight)
    goal = share * n
    valid = cells >= 0
    idx = np.where(valid, cells, 0)
    count = np.zeros(len(goal))
    rng = np.random.default_rng(seed)
    jitter = rng.random(m) * 1e-9  # seeded tie-breaks
    chosen = np.zeros(m, dtype=bool)

    def gain_add() -> np.ndarray:
        # objective change of adding each row: sum over its cells of w * (|c+1-g| - |c-g|)
        d = weight * (np.abs(count + 1 - goal) - np.abs(count - goal))
        return np.where(valid, d[idx], 0).sum(1)

    for _ in range(n):
        g = gain_add() + jitter
        g[chosen] = np.inf
        r = int(np.argmin(g))
        chosen[r] = True
        np.add.at(count, idx[r][valid[r]], 1)

    # swap refinement: remove the row whose removal helps most, add the best other; stop when no gain
    for _ in range(max_swaps if max_swaps is not None else 4 * n):
        d_rem = weight * (np.abs(count - 1 - goal) - np.abs(count - goal))
        rem = np.where(valid, d_rem[idx], 0).sum(1) + jitter
        rem[~chosen] = np.inf
        out = int(np.argmin(rem))
        np.subtract.at(count, idx[out][valid[out]], 1)
        add = gain_add() + jitter
        add[chosen] = np.inf
        add[out] = np.inf
        inn = int(np.argmin(add))
        if rem[out] + add[inn] < -1e-9:  # the exchange lowers the objective (first-order; exact for disjoint cells)
            chosen[out] = False
            chosen[inn] = True
            np.add.at(count, idx[inn][valid[inn]], 1)
        else:
            np.add.at(count, idx[out][valid[out]], 1)
            break
    return np.flatnonzero(chosen)
