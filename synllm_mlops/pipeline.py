"""The generation pipeline: spec + data -> split -> prompt -> completions -> valid synthetic rows.

Cheap checks (spec, data, strategy, config) all run in :func:`prepare`, before any model loads.
No MLflow here: the tracking layer records what this returns.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import pandas as pd

from synllm_mlops.calibration import CalibrationTargets, Steering, select_rows
from synllm_mlops.config import RunConfig
from synllm_mlops.generation import GenerationBackend, ModelInfo, RowGuide, completion_regex, make_backend
from synllm_mlops.parsing import REJECT_COLUMNS, NearCopyIndex, RowParser, table_keys
from synllm_mlops.privacy import PrivacyBudget
from synllm_mlops.prompts import Prompt, format_rows, get_strategy
from synllm_mlops.spec import DatasetSpec, Split, data_digest, load_data, load_spec, split_data


@dataclass
class Prepared:
    """Everything known before the model loads."""

    config: RunConfig
    spec: DatasetSpec
    real: pd.DataFrame
    split: Split
    prompt: Prompt
    digest: str
    targets: CalibrationTargets | None = None  # released binned statistics of train (calibration != none)
    budget: PrivacyBudget | None = None  # the run's DP budget and its ledger (dp_epsilon set)


@dataclass
class GenerationOutcome:
    """Valid synthetic rows, rejects with reasons, and generation metrics."""

    synthetic: pd.DataFrame
    rejects: pd.DataFrame
    metrics: dict[str, float]
    model: ModelInfo
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False
    pool: pd.DataFrame | None = None  # every valid row generated, before calibrated selection

    @property
    def complete(self) -> bool:
        return not self.notes


def prepare(config: RunConfig) -> Prepared:
    """Load and check spec and data, split, render the prompt: every user error surfaces here, fast."""
    spec = load_spec(config.dataset)
    strategy = get_strategy(config.strategy)
    real = load_data(spec, config.data or None)
    split = split_data(real, spec, seed=config.seed, holdout_fraction=config.holdout_fraction)
    budget = PrivacyBudget(config.dp_epsilon) if config.dp_epsilon else None
    calibrated = config.calibration != "none"
    options = config.prompt_options()
    if budget is not None and calibrated and strategy.uses_statistics:
        # one budget per run: the prompt's statistics and the calibration targets share it equally
        options = options.model_copy(update={"dp_epsilon": config.dp_epsilon / 2})
    prompt = strategy.render(spec, split.train, options, seed=config.seed, budget=budget)
    targets = None
    if calibrated and budget is not None:
        targets = CalibrationTargets.release_dp(split.train, spec, budget.remaining, budget)
    elif calibrated:
        targets = CalibrationTargets.from_table(split.train, spec)
    return Prepared(config, spec, real, split, prompt, data_digest(real), targets, budget)


def calibrate(pool: pd.DataFrame, prep: Prepared) -> tuple[pd.DataFrame, dict[str, float]]:
    """Select ``n_rows`` of ``pool`` that best match the released targets (calibration ``select``).

    Returns the table and ``calib.*`` metrics: marginal and pairwise total-variation error of the pool
    (before) and of the kept rows (after), and rows generated per row kept.
    """
    cfg, targets = prep.config, prep.targets
    if targets is None or len(pool) == 0:
        return pool, {}
    before = targets.errors(pool)
    metrics = {"calib.pool_rows": float(len(pool)), "calib.marginal_tv_before": before["marginal_tv"],
               "calib.pairwise_tv_before": before["pairwise_tv"]}
    table = pool
    if "select" in cfg.calibration and len(pool) > cfg.n_rows:
        idx = select_rows(targets.codes(pool), targets, cfg.n_rows, seed=cfg.seed)
        table = pool.iloc[idx].reset_index(drop=True)
    after = targets.errors(table)
    metrics.update({"calib.marginal_tv": after["marginal_tv"], "calib.pairwise_tv": after["pairwise_tv"],
                    "calib.rows_generated_per_kept": len(pool) / max(len(table), 1)})
    return table, metrics


def real_row_keys(prep: Prepared) -> dict[tuple[str, ...], str]:
    keys = {k: "holdout" for k in table_keys(prep.split.holdout, prep.spec)}
    keys.update({k: "train" for k in table_keys(prep.split.train, prep.spec)})
    return keys


def max_new_tokens(backend: GenerationBackend, prep: Prepared) -> int:
    """Room for the requested rows: the longest of 20 train rows, written as the model would, +30 %."""
    sample = prep.split.train.head(20)
    per_row = max(backend.count_tokens(format_rows(sample.iloc[[i]], prep.spec)) for i in range(len(sample))) + 1
    return int(math.ceil(per_row * prep.config.rows_per_completion * 1.3)) + 8


def generate_rows(prep: Prepared, backend: GenerationBackend | None = None, *, progress: bool = True) -> GenerationOutcome:
    """Sample until ``n_rows`` valid rows or the completion budget is spent; keep what we have either way.

    Rows identical to a real train or holdout row are rejected by the privacy guard and counted.
    """
    from tqdm.auto import tqdm

    cfg = prep.config
    backend = backend or make_backend(cfg.backend, cfg.model)
    info = backend.info()
    regex = completion_regex(prep.spec, cfg.rows_per_completion) if cfg.constrained else None
    steering = None
    if prep.targets is not None and "steer" in cfg.calibration and cfg.steer_strength > 0:
        target = prep.spec.column_names.index(prep.spec.target) if prep.spec.target else None
        steering = Steering(prep.targets, cfg.steer_strength, target=target)
    guide = RowGuide.for_spec(prep.spec, steering) if cfg.constrained else None
    want = cfg.pool_size()
    keys = real_row_keys(prep)
    parser = RowParser(prep.spec, keys, NearCopyIndex(keys, prep.spec))
    budget = cfg.completion_budget()
    limit = max_new_tokens(backend, prep)
    rows: list[pd.DataFrame] = []
    rejects: list[pd.DataFrame] = []
    n_valid = n_completions = n_tokens = copies = near = 0
    t0 = time.perf_counter()
    bar = tqdm(total=want, desc=f"generate {cfg.dataset}/{cfg.strategy}", unit="row", disable=not progress)
    interrupted = False
    try:
        round_ = 0
        while n_valid < want and n_completions < budget:
            need = -(-(want - n_valid) // cfg.rows_per_completion)
            n = min(budget - n_completions, max(need, 1), cfg.batch_size)
            res = backend.generate(prep.prompt, n, cfg.gen_params(), regex=regex, guide=guide, max_new_tokens=limit,
                                   seed=cfg.seed * 10_007 + round_)
            round_ += 1
            n_completions += n
            n_tokens += res.n_tokens
            parsed = parser.parse([c.text for c in res.completions])
            copies += parsed.copy_rejects
            near += parsed.near_copy_rejects
            rejects.append(parsed.rejects)
            take = parsed.rows.iloc[: want - n_valid]
            rows.append(take)
            n_valid += len(take)
            bar.update(len(take))
            bar.set_postfix(rejects=sum(len(r) for r in rejects), tok_s=f"{n_tokens / (time.perf_counter() - t0):.0f}")
    except KeyboardInterrupt:  # an interrupt keeps what was generated so far
        interrupted = True
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    pool = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=prep.spec.column_names)
    rej = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
    n_lines = len(pool) + len(rej)
    synthetic, calib = calibrate(pool, prep)
    metrics = {
        "gen.rows_valid": float(len(synthetic)),
        "gen.rows_rejected": float(len(rej)),
        "gen.validity_rate": len(pool) / n_lines if n_lines else 0.0,
        "gen.copy_rejects": float(copies),
        "gen.near_copy_rejects": float(near),
        "gen.completions": float(n_completions),
        "gen.tokens": float(n_tokens),
        "gen.seconds": seconds,
        "gen.tokens_per_s": n_tokens / seconds if seconds else 0.0,
        "gen.rows_per_s": len(synthetic) / seconds if seconds else 0.0,
        **calib,
    }
    for reason, count in rej["reason"].value_counts().items():
        metrics[f"gen.rejects.{str(reason).replace(' ', '_').replace('-', '_')}"] = float(count)
    notes = ["interrupted by the user; kept the rows generated so far"] if interrupted else []
    if len(synthetic) < cfg.n_rows and not interrupted:
        notes.append(f"only {len(synthetic)} of {cfg.n_rows} valid rows after {n_completions} completions "
                     f"(budget {budget}); kept what was generated. Raise max_attempts, or use constrained=true.")
    return GenerationOutcome(synthetic, rej, metrics, info, notes, interrupted, pool)
