"""The ``synllm tune`` command (MLproject entry point ``tune``): options generated from :class:`TuneConfig`."""

from __future__ import annotations

import sys

import click

from synllm_mlops.cli_options import explicit, field_options
from synllm_mlops.config import RunConfig
from synllm_mlops.tuning._study import _RUN_DEFAULTS, TuneConfig, tune


@click.command("tune")
@click.option("--config", "config_file", default="",
              help="YAML of settings (study and base run); flags given here override it, it overrides the defaults")
@field_options(TuneConfig.tune_fields())
@field_options(RunConfig.flat_fields(), defaults=_RUN_DEFAULTS, hidden=("backend",))
def tune_cmd(config_file: str, **kw) -> None:
    """Optuna search over prompt and sampling parameters (quality up, privacy risk down).

    The run options set the base run of every trial; the search overrides the dimensions it searches.
    """
    import optuna

    from synllm_mlops.config import merge_sources
    from synllm_mlops.errors import SynLLMError
    from synllm_mlops.settings import settings

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the CLI's choice; a library caller keeps its own
    try:
        given = explicit(click.get_current_context(), kw)
        if "backend" not in given and settings().backend:  # tests run the team stack on the fake backend
            given["backend"] = settings().backend
        cfg = TuneConfig.build(**merge_sources(config_file or None, given))
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
