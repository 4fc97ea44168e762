"""The ``synllm`` command line: the same entry points as the MLproject, plus spec and model tools."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from synllm_mlops.cli_options import INT, explicit, field_options
from synllm_mlops.compare import compare_cmd
from synllm_mlops.errors import ConfigError, SynLLMError
from synllm_mlops.tuning import tune_cmd



def _run_options(f):
    """``--config`` plus one option per :class:`RunConfig` field (nested groups included)."""
    from synllm_mlops.config import RunConfig

    f = field_options(RunConfig.flat_fields())(f)
    return click.option("--config", "config_file", default="",
                        help="YAML of run settings; flags given here override it, it overrides the defaults")(f)


def _fail(e: Exception) -> None:
    click.echo(f"error: {e}", err=True)
    sys.exit(2)


@click.group()
@click.version_option(package_name="synllm-mlops")
def cli() -> None:
    """synllm: privacy-preserving synthetic medical tables from open LLMs, tracked in MLflow."""
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # the process's setting, made at its entry point


def _generate(evaluate: bool, config_file: str, **kw) -> None:
    from synllm_mlops.config import RunConfig
    from synllm_mlops.workflow import run_generation

    try:
        cfg = RunConfig.from_sources(config_file or None, **explicit(click.get_current_context(), kw))
        out = run_generation(cfg, evaluate=evaluate)
    except SynLLMError as e:
        _fail(e)
    m = out.metrics
    click.echo(f"run {out.run_id}: {int(m['gen/rows_valid'])} valid rows, validity {m['gen/validity_rate']:.3f}, "
               f"{m['gen/rows_per_s']:.2f} rows/s, {m['gen/tokens_per_s']:.1f} tok/s, copies rejected {int(m['gen/copy_rejects'])}")
    if evaluate:
        click.echo("scores: " + ", ".join(f"{k}={m[k]:.3f}" for k in ("score/quality", "score/privacy", "score/harmonic") if k in m))


@cli.command("main")
@_run_options
def main_cmd(config_file: str, **kw) -> None:
    """Generate a synthetic table and evaluate it, in one MLflow run.

    Settings: the defaults, overridden by --config's YAML, overridden by the flags given here.
    """
    _generate(True, config_file, **kw)


@cli.command("generate")
@_run_options
def generate_cmd(config_file: str, **kw) -> None:
    """Generate a synthetic table (no evaluation), in one MLflow run (settings as for ``main``)."""
    _generate(False, config_file, **kw)


@cli.command("evaluate")
@click.option("--run-id", "run_id", default="", help="a generation run to evaluate")
@click.option("--synthetic", default="", help="or a synthetic CSV path")
@click.option("--dataset", default="", help="dataset (taken from the run when --run-id is given)")
@click.option("--data", default="", help="real CSV path (empty = built-in / the run's)")
@click.option("--seed", default=None, type=INT, help="split seed (default: the run's, else 0)")
def evaluate_cmd(run_id: str, synthetic: str, dataset: str, data: str, seed: int | None) -> None:
    """Evaluate a generation run or a synthetic CSV against the real train/holdout splits."""
    from synllm_mlops.workflow import run_evaluation

    try:
        out = run_evaluation(run_id=run_id, synthetic=synthetic, dataset=dataset, data=data, seed=seed)
    except SynLLMError as e:
        _fail(e)
    click.echo(f"run {out.run_id}: " + ", ".join(f"{k}={v:.3f}" for k, v in out.metrics.items() if k.startswith("score/")))


@cli.command("probe")
@click.option("--dataset", default="cirrhosis", show_default=True, help="built-in dataset name or spec YAML path")
@click.option("--data", default="", help="real CSV path (empty = the dataset's built-in data)")
@click.option("--model", default="smollm2-135m", show_default=True, help="catalog alias, HF id or local dir")
@click.option("--backend", default="hf", show_default=True, help="hf | vllm | fake (tests)")
@click.option("--n-prefix-fields", "n_prefix_fields", default=0, type=INT, help="fields shown (0 = half the columns)")
@click.option("--n-probes", "n_probes", default=50, show_default=True, type=INT, help="real rows probed")
@click.option("--seed", default=0, show_default=True, type=INT)
def probe_cmd(**kw) -> None:
    """Memorisation probe: how often the model completes real rows of a (public) table exactly."""
    from synllm_mlops.workflow import run_probe

    if kw["n_probes"] < 1 or kw["n_prefix_fields"] < 0 or kw["seed"] < 0:
        _fail(ConfigError(f"n_probes must be >= 1, n_prefix_fields >= 0 and seed >= 0, got n_probes={kw['n_probes']}, "
                          f"n_prefix_fields={kw['n_prefix_fields']}, seed={kw['seed']}"))
    try:
        out = run_probe(**kw)
    except SynLLMError as e:
        _fail(e)
    m = out.metrics
    click.echo(f"run {out.run_id}: memorisation rate {m['privacy/memorisation_rate']:.3f} "
               f"(chance baseline {m['privacy/memorisation_baseline']:.3f})")


@cli.group("spec")
def spec_group() -> None:
    """Dataset spec tools."""


@spec_group.command("infer")
@click.argument("csv_path")
@click.option("-o", "--output", default=None, help="write the YAML here instead of printing it")
@click.option("--name", default=None, help="dataset name (default: the file's stem)")
@click.option("--target", default=None, help="target column (default: the last column)")
def spec_infer(csv_path: str, output: str | None, name: str | None, target: str | None) -> None:
    """Draft a spec for any CSV; it works as dataset= right away (review ranges and rules)."""
    from synllm_mlops.spec import infer_spec

    try:
        text = infer_spec(csv_path, name=name, target=target).to_yaml()
    except (SynLLMError, ValueError) as e:
        _fail(e)
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@spec_group.command("check")
@click.argument("dataset")
@click.option("--data", default="", help="CSV to check against the spec")
def spec_check(dataset: str, data: str) -> None:
    """Check a spec (and its data) and print a summary."""
    from synllm_mlops.spec import load_data, load_spec

    try:
        spec = load_spec(dataset)
        df = load_data(spec, data or None)
    except SynLLMError as e:
        _fail(e)
    click.echo(f"spec {spec.name}: {len(spec.columns)} columns, {len(spec.rules)} rules; data OK: {len(df)} rows")


@cli.command("models")
def models_cmd() -> None:
    """List the model catalog and which models are available on this machine."""
    from synllm_mlops.generation import CATALOG

    click.echo(f"{'alias':32} {'available':9} {'params':>7} {'kind':10} hf id")
    for ref in CATALOG.values():
        click.echo(f"{ref.alias:32} {'yes' if ref.is_available() else 'no':9} {ref.params_b:6.2f}B "
                   f"{'chat' if ref.chat else 'completion':10} {ref.hf_id}")


cli.add_command(compare_cmd)
cli.add_command(tune_cmd)


def main() -> None:  # console script
    cli()


if __name__ == "__main__":
    main()
