"""The ``synllm tune`` command (MLproject entry point ``tune``)."""

from __future__ import annotations

import sys

import click


def _int():
    from synllm_mlops.cli import _INT  # lazily: cli imports this module

    return _INT


class _LazyInt(click.ParamType):
    """cli's integer type (accepts MLflow's ``20.0``), resolved on first use to avoid an import cycle."""

    name = "integer"

    def convert(self, value, param, ctx):
        return _int().convert(value, param, ctx)


_I = _LazyInt()


@click.command("tune")
@click.option("--dataset", default="cirrhosis", show_default=True, help="built-in dataset name or spec YAML path")
@click.option("--data", default="", help="real CSV path (empty = the dataset's built-in data)")
@click.option("--model", default="smollm2-135m", show_default=True, help="catalog alias, HF id or local dir")
@click.option("--models", default="", help="comma-separated models to search over (default: just --model)")
@click.option("--backend", default="hf", hidden=True, envvar="SYNLLM_BACKEND", help="hf | vllm | fake (tests)")
@click.option("--n-trials", "n_trials", default=20, show_default=True, type=_I, help="trials this process runs (0 = only summarise/register)")
@click.option("--timeout", "timeout_s", default=0.0, show_default=True, type=float, help="stop starting trials after N s (0 = none)")
@click.option("--storage", default="", help="optuna.sqlite3 (default) | path.journal | postgresql://user@host:port/db")
@click.option("--study-name", "study_name", default="", help="default synllm-<dataset>; same name = resume")
@click.option("--seed", default=0, show_default=True, type=_I, help="data split + generation seed of every trial")
@click.option("--sampler", default="tpe", show_default=True, type=click.Choice(["tpe", "nsga2", "random"]))
@click.option("--sampler-seed", "sampler_seed", default=-1, type=_I, help="default: --seed; give each worker its own")
@click.option("--strategies", default="seed_ex,featdesc,statguide,clin_rule", show_default=True)
@click.option("--tune-dp", "tune_dp", default=False, show_default=True, type=click.BOOL, help="also search dp_epsilon")
@click.option("--n-rows", "n_rows", default=20, show_default=True, type=_I, help="rows per trial")
@click.option("--batch-size", "batch_size", default=8, show_default=True, type=_I)
@click.option("--constrained", default=True, show_default=True, type=click.BOOL)
@click.option("--min-validity", "min_validity", default=0.9, show_default=True, type=float)
@click.option("--min-rule-adherence", "min_rule_adherence", default=0.8, show_default=True, type=float)
@click.option("--register", "register_champion", default=True, show_default=True, type=click.BOOL, help="register the champion generator")
@click.option("--registered-model", "registered_model", default="", help="default synllm-<dataset>")
@click.option("--champion-trial", "champion_trial", default=-1, type=_I, help="trial to register (-1 = best feasible Pareto)")
@click.option("--allow-real-rows", "allow_real_rows", default=False, type=click.BOOL,
              help="allow registering a seed_ex trial (its prompt holds real rows)")
def tune_cmd(sampler_seed: int, champion_trial: int, **kw) -> None:
    """Optuna search over prompt and sampling parameters (quality up, privacy risk down)."""
    from synllm_mlops.errors import SynLLMError
    from synllm_mlops.tuning import TuneConfig, tune

    try:
        cfg = TuneConfig.build(**kw, sampler_seed=None if sampler_seed < 0 else sampler_seed,
                               champion_trial=None if champion_trial < 0 else champion_trial)
        res = tune(cfg)
    except SynLLMError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted: finished trials are kept in the study storage; rerun to resume", err=True)
        sys.exit(130)
    t = res.table
    click.echo(f"study {cfg.study_name}: {len(t)} trials ({int((t['state'] == 'COMPLETE').sum())} complete, "
               f"{int((t['state'] == 'FAIL').sum())} failed), Pareto hypervolume {res.hypervolume:.4f}, parent run {res.run_id}")
    if res.model_uri:
        click.echo(f"champion trial {res.champion_trial} registered as {res.model_uri} (version {res.model_version})")
