"""Tracked workflows behind the entry points: generate, main (generate + evaluate), evaluate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synllm_mlops import tracking
from synllm_mlops.config import RunConfig
from synllm_mlops.errors import ConfigError, GenerationError, show
from synllm_mlops.generation import GenerationBackend, make_backend
from synllm_mlops.prompts import to_csv
from synllm_mlops.pipeline import GenerationOutcome, Prepared, generate_rows, prepare
from synllm_mlops.release import ARTIFACT as RELEASE_ARTIFACT
from synllm_mlops.spec import DatasetSpec, Split, conform, load_data, load_spec, split_data


@dataclass
class RunOutcome:
    """What a tracked run produced (the run id, the table and every metric logged; a repeated run: each seed's too)."""

    run_id: str
    synthetic: pd.DataFrame
    metrics: dict[str, float]
    generation: GenerationOutcome | None = None
    evaluation: Any = None
    per_seed: list[dict[str, float]] = field(default_factory=list)


def loggable_prompt_text(prompt) -> str:
    """The rendered prompt as it may be logged: a seed_ex prompt's real example rows replaced by a placeholder."""
    examples = prompt.variables.get("examples") if prompt.uses_real_rows else None
    if not examples:
        return prompt.text
    n = len(examples.splitlines())
    return prompt.text.replace(examples, f"<{n} real example rows from the train split: shown to the model, never logged>")


KEYED_DIGEST_PREFIX = "hmac-"
"""A keyed data digest reads ``hmac-<key id, 8 hex>:<digest>`` (mlflow caps a dataset digest at 36 characters);
an unkeyed one is the bare digest."""


def _short_id(key: bytes) -> str:
    from synllm_mlops.serving import key_id

    return key_id(key)[:8]


def logged_digest(df: pd.DataFrame, private: bool) -> str:
    """The digest a run logs for a real table: keyed in a DP run (:func:`~synllm_mlops.serving.data_digest_key`).

    An unkeyed digest lets anyone holding the CSV with and without one patient tell which one the run
    used; the keyed one says nothing without the key, which is never logged (its id is).
    """
    from synllm_mlops.spec import data_digest

    if not private:
        return data_digest(df)
    from synllm_mlops.serving import data_digest_key

    key = data_digest_key()
    return f"{KEYED_DIGEST_PREFIX}{_short_id(key)}:{data_digest(df, key)}"


def _log_inputs(prep: Prepared) -> str:
    """Log the real data by digest and schema; return the digest logged for the whole table.

    A DP run logs keyed digests and no row counts (``n_real_rows``/``n_train``/``n_holdout`` and the inputs'
    sizes are absent: the release's noisy patient count is in ``release/release.json``).
    """
    src = prep.config.data or f"builtin:{prep.spec.builtin_data}"
    private = prep.release.private
    for context, df in (("train", prep.split.train), ("holdout", prep.split.holdout)):
        tracking.log_real_data_input(prep.spec, logged_digest(df, private), None if private else len(df),
                                     context=context, source=src)
    digest = logged_digest(prep.real, private)
    tracking.log_params({"data_digest": digest} if private else
                        {"data_digest": digest, "n_real_rows": len(prep.real), "n_train": len(prep.split.train),
                         "n_holdout": len(prep.split.holdout)})
    tracking.log_dict({"spec": prep.spec.model_dump(mode="json", by_alias=True)}, "spec/spec.json")
    return digest


def evaluate_and_log(split: Split, synthetic: pd.DataFrame, spec: DatasetSpec, seed: int, *, progress: bool = True,
                     context: dict[str, str] | None = None, log: bool = True):
    """Evaluate and log metrics, report and figures; ``context`` (run, model, strategy, ...) heads the HTML report.

    ``log=False`` evaluates only (the control's tables are scored by the same evaluation, logged as ``control/*``).
    """
    from synllm_mlops.evaluation import evaluate

    result = evaluate(split.train, split.holdout, synthetic, spec, seed=seed, progress=progress)
    result.context = dict(context or {})
    if log:
        tracking.log_evaluation(result)
    return result


def run_generation(cfg: RunConfig, *, evaluate: bool = True, backend: GenerationBackend | None = None,
                   stage: str | None = None, nested: bool = False, progress: bool = True,
                   run_name: str | None = None, extra_tags: dict[str, str] | None = None,
                   run_id: str | None = None, control_cache: dict | None = None, warn: bool = True) -> RunOutcome:
    """One tracked run: prepare (cheap checks), generate, log, optionally evaluate into the same run.

    An evaluated run also scores ``cfg.control_tables`` no-LLM control tables on the same release and split
    (``control/*``, ``lift/*``; see :mod:`synllm_mlops.control`); ``control_cache`` (one per study or grid)
    reuses a control already scored on the same release and settings. ``run_id`` logs into a run created
    beforehand (a claimed grid cell) instead of a new one. A non-private run is tagged ``synllm.private=false``
    and, with ``warn``, prints one warning line (see :func:`~synllm_mlops.pipeline.not_private_warning`).

    Example:
        >>> from synllm_mlops.config import RunConfig
        >>> out = run_generation(RunConfig(n_rows=20))  # doctest: +SKIP
        >>> out.metrics["gen/validity_rate"]  # doctest: +SKIP
        1.0
    """
    prep = prepare(cfg, warn=warn)  # spec, data, strategy errors surface before any model loads
    backend = backend or make_backend(cfg.backend, cfg.model, spec=prep.spec)
    tracking.check_reachable()  # and a tracking server that is down, before the model loads
    stage = stage or ("main" if evaluate else "generate")
    alias = tracking.model_alias(cfg.model)
    name = run_name or f"{stage}-{cfg.dataset}-{cfg.strategy}-{alias}-s{cfg.seed}"
    with tracking.tracked_run(stage, run_name=name, nested=nested, tags=extra_tags, run_id=run_id,
                              system_metrics=not nested) as run:
        tracking.log_params(cfg.flat_params())
        tracking.set_tags({tracking.PRIVATE_TAG: str(prep.release.private).lower()})
        digest = _log_inputs(prep)
        prompt_text = loggable_prompt_text(prep.prompt)
        prompt_uri = tracking.log_prompt(prep.prompt, prompt_text)
        info = backend.info()
        tracking.log_params({"model_id": info.hf_id, "model_revision": info.revision, "model_dtype": info.dtype,
                             "model_backend": info.backend, "model_device": info.device,
                             **{f"model_{k}": v for k, v in info.extra.items()}})
        if stage in ("main", "trial"):  # the generator as a logged model: the Models view compares runs by it
            tracking.record_generator(
                name=f"generator-{alias}-{cfg.strategy}", params=cfg.flat_params(),
                tags={"synllm.model": cfg.model, "synllm.model_id": info.hf_id, "synllm.strategy": cfg.strategy,
                      "synllm.dataset": cfg.dataset, "synllm.prompt_uri": prompt_uri, "synllm.stage": stage,
                      "synllm.uses_real_rows": str(prep.prompt.uses_real_rows).lower()},
                files={"config.json": cfg.model_dump_json(indent=2), "spec.yaml": prep.spec.to_yaml(),
                       "prompt.json": json.dumps({"prompt_uri": prompt_uri, "strategy": cfg.strategy,
                                                  "uses_real_rows": prep.prompt.uses_real_rows}, indent=2)})
        try:
            return _generate_and_log(prep, backend, cfg, run, stage, evaluate, progress, prompt_text, prompt_uri,
                                     control_cache, digest)
        finally:
            tracking.release_generator()


def _generate_and_log(prep: Prepared, backend: GenerationBackend, cfg: RunConfig, run, stage: str, evaluate: bool,
                      progress: bool, prompt_text: str, prompt_uri: str, control_cache: dict | None,
                      digest: str) -> RunOutcome:
    trace_attrs = {"prompt_uri": prompt_uri, "strategy": cfg.strategy, "model": cfg.model, "dataset": cfg.dataset,
                   "n_rows": cfg.n_rows, "batch_size": cfg.generation.batch_size,
                   "rows_per_completion": cfg.prompt.rows_per_completion, "constrained": cfg.constrained,
                   "calibration": cfg.calibrate.calibration}
    with tracking.generation_trace(trace_attrs, prompt_text) as on_batch:
        gen = generate_rows(prep, backend, progress=progress, on_batch=on_batch)
    tracking.log_metrics(gen.metrics)
    # the run's release (aggregates and the DP ledger, no rows): what registration and serving load back
    tracking.log_text(prep.release.to_json(), RELEASE_ARTIFACT)
    if prep.release.private:
        tracking.log_metrics({"privacy/dp_epsilon_spent": prep.release.epsilon_spent})
    if prep.targets is not None and gen.pool is not None and len(gen.pool):
        from synllm_mlops.calibration import calibration_figure

        tracking.log_figures({"calibration.png": calibration_figure(prep.targets, gen.pool, gen.synthetic)})
    tracking.log_synthetic(gen.synthetic, to_csv(gen.synthetic, prep.spec), gen.rejects)
    if gen.notes:
        tracking.log_text("\n".join(gen.notes), "generation/notes.txt")
        tracking.set_tags({"synllm.incomplete": "; ".join(gen.notes)})
    metrics = dict(gen.metrics)
    describe = dict(model=cfg.model, strategy=cfg.strategy, dataset=cfg.dataset, n_rows_asked=cfg.n_rows,
                    prompt_uri=prompt_uri, stage=stage)
    note = tracking.run_description(metrics=metrics, **describe)  # generation only: no score computed on real data
    tracking.set_tags({tracking.NOTE_TAG: note})
    if gen.interrupted:
        raise KeyboardInterrupt  # mlflow marks the run KILLED; rows and rejects are already logged
    if len(gen.synthetic) == 0:
        reasons = gen.rejects["reason"].value_counts().to_dict()
        raise GenerationError(f"the model wrote no valid row in {int(gen.metrics['gen/completions'])} completions "
                              f"(rejects by reason: {reasons}); rejects are logged in run {run.info.run_id}; try "
                              "constrained=true, another strategy or another model")
    result = None
    if evaluate:
        context = {"run": run.info.run_id, "experiment": tracking.active_experiment_name(), "model": cfg.model,
                   "strategy": cfg.strategy, "prompt": prompt_uri, "dataset": cfg.dataset, "data_digest": digest,
                   "rows": f"{len(gen.synthetic)} of {cfg.n_rows}", "seed": str(cfg.seed)}
        if prep.release.private:  # the report, plots and metrics read exact train rows: not under the run's epsilon
            with tracking.tracked_run("evaluate", run_name=f"evaluate-{run.info.run_name or run.info.run_id[:8]}",
                                      nested=True, tags={tracking.OUTSIDE_DP_TAG: "true",
                                                         "synllm.source_run_id": run.info.run_id}) as child:
                context["run"] = child.info.run_id
                result = _evaluate_into_active_run(prep, gen, cfg, progress, context, describe, metrics, control_cache)
            # the DP run's own page points at its scores without quoting them (they are outside its epsilon)
            where = (f"scores in the nested run `{child.info.run_name}` ({child.info.run_id}), outside the DP "
                     f"guarantee: computed on the exact data")
            tracking.set_tags({tracking.EVALUATION_RUN_TAG: child.info.run_id,
                               tracking.HEADLINE_TAG: f"DP ε {prep.release.epsilon_spent:g} · {where}",
                               tracking.NOTE_TAG: note + f"\n\nDifferentially private release (ε {prep.release.epsilon_spent:g}); {where}."})
        else:
            result = _evaluate_into_active_run(prep, gen, cfg, progress, context, describe, metrics, control_cache)
    return RunOutcome(run.info.run_id, gen.synthetic, metrics, gen, result)


def _evaluate_into_active_run(prep: Prepared, gen: GenerationOutcome, cfg: RunConfig, progress: bool, context: dict,
                              describe: dict, metrics: dict, control_cache: dict | None):
    """Evaluate the table and the control into the active run; ``metrics`` gains what was logged."""
    result = evaluate_and_log(prep.split, gen.synthetic, prep.spec, cfg.seed, progress=progress, context=context)
    metrics.update(result.metrics)
    metrics.update(_log_control(prep, result.metrics, control_cache, progress))
    tracking.set_tags({tracking.HEADLINE_TAG: tracking.headline(metrics, result.summary())})
    tracking.set_tags({tracking.NOTE_TAG: tracking.run_description(metrics=metrics, summary=result.summary(),
                                                                   **describe)})
    return result


def run_repeated(cfg: RunConfig, *, backend: GenerationBackend | None = None, progress: bool = True) -> RunOutcome:
    """``main`` over seeds ``cfg.seed`` .. ``cfg.seed + cfg.repeats - 1``: one parent run, a nested ``main`` run per seed.

    The parent logs every metric of the seeds as its mean with the half-width of the 95 % t-interval over seeds
    (``<metric>_ci95``); ``lift/*`` is paired seed by seed (each seed's table against the control on its own
    release and split), so its interval holds the model's table-to-table spread too, and ``lift/*_mde`` is the
    smallest lift this paired comparison detects. The model loads once.
    """
    from synllm_mlops.evaluation import paired_min_detectable, t_interval

    prepare(cfg)  # every user error before the model loads or a run starts
    backend = backend or make_backend(cfg.backend, cfg.model, spec=load_spec(cfg.dataset))
    alias = tracking.model_alias(cfg.model)
    name = f"main-{cfg.dataset}-{cfg.strategy}-{alias}-s{cfg.seed}x{cfg.repeats}"
    # the parent's metrics are means of the seeds' evaluations: outside a DP run's guarantee, and marked so
    tags = {"synllm.repeats": str(cfg.repeats), tracking.PRIVATE_TAG: str(cfg.private).lower(),
            **({tracking.OUTSIDE_DP_TAG: "true"} if cfg.private else {})}
    with tracking.tracked_run("main", run_name=name, tags=tags) as run:
        tracking.log_params(cfg.flat_params())
        per_seed = []
        for k in range(cfg.repeats):
            seed_cfg = cfg.model_copy(update={"seed": cfg.seed + k, "repeats": 1})
            per_seed.append(run_generation(seed_cfg, backend=backend, stage="main", nested=True, progress=progress,
                                           control_cache={}, warn=False).metrics)  # prepare above warned once
        metrics: dict[str, float] = {"repeats/seeds": float(cfg.repeats)}
        names = sorted({k for m in per_seed for k in m if not k.endswith(("_ci95", "_mde"))})
        for key in names:
            values = [m.get(key, float("nan")) for m in per_seed]
            mean, half = t_interval(values)
            if mean != mean:  # NaN: no seed has it
                continue
            metrics[key] = mean
            if half == half:
                metrics[f"{key}_ci95"] = half
            if key.startswith("lift/"):
                import numpy as np

                x = np.asarray([v for v in values if v == v])
                if len(x) > 1:
                    metrics[f"{key}_mde"] = paired_min_detectable(float(x.std(ddof=1)), len(x))
        tracking.log_metrics(metrics)
        tracking.set_tags({tracking.HEADLINE_TAG: tracking.headline(metrics) + f" · mean of {cfg.repeats} seeds"})
        scores = {s: metrics.get(s, float("nan")) for s in ("score/quality", "score/privacy", "score/harmonic")}
        note = tracking.run_description(model=cfg.model, strategy=cfg.strategy, dataset=cfg.dataset,
                                        n_rows_asked=cfg.n_rows, metrics=metrics, stage="main",
                                        summary={"scores": scores, "weakest": {}})
        tracking.set_tags({tracking.NOTE_TAG: note + f"\n\nMeans over {cfg.repeats} seeds (nested runs); ± is the 95 % "
                                                     "t-interval over seeds, the lift paired by seed."})
        return RunOutcome(run.info.run_id, pd.DataFrame(), metrics, per_seed=per_seed)


def _log_control(prep: Prepared, ours: dict[str, float], cache: dict | None, progress: bool) -> dict[str, float]:
    """Score the no-LLM control on the run's release and split; log ``control/*`` and ``lift/*`` (and say why not)."""
    from synllm_mlops.control import score_control

    cfg = prep.config
    if cfg.backend == "stats" or not cfg.control_tables:
        tracking.set_tags({"synllm.control": "none: " + ("this run is the control" if cfg.backend == "stats"
                                                         else "control_tables=0")})
        return {}
    control = score_control(prep, cfg.control_tables, cache=cache, progress=progress,
                            evaluate_table=lambda synthetic, seed: evaluate_and_log(
                                prep.split, synthetic, prep.spec, seed, progress=False, log=False).metrics)
    if control is None:
        tracking.set_tags({"synllm.control": f"none: calibration={cfg.calibrate.calibration} releases no targets for a "
                                             "no-LLM control to sample"})
        return {}
    metrics = control.metrics(ours)
    tracking.log_metrics(metrics)
    tracking.set_tags({"synllm.control": f"stats backend, {len(control.tables)} tables on this run's release and split"})
    return metrics


def run_evaluation(*, run_id: str = "", synthetic: str = "", dataset: str = "", data: str = "", seed: int | None = None,
                   holdout_fraction: float | None = None, progress: bool = True) -> RunOutcome:
    """Evaluate an earlier generation run (by ``run_id``) or a synthetic CSV against a dataset's real splits."""
    if bool(run_id) == bool(synthetic):
        raise ConfigError("evaluate needs exactly one of run_id=<generation run id> or synthetic=<path to a CSV>, "
                          f"got run_id={run_id!r}, synthetic={synthetic!r}; fix: pass either --run-id or --synthetic")
    if synthetic and not Path(synthetic).exists():
        raise ConfigError(f"synthetic file {show(synthetic)} does not exist; fix: pass --synthetic the path of a synthetic "
                          "CSV (or --run-id of the generation run that wrote it)")
    from synllm_mlops.spec import MIN_SYNTHETIC_ROWS, read_csv

    run_digest = ""
    if run_id:
        params = tracking.run_params(run_id)
        dataset = dataset or params.get("dataset", "")
        data = data or params.get("data", "")
        seed = int(float(params.get("seed", 0))) if seed is None else seed  # `mlflow run` logs 0 as 0.0
        holdout_fraction = holdout_fraction or float(params.get("holdout_fraction", 0.2))
        run_digest = params.get("data_digest", "")
        source = f"synthetic table of run {run_id}"
    else:
        raw = read_csv(synthetic, role="synthetic file", min_rows=MIN_SYNTHETIC_ROWS)
        source = f"synthetic file {show(synthetic)}"
    if not dataset:
        raise ConfigError("evaluate needs dataset=<built-in name or spec YAML> when given a synthetic CSV")
    seed = 0 if seed is None else seed
    spec = load_spec(dataset)
    real = load_data(spec, data or None)
    if run_digest:
        _check_run_data(real, data, run_id, run_digest, params.get("data", ""))
    if run_id:
        raw = tracking.download_run_csv(run_id)
    split = split_data(real, spec, seed=seed, holdout_fraction=holdout_fraction or 0.2)
    syn = conform(raw, spec, source=source)
    what = f"run-{run_id[:8]}" if run_id else Path(synthetic).stem
    outside = {tracking.OUTSIDE_DP_TAG: "true"} if run_digest.startswith(KEYED_DIGEST_PREFIX) else {}
    with tracking.tracked_run("evaluate", run_name=f"evaluate-{spec.name}-{what}-s{seed}",
                              tags={"synllm.source_run_id": run_id, **outside} if run_id else None) as run:
        tracking.log_params({"dataset": dataset, "data": data, "seed": seed, "run_id": run_id, "synthetic": synthetic,
                             "n_synthetic": len(syn)})
        context = {"run": run.info.run_id, "experiment": tracking.active_experiment_name(), "dataset": dataset,
                   "rows": str(len(syn)), "seed": str(seed)}
        if run_id:
            context.update({"model": params.get("model", ""), "strategy": params.get("strategy", ""),
                            "prompt": tracking.run_tag(run_id, "synllm.prompt_uri") or "",
                            "data_digest": params.get("data_digest", ""), "source run": run_id})
        result = evaluate_and_log(split, syn, spec, seed, progress=progress, context=context)
        tracking.set_tags({tracking.HEADLINE_TAG: tracking.headline(result.metrics, result.summary())})
        tracking.set_tags({tracking.NOTE_TAG: tracking.run_description(
            model=context.get("model") or "", strategy=context.get("strategy") or "", dataset=dataset,
            n_rows_asked=len(syn), metrics={"gen/rows_valid": float(len(syn)), **result.metrics},
            summary=result.summary(), prompt_uri=context.get("prompt", ""), stage="evaluate",
            source="" if context.get("model") else f"synthetic file `{Path(synthetic).name}`" if synthetic
            else f"the table of run `{run_id}`")})
        return RunOutcome(run.info.run_id, syn, dict(result.metrics), None, result)


def _check_run_data(real: pd.DataFrame, data: str, run_id: str, run_digest: str, original: str) -> None:
    """Refuse real data other than the run's: its digest, keyed as the run keyed it, must be the logged one."""
    private = run_digest.startswith(KEYED_DIGEST_PREFIX)
    if private:
        from synllm_mlops.serving import data_digest_key

        run_key_id = run_digest[len(KEYED_DIGEST_PREFIX):].split(":", 1)[0]
        if _short_id(data_digest_key()) != run_key_id:
            raise ConfigError(
                f"run {run_id} is a DP run: its data digest is keyed (key id {run_key_id}) and this machine's data digest "
                f"key is another ({_short_id(data_digest_key())}), so the data given now cannot be checked against the run's; "
                "fix: evaluate on the machine that ran it, or set SYNLLM_GUARD_KEY to the team key the run used")
    now = logged_digest(real, private)
    if now != run_digest:
        raise ConfigError(
            f"the real data given now ({data or 'the built-in data'}, digest {now}) is not the data run "
            f"{run_id} was generated from (digest {run_digest}): its train/holdout split cannot be rebuilt, so privacy "
            f"and utility would be measured against the wrong rows; fix: pass the run's original --data "
            f"({'it used ' + repr(original) if original else 'it used the built-in data: leave --data out'})")


def run_probe(*, dataset: str = "cirrhosis", data: str = "", model: str = "smollm2-135m", backend: str = "hf",
              n_prefix_fields: int = 0, n_probes: int = 50, seed: int = 0,
              backend_obj: GenerationBackend | None = None) -> RunOutcome:
    """The memorisation probe of one model on one table, as a tracked run (``synllm.stage=probe``).

    Logs ``privacy/memorisation_rate`` (share of real rows the model completes exactly from the header
    and their first ``n_prefix_fields`` fields; default: half the columns), ``privacy/memorisation_baseline``
    (the same completions against a random other row) and per-column rates — never a row or a completion.
    """
    from synllm_mlops.evaluation import memorisation_probe

    spec = load_spec(dataset)
    split = split_data(load_data(spec, data or None), spec, seed=seed)
    k = n_prefix_fields or max(1, len(spec.columns) // 2)
    if not 1 <= k < len(spec.columns):  # checked before the model loads and before any run is started
        raise ConfigError(f"n_prefix_fields must be in [1, {len(spec.columns) - 1}] for the {len(spec.columns)} columns "
                          f"of {spec.name}, got {n_prefix_fields}; fix: pass --n-prefix-fields in that range, or 0 for half "
                          "the columns")
    backend_obj = backend_obj or make_backend(backend, model, spec=spec)
    tracking.check_reachable()
    with tracking.tracked_run("probe", run_name=f"probe-{spec.name}-{model}") as run:
        tracking.log_params({"dataset": dataset, "data": data, "model": model, "backend": backend,
                             "n_prefix_fields": k, "n_probes": n_probes, "seed": seed})
        out = memorisation_probe(backend_obj, spec, split.train, k, n_probes=n_probes, seed=seed)
        metrics = {"privacy/memorisation_rate": out["memorisation_rate"],
                   "privacy/memorisation_baseline": out["baseline_rate"],
                   "privacy/memorisation_parse_rate": out["parse_rate"]}
        tracking.log_metrics(metrics)
        tracking.log_dict(out, "privacy/memorisation_probe.json")
        return RunOutcome(run.info.run_id, pd.DataFrame(), metrics)
