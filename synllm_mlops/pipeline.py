"""The generation pipeline: spec + data -> split -> release -> prompt -> completions -> valid synthetic rows.

Cheap checks (spec, data, strategy, config) all run in :func:`prepare`, before any model loads.
No MLflow here: the tracking layer records what this returns.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from synllm_mlops.calibration import select_rows
from synllm_mlops.config import RunConfig
from synllm_mlops.constraints import RowGuide, Steering, completion_regex
from synllm_mlops.errors import ConfigError
from synllm_mlops.generation import GenerationBackend, ModelInfo, check_backend, derive_seed, make_backend
from synllm_mlops.parsing import REJECT_COLUMNS, NearCopyIndex, RowParser, table_keys
from synllm_mlops.prompts import Prompt, format_rows, format_value, get_strategy
from synllm_mlops.release import DEFAULT_EPSILON, MIN_CELL, CalibrationTargets, Release, make_release
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
    release: Release

    @property
    def targets(self) -> CalibrationTargets | None:
        """The released binned statistics of train (``None`` when calibration is off)."""
        return self.release.targets


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


def load_inputs(config: RunConfig) -> tuple[DatasetSpec, pd.DataFrame, Split]:
    """Spec, real table and its split: every spec and data error surfaces here, before anything is released."""
    spec = load_spec(config.dataset)
    check_decoding(config, spec)
    real = load_data(spec, config.data or None)
    return spec, real, split_data(real, spec, seed=config.seed, holdout_fraction=config.holdout_fraction)


def release_for(config: RunConfig, spec: DatasetSpec, train: pd.DataFrame) -> Release:
    """The run's release: the prompt statistics its strategy carries and the calibration targets, one budget."""
    strategy = get_strategy(config.strategy)
    return make_release(spec, train, statistics=config.prompt.statistics if strategy.uses_statistics else None,
                        max_correlations=config.prompt.max_correlations,
                        targets=config.calibrate.calibration != "none", dp_epsilon=config.prompt.dp_epsilon,
                        release_level=config.prompt.release_level)


def not_private_warning(config: RunConfig) -> str | None:
    """The one line a non-private run prints (what was chosen, what it means, the fix); ``None`` for a DP run."""
    if config.private:
        return None
    if get_strategy(config.strategy).uses_real_rows:
        return (f"synllm: NOT PRIVATE: strategy {config.strategy} puts real patients' rows in the prompt, so this run "
                f"has no DP guarantee; fix: choose featdesc, statguide or clin_rule (DP at epsilon {DEFAULT_EPSILON:g} "
                "by default)")
    return ("synllm: NOT PRIVATE: dp_epsilon=none releases exact statistics of the real data (counts under "
            f"{MIN_CELL} suppressed, no DP guarantee); fix: leave dp_epsilon out (DP at epsilon {DEFAULT_EPSILON:g}) "
            "or set a number > 0")


def prepare(config: RunConfig, *, warn: bool = True) -> Prepared:
    """Load and check spec and data, split, release, render the prompt: every user error surfaces here, fast.

    ``warn``: a non-private run logs :func:`not_private_warning` (one line, ``logging.warning``).
    """
    strategy = get_strategy(config.strategy)
    if strategy.uses_real_rows and config.prompt.dp_epsilon is not None:
        raise ConfigError(f"strategy {strategy.name} puts real rows in the prompt, so dp_epsilon="
                          f"{config.prompt.dp_epsilon:g} would promise a guarantee the run cannot keep; drop "
                          "dp_epsilon (seed_ex then runs without DP, with a warning) or choose featdesc, statguide "
                          "or clin_rule")
    spec, real, split = load_inputs(config)
    if warn and not config.private:
        logging.getLogger(__name__).warning(not_private_warning(config))
    release = release_for(config, spec, split.train)
    prompt = strategy.render(spec, release, config.prompt, seed=config.seed, train=split.train)
    return Prepared(config, spec, real, split, prompt, data_digest(real), release)


def check_decoding(config: RunConfig, spec: DatasetSpec) -> None:
    """Refuse, before any model loads, a run whose backend cannot do what the run asks of the decoder.

    Steering works through the grammar's token mask, so it needs ``constrained=true``; the rule guide (hard
    rules between columns, constrained runs) and steering need a backend declaring them.
    """
    steering = config.calibrate.steers
    if steering and not config.constrained:
        raise ConfigError(f"calibration={config.calibrate.calibration!r} steers each field into a released bin through "
                          "the output grammar's token mask, but constrained=false turns the grammar off; fix: set "
                          "constrained=true, or calibration=select (or none) for an unconstrained run")
    guide = config.constrained and RowGuide.for_spec(spec) is not None
    check_backend(config.backend, guide=guide, steering=steering)


def real_row_keys(prep: Prepared) -> dict[tuple[str, ...], str]:
    keys = {k: "holdout" for k in table_keys(prep.split.holdout, prep.spec)}
    keys.update({k: "train" for k in table_keys(prep.split.train, prep.spec)})
    return keys


def widest_row(backend: GenerationBackend, spec: DatasetSpec) -> str:
    """The row the output grammar allows that costs the most tokens, as the model would write it.

    Each column's longest writable value: its range's ends (with the spec's decimals), each category, and
    ``NA`` when nullable, whichever the backend's tokenizer counts longest. Read from the spec alone, so the
    token budget (which reaches trace spans and the registered model) says nothing about the real rows.
    """
    widest = {}
    for c in spec.columns:
        candidates = ([c.min, c.max] if c.is_numeric else list(c.categories)) + ([float("nan")] if c.nullable else [])
        texts = [format_value(v, c.decimals if c.is_numeric else None) for v in candidates]
        widest[c.name] = candidates[max(range(len(texts)), key=lambda i: (backend.count_tokens(texts[i]), len(texts[i])))]
    return format_rows(pd.DataFrame([widest]), spec)


def max_new_tokens(backend: GenerationBackend, config: RunConfig, spec: DatasetSpec) -> int:
    """Room for the requested rows: the config's ``max_new_tokens``, else the :func:`widest_row` the grammar
    allows, times the rows per completion, +30 %."""
    if config.generation.max_new_tokens:
        return config.generation.max_new_tokens
    per_row = backend.count_tokens(widest_row(backend, spec)) + 1
    return int(math.ceil(per_row * config.prompt.rows_per_completion * 1.3)) + 8


@dataclass
class BatchRecord:
    """One ``backend.generate`` call as the tracing layer sees it: counts, timing and reject reasons, no text."""

    index: int
    size: int
    seed: int
    tokens: int
    valid: int
    rejected: int
    copy_rejects: int
    near_copy_rejects: int
    reasons: dict[str, int]
    start_ns: int
    end_ns: int
    max_new_tokens: int

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


@dataclass
class Sampled:
    """What :func:`sample_rows` drew: the selected valid rows, every reject, and the cost."""

    rows: pd.DataFrame
    rejects: pd.DataFrame
    n_completions: int
    n_tokens: int
    copy_rejects: int
    seconds: float
    interrupted: bool = False
    near_copy_rejects: int = 0
    pool: pd.DataFrame | None = None  # every valid row drawn, before calibrated selection
    calib: dict[str, float] = field(default_factory=dict)  # calib/* metrics (calibration on)
    batch_size: int = 0  # the batch size used: the config's, or the backend's choice for ``auto``


def sample_rows(backend: GenerationBackend, prompt: Prompt, spec: DatasetSpec, cfg: RunConfig, parser: RowParser, *,
                max_new_tokens: int, on_round: Callable[[int, int, int], None] | None = None,
                targets: CalibrationTargets | None = None,
                on_batch: Callable[[BatchRecord], None] | None = None, guide: RowGuide | None = None) -> Sampled:
    """The sampling loop of every caller (the pipeline, the served model): draw rounds until ``cfg.n_rows``
    valid rows or the completion budget is spent; keep what was drawn either way (Ctrl-C included).

    Round ``r`` is seeded with ``derive_seed(cfg.seed, r)``. Per-run decoding state (the rule guide) is
    built once here and handed to every ``backend.generate`` call; the valid rows form a pool from which
    the last step selects ``n_rows``. ``on_round(new_valid, new_rejects, tokens)`` reports progress;
    ``on_batch`` receives a :class:`BatchRecord` per batch (the tracing layer's span).

    With ``targets`` (the released calibration statistics) and ``cfg.calibrate``: steering state for the
    run is part of the guide (the decoder draws each field's bin from the targets), the pool holds
    ``oversample`` x ``n_rows`` rows and :func:`calibrate` keeps the ``n_rows`` that match the targets best.

    ``guide`` (a served model's, kept between calls) lends its rules and verdict caches to this run, which
    steers with its own counts; the rows are those a fresh guide gives.
    """
    regex = completion_regex(spec, cfg.prompt.rows_per_completion) if cfg.constrained else None
    steering = None
    if targets is not None and cfg.calibrate.steers:
        target = spec.column_names.index(spec.target) if spec.target in spec.column_names else None
        steering = Steering(targets, cfg.calibrate.steer_strength, target=target)
    if not cfg.constrained:
        guide = None
    elif guide is None:
        guide = RowGuide.for_spec(spec, steering)
    elif guide.fields or steering is not None:  # as for_spec: no guide when there is nothing to guide
        guide = copy.copy(guide)  # shares the rules and the verdict caches; the steering is this run's
        guide.steering = steering
    else:
        guide = None
    want = cfg.pool_size() if targets is not None else cfg.n_rows
    # batch_size=auto: the backend's choice, once per run, for at most the completions the run needs
    params = backend.resolve_batch_size(cfg.generation, prompt, max_new_tokens, -(-want // cfg.prompt.rows_per_completion))
    cfg = cfg.model_copy(update={"generation": params})
    budget = cfg.completion_budget()
    pool: list[pd.DataFrame] = []
    rejects: list[pd.DataFrame] = []
    n_valid = n_completions = n_tokens = copies = near = 0
    interrupted = False
    t0 = time.perf_counter()
    try:
        round_ = 0
        while n_valid < want and n_completions < budget:
            need = -(-(want - n_valid) // cfg.prompt.rows_per_completion)
            n = min(budget - n_completions, max(need, 1), cfg.generation.batch_size)
            start_ns, seed = time.time_ns(), derive_seed(cfg.seed, round_)
            res = backend.generate(prompt, n, cfg.generation, regex=regex, guide=guide, max_new_tokens=max_new_tokens,
                                   seed=seed)
            round_ += 1
            n_completions += n
            n_tokens += res.n_tokens
            parsed = parser.parse([c.text for c in res.completions])
            copies += parsed.copy_rejects
            near += parsed.near_copy_rejects
            rejects.append(parsed.rejects)
            pool.append(parsed.rows)
            n_valid += len(parsed.rows)
            if on_round is not None:
                on_round(len(parsed.rows), len(parsed.rejects), res.n_tokens)
            if on_batch is not None:
                on_batch(BatchRecord(round_ - 1, n, seed, res.n_tokens, len(parsed.rows), len(parsed.rejects),
                                     parsed.copy_rejects, parsed.near_copy_rejects, dict(parsed.reasons), start_ns,
                                     time.time_ns(), max_new_tokens))
    except KeyboardInterrupt:  # an interrupt keeps what was generated so far
        interrupted = True
    seconds = time.perf_counter() - t0
    rows = pd.concat(pool, ignore_index=True) if pool else pd.DataFrame(columns=spec.column_names)
    rows = rows.iloc[:want].reset_index(drop=True)
    rej = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
    kept, calib = calibrate(rows, targets, cfg)
    return Sampled(kept, rej, n_completions, n_tokens, copies, seconds, interrupted, near, rows, calib,
                   params.batch_size)


def calibrate(pool: pd.DataFrame, targets: CalibrationTargets | None, cfg: RunConfig) -> tuple[pd.DataFrame, dict[str, float]]:
    """Keep ``cfg.n_rows`` of ``pool``: the best match to ``targets`` when calibration selects, else the first.

    Returns the table and ``calib/*`` metrics: marginal and pairwise total-variation error of the pool
    (before) and of the kept rows (after), and rows generated per row kept.
    """
    if targets is None or len(pool) == 0:
        return pool.iloc[: cfg.n_rows].reset_index(drop=True), {}
    before = targets.errors(pool)
    table = pool.iloc[: cfg.n_rows].reset_index(drop=True)
    if cfg.calibrate.selects and len(pool) > cfg.n_rows:
        table = pool.iloc[select_rows(targets.codes(pool), targets, cfg.n_rows, seed=cfg.seed)].reset_index(drop=True)
    after = targets.errors(table)
    return table, {"calib/pool_rows": float(len(pool)), "calib/marginal_tv_before": before["marginal_tv"],
                   "calib/pairwise_tv_before": before["pairwise_tv"], "calib/marginal_tv": after["marginal_tv"],
                   "calib/pairwise_tv": after["pairwise_tv"],
                   "calib/rows_generated_per_kept": len(pool) / max(len(table), 1)}


def generate_rows(prep: Prepared, backend: GenerationBackend | None = None, *, progress: bool = True,
                  on_batch: Callable[[BatchRecord], None] | None = None) -> GenerationOutcome:
    """Sample until ``n_rows`` valid rows or the completion budget is spent; keep what we have either way.

    Rows identical to a real train or holdout row are rejected by the privacy guard and counted.
    """
    from tqdm.auto import tqdm

    cfg = prep.config
    backend = (backend or make_backend(cfg.backend, cfg.model, spec=prep.spec)).load()
    info = backend.info()
    want = cfg.pool_size() if prep.targets is not None else cfg.n_rows
    bar = tqdm(total=want, desc=f"generate {cfg.dataset}/{cfg.strategy}", unit="row", disable=not progress)
    counts = {"rejects": 0, "tokens": 0}
    compiled_before = backend.compile_seconds
    t0 = time.perf_counter()

    def on_round(new_valid: int, new_rejects: int, tokens: int) -> None:
        counts["rejects"] += new_rejects
        counts["tokens"] += tokens
        bar.update(min(new_valid, want - bar.n))
        bar.set_postfix(rejects=counts["rejects"], tok_s=f"{counts['tokens'] / (time.perf_counter() - t0):.0f}")

    try:
        keys = real_row_keys(prep)
        s = sample_rows(backend, prep.prompt, prep.spec, cfg, RowParser(prep.spec, keys, NearCopyIndex(keys, prep.spec)),
                        max_new_tokens=max_new_tokens(backend, cfg, prep.spec), on_round=on_round, targets=prep.targets,
                        on_batch=on_batch)
    finally:
        bar.close()
    compile_seconds = backend.compile_seconds - compiled_before  # a compiled backend's warm-up: not generation
    synthetic, rej, seconds = s.rows, s.rejects, max(s.seconds - compile_seconds, 0.0)
    n_lines = len(s.pool) + len(rej)
    metrics = {
        "gen/rows_valid": float(len(synthetic)),
        "gen/rows_rejected": float(len(rej)),
        "gen/validity_rate": len(s.pool) / n_lines if n_lines else 0.0,
        "gen/copy_rejects": float(s.copy_rejects),
        "gen/near_copy_rejects": float(s.near_copy_rejects),
        "gen/completions": float(s.n_completions),
        "gen/tokens": float(s.n_tokens),
        "gen/seconds": seconds,
        "gen/compile_seconds": compile_seconds,
        "gen/batch_size": float(s.batch_size),  # resolved: the param batch_size stays as asked (e.g. auto)
        "gen/tokens_per_s": s.n_tokens / seconds if seconds else 0.0,
        "gen/rows_per_s": len(synthetic) / seconds if seconds else 0.0,
        **s.calib,
    }
    for reason, count in rej["reason"].value_counts().items():
        metrics[f"gen/rejects/{str(reason).replace(' ', '_').replace('-', '_')}"] = float(count)
    notes = ["interrupted by the user; kept the rows generated so far"] if s.interrupted else []
    if len(synthetic) < cfg.n_rows and not s.interrupted:
        notes.append(f"only {len(synthetic)} of {cfg.n_rows} valid rows after {s.n_completions} completions "
                     f"(budget {cfg.completion_budget()}); kept what was generated. Raise max_attempts, or use "
                     "constrained=true.")
    return GenerationOutcome(synthetic, rej, metrics, info, notes, s.interrupted, s.pool)
