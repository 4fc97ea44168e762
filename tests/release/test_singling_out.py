"""Issue 22, finding 1 as a test: invert a release's logged tables to patient counts and look for 1s and 2s.

The attacker holds only ``release/release.json`` (plus, as side knowledge, the true train size). Each marginal
is ``n x share``; each pairwise table is un-shrunk with the shrinkage and marginals the artifact carries, then
scaled by ``n``. A table equal to the product of its margins (a DP pair that was not released) is a function
of the marginals, already attacked, and is skipped. A recovered count is a value within ``TOL`` of an integer
(the review's inversion was exact to 0.0003). The negative control is the old exact release (exact ``n``,
exact marginals, shrunk pairs): there the same attack recovers the one- and two-patient cells.
"""

from __future__ import annotations

import json
from itertools import combinations

import mlflow
import numpy as np
import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.pipeline import load_inputs, release_for
from synllm_mlops.release import ARTIFACT, DEFAULT_EPSILON, MIN_CELL, CalibrationTargets, Release

TOL = 0.05


def _invert(artifact: dict, n: float) -> dict[str, np.ndarray]:
    """Every marginal and pairwise table of ``artifact["targets"]`` as counts, assuming ``n`` rows."""
    t = artifact["targets"]
    cols = {c["column"]: c for c in t["columns"]}
    s = float(t.get("meta", {}).get("shrinkage", 0.0))
    out = {f"marginal:{name}": n * np.asarray(c["marginal"]) for name, c in cols.items()}
    for p in t["pairs"]:
        table = np.asarray(p["table"])
        a, b = cols[p["a"]], cols[p["b"]]
        ma = np.bincount(a["coarse"], weights=a["marginal"], minlength=table.shape[0])
        mb = np.bincount(b["coarse"], weights=b["marginal"], minlength=table.shape[1])
        if np.allclose(table, np.outer(table.sum(1), table.sum(0)), atol=1e-12):
            continue  # independence: no joint information beyond the marginals
        out[f"pair:{p['a']}x{p['b']}"] = n * (table - s * np.outer(ma, mb)) / (1 - s)
    return out


def _true_counts(artifact: dict, train) -> dict[str, np.ndarray]:
    """The train counts on the artifact's own bins (the ground truth the attacker is after)."""
    t = CalibrationTargets.from_json(json.dumps(artifact["targets"]))
    codes = t.codes(train)
    out = {f"marginal:{b.column}": np.bincount(c[c >= 0], minlength=b.n_bins).astype(float)
           for b, c in zip(t.bins, codes.T)}
    for i, j in combinations(range(len(t.bins)), 2):
        ok = (codes[:, i] >= 0) & (codes[:, j] >= 0)
        table = np.zeros(t.pairs[(i, j)].shape)
        np.add.at(table, (t.coarse[i][codes[ok, i]], t.coarse[j][codes[ok, j]]), 1)
        out[f"pair:{t.bins[i].column}x{t.bins[j].column}"] = table
    return out


def _attack(artifact: dict, train) -> tuple[int, int, int]:
    """(recovered cells equal to 1 or 2, true 1-2-patient cells, of those the attack gets right), best of two n."""
    truth = _true_counts(artifact, train)
    results = []
    for n in (float(artifact["targets"]["n"]), float(len(train))):  # the artifact's n, and the true n as side knowledge
        small = hits = recovered_small = 0
        for key, counts in _invert(artifact, n).items():
            exact = np.abs(counts - np.round(counts)) < TOL
            recovered_small += int((exact & np.isin(np.round(counts), (1, 2))).sum())
            true_small = np.isin(truth[key], (1, 2))
            small += int(true_small.sum())
            hits += int((true_small & exact & (np.round(counts) == truth[key])).sum())
        results.append((recovered_small, small, hits))
    return max(results, key=lambda r: (r[2], r[0]))


@pytest.fixture(scope="module")
def default_inputs():
    cfg = RunConfig()  # the default run: cirrhosis, clin_rule, select+steer, DP at the default epsilon
    spec, _, split = load_inputs(cfg)
    return cfg, spec, split.train


@pytest.mark.parametrize("dp_epsilon", ["default", "none"])
def test_the_default_release_inverts_to_no_count_of_one_or_two(default_inputs, dp_epsilon):
    cfg, spec, train = default_inputs
    if dp_epsilon == "none":
        cfg = cfg.model_copy(update={"prompt": cfg.prompt.model_copy(update={"dp_epsilon": None})})
    release = release_for(cfg, spec, train)
    assert release.private == (dp_epsilon == "default")
    artifact = json.loads(release.to_json())
    assert artifact["targets"]["n"] != len(train)  # no exact n: it scales every share back into counts
    recovered_small, true_small, hits = _attack(artifact, train)
    assert true_small > 20  # the attacked tables, on these bins, do hold one- and two-patient cells
    assert recovered_small == 0 and hits == 0
    if not release.private:  # every published count is 0 or at least MIN_CELL (up to the rounding of n)
        for counts in _invert(artifact, float(len(train))).values():
            assert not ((counts > 0.5) & (counts < MIN_CELL - 0.5)).any()


def test_negative_control_the_old_exact_release_gives_the_singletons_away(default_inputs):
    _, spec, train = default_inputs
    old = Release(None, CalibrationTargets.from_table(train, spec), None)  # exact n, exact marginals, shrunk pairs
    artifact = json.loads(old.to_json())
    assert artifact["targets"]["n"] == len(train)
    recovered_small, true_small, hits = _attack(artifact, train)
    assert hits > 100 and hits == true_small and recovered_small >= hits


def test_the_default_run_logs_a_ledger_that_spends_the_default_epsilon(mlflow_store):
    from synllm_mlops.workflow import run_generation

    out = run_generation(RunConfig(backend="stats", model="stats", n_rows=20), evaluate=False, progress=False)
    artifact = json.loads(mlflow.artifacts.load_text(f"runs:/{out.run_id}/{ARTIFACT}"))
    assert artifact["ledger"]["epsilon"] == DEFAULT_EPSILON
    assert sum(e["epsilon"] for e in artifact["ledger"]["releases"]) == pytest.approx(DEFAULT_EPSILON)
    assert artifact["targets"]["source"] == "dp"
    run = mlflow.get_run(out.run_id)
    assert run.data.tags["synllm.private"] == "true" and run.data.params["dp_epsilon"] == str(DEFAULT_EPSILON)
