"""The no-LLM control every evaluated run is scored against: what the model added, with an interval.

The control is the ``stats`` backend on the run's own release and split (same steering graph, same
selection, same hard rules, no language model). It is cheap, so a run scores ``n`` control tables
(seeds derived from the run's) with the same :func:`~synllm_mlops.evaluation.evaluate`. For each
headline metric the run logs ``control/<metric>`` (the mean over the control tables) with its 95 %
t-interval half-width ``control/<metric>_ci95``, and ``lift/<metric>`` = ours − control mean with
``lift/<metric>_ci95`` and ``lift/<metric>_mde``. No MLflow here: the workflow logs what this returns.

Honest about one table: a single run has one model table, so ``lift/*_ci95`` holds the control's
spread only (the model's own table-to-table spread is not measured by one table); ``_mde``, the
smallest lift this comparison would detect (two-sided α = 0.05, power 0.8), assumes the model's
tables vary as the control's do. Repeat over seeds (``compare``) for a full interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synllm_mlops.evaluation import min_detectable, t_interval
from synllm_mlops.generation import derive_seed, make_backend
from synllm_mlops.pipeline import Prepared, generate_rows

CONTROL_METRICS = ("score/quality", "score/privacy", "score/harmonic", "fidelity/column_shapes",
                   "fidelity/column_pair_trends", "fidelity/three_way", "fidelity/feature_pair_trends",
                   "fidelity/detection_auc", "utility/tstr_auc", "privacy/dcr_share_closer_to_train",
                   "privacy/exact_match_rate", "fidelity/in_bin_ks", "fidelity/in_bin_limit_share")
"""The metrics compared with the control: the scores, the optimised and unoptimised fidelity, utility, copies, and
the digits inside the bins (the part of a steered table the model writes itself)."""

_CONTROL_SEED_STREAM = 7_919  # control table k is seeded derive_seed(run seed + stream, k): never the model's seeds


@dataclass
class ControlResult:
    """The control's evaluation: one metrics dict per control table, and the seconds it took."""

    tables: list[dict[str, float]] = field(default_factory=list)
    gen_seconds: float = 0.0
    eval_seconds: float = 0.0

    def metrics(self, ours: dict[str, float]) -> dict[str, float]:
        """``control/*`` and ``lift/*`` metrics (see the module docstring) next to ``ours``."""
        out: dict[str, float] = {"control/tables": float(len(self.tables)), "control/gen_seconds": self.gen_seconds,
                                 "control/eval_seconds": self.eval_seconds}
        for m in CONTROL_METRICS:
            values = [t.get(m, math.nan) for t in self.tables]
            mean, half = t_interval(values)
            if math.isnan(mean):
                continue
            x = np.asarray([v for v in values if not math.isnan(v)])
            out[f"control/{m}"], out[f"control/{m}_ci95"] = mean, half
            if m in ours and not math.isnan(ours[m]):
                out[f"lift/{m}"] = ours[m] - mean
                out[f"lift/{m}_ci95"] = half
                out[f"lift/{m}_mde"] = min_detectable(float(x.std(ddof=1)) if len(x) > 1 else math.nan, len(x))
        return {k: v for k, v in out.items() if not math.isnan(v)}


def score_control(prep: Prepared, n_tables: int, *, evaluate_table=None, cache: dict | None = None,
                  progress: bool = False) -> ControlResult | None:
    """Generate ``n_tables`` control tables on ``prep``'s release and split and evaluate each one.

    The control samples the release's calibration targets (steering at strength 1, whatever the run's) and
    selects as the run does. ``None`` when the release holds no targets (``calibration=none``): there is
    nothing for a no-LLM control to sample. ``evaluate_table(synthetic, seed) -> metrics`` defaults to
    :func:`~synllm_mlops.evaluation.evaluate` on ``prep``'s split with the run's seed, so the control is scored
    exactly as the model's table is. ``cache`` (e.g. one per study) reuses a control already scored on
    the same release, split and settings: it is deterministic given them.
    """
    import hashlib
    import time

    from tqdm.auto import tqdm

    from synllm_mlops.evaluation import evaluate

    if prep.targets is None or n_tables < 1:
        return None
    run = prep.config
    calibration = "select+steer" if run.calibrate.selects else "steer"
    key = (hashlib.sha256(prep.release.to_json().encode()).hexdigest(), prep.digest, run.seed, run.holdout_fraction,
           run.n_rows, calibration, run.calibrate.oversample, run.prompt.rows_per_completion, n_tables)
    if cache is not None and key in cache:
        return cache[key]
    if evaluate_table is None:
        def evaluate_table(synthetic, seed):
            return evaluate(prep.split.train, prep.split.holdout, synthetic, prep.spec, seed=seed).metrics

    backend = make_backend("stats", "stats", spec=prep.spec).load()
    out = ControlResult()
    for k in tqdm(range(n_tables), desc="control (no LLM): generate + evaluate", unit="table", disable=not progress):
        cfg = run.model_copy(update={
            "backend": "stats", "model": "stats", "seed": derive_seed(run.seed + _CONTROL_SEED_STREAM, k),
            "calibrate": run.calibrate.model_copy(update={"calibration": calibration, "steer_strength": 1.0})})
        t0 = time.perf_counter()
        gen = generate_rows(Prepared(cfg, prep.spec, prep.real, prep.split, prep.prompt, prep.digest, prep.release),
                            backend, progress=False)
        t1 = time.perf_counter()
        out.gen_seconds += t1 - t0
        if len(gen.synthetic):
            out.tables.append(evaluate_table(gen.synthetic, run.seed))
        out.eval_seconds += time.perf_counter() - t1
    if cache is not None:
        cache[key] = out
    return out
