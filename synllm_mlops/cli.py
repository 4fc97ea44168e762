"""The ``synllm`` command line: the same entry points as the MLproject, plus spec and model tools."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from synllm_mlops.cli_options import explicit, field_options
from synllm_mlops.compare import compare_cmd
from synllm_mlops.config import EvaluateConfig, ProbeConfig
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


class _OneLineError(click.ClickException):
    """A usage error (unknown flag, missing value) shown as every other error: one ``error:`` line, exit 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _Group(click.Group):
    """The ``synllm`` group: click's usage errors (its own and its commands') become one ``error:`` line."""

    @staticmethod
    def _one_line(e: click.UsageError, where: str) -> _OneLineError:
        where = e.ctx.command_path if e.ctx is not None else where
        text = " ".join(e.format_message().split()).rstrip(".")  # click wraps suggestions over several lines
        return _OneLineError(f"{text[0].lower()}{text[1:]}{' ' if text.endswith('?') else '; '}fix: see `{where} --help`")

    def make_context(self, info_name, args, *rest, **kwargs):
        try:
            return super().make_context(info_name, args, *rest, **kwargs)
        except click.UsageError as e:
            raise self._one_line(e, info_name or "synllm") from None

    def resolve_command(self, ctx, args):
        name, cmd, rest = super().resolve_command(ctx, args)
        ctx.meta["synllm.command"] = name  # so a usage error of that command points at its own --help
        return name, cmd, rest

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            sub = ctx.meta.get("synllm.command")
            raise self._one_line(e, f"{ctx.command_path} {sub}" if sub else ctx.command_path) from None


@click.group(cls=_Group)
@click.version_option(package_name="synllm-mlops")
def cli() -> None:
    """synllm: privacy-preserving synthetic medical tables from open LLMs, tracked in MLflow."""
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # the process's setting, made at its entry point


def _generate(evaluate: bool, config_file: str, **kw) -> None:
    from synllm_mlops.config import RunConfig
    from synllm_mlops.errors import ConfigError
    from synllm_mlops.workflow import run_generation, run_repeated

    try:
        cfg = RunConfig.from_sources(config_file or None, **explicit(click.get_current_context(), kw))
        if cfg.repeats > 1 and not evaluate:
            raise ConfigError(f"repeats={cfg.repeats} summarises evaluated runs over seeds, and generate does not "
                              "evaluate; fix: use main, or repeats=1")
        out = run_repeated(cfg) if cfg.repeats > 1 else run_generation(cfg, evaluate=evaluate)
    except SynLLMError as e:
        _fail(e)
    m = out.metrics
    if cfg.repeats > 1:
        click.echo(f"run {out.run_id}: {cfg.repeats} seeds; " + ", ".join(
            f"{k}={m[k]:.3f} ± {m.get(k + '_ci95', float('nan')):.3f}" for k in ("score/quality", "score/privacy",
                                                                                 "score/harmonic", "lift/score/harmonic")
            if k in m))
        return
    click.echo(f"run {out.run_id}: {int(m['gen/rows_valid'])} valid rows, validity {m['gen/validity_rate']:.3f}, "
               f"{m['gen/rows_per_s']:.2f} rows/s, {m['gen/tokens_per_s']:.1f} tok/s, copies rejected {int(m['gen/copy_rejects'])}")
    if evaluate:
        click.echo("scores: " + ", ".join(f"{k}={m[k]:.3f}" for k in ("score/quality", "score/privacy", "score/harmonic") if k in m))
        if "lift/score/harmonic" in m:
            click.echo(f"no-LLM control (stats backend, same release): score/harmonic={m['control/score/harmonic']:.3f}; "
                       f"lift {m['lift/score/harmonic']:+.3f} ± {m.get('lift/score/harmonic_ci95', float('nan')):.3f} "
                       f"(smallest detectable {m.get('lift/score/harmonic_mde', float('nan')):.3f})")


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
@field_options(EvaluateConfig.model_fields)
def evaluate_cmd(**kw) -> None:
    """Evaluate a generation run or a synthetic CSV against the real train/holdout splits."""
    from synllm_mlops.workflow import run_evaluation

    try:
        cfg = EvaluateConfig.build(**explicit(click.get_current_context(), kw))
        out = run_evaluation(**cfg.model_dump())
    except SynLLMError as e:
        _fail(e)
    click.echo(f"run {out.run_id}: " + ", ".join(f"{k}={v:.3f}" for k, v in out.metrics.items() if k.startswith("score/")))


@cli.command("probe")
@field_options(ProbeConfig.model_fields)
def probe_cmd(**kw) -> None:
    """Memorisation probe: how often the model completes real rows of a (public) table exactly."""
    from synllm_mlops.workflow import run_probe

    try:
        cfg = ProbeConfig.build(**explicit(click.get_current_context(), kw))
        out = run_probe(**cfg.model_dump())
    except SynLLMError as e:
        _fail(e)
    m = out.metrics
    click.echo(f"run {out.run_id}: memorisation rate {m['privacy/memorisation_rate']:.3f} "
               f"(chance baseline {m['privacy/memorisation_baseline']:.3f})")


@cli.group("spec")
def spec_group() -> None:
    """Dataset spec tools."""


def _is_spec_file(path: Path) -> bool:
    """Whether ``path`` holds a spec YAML (a mapping with 'columns'): the only file ``-o`` replaces unasked."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError, OSError):
        return False
    return isinstance(raw, dict) and "columns" in raw


def _check_output(output: str, csv_path: str, force: bool) -> Path:
    """Where ``spec infer -o`` may write: never over its input, a directory, or (without --force) a non-spec file."""
    out = Path(output)
    if out.is_dir():
        raise ConfigError(f"output {output!r} is a directory; pass a file path, e.g. -o {Path(output) / 'spec.yaml'}")
    if out.exists() and Path(csv_path).exists() and out.resolve() == Path(csv_path).resolve():
        raise ConfigError(f"output {output!r} is the input data file; writing the spec there would overwrite your "
                          "data: pass another path, e.g. -o " + str(Path(output).with_suffix(".yaml")))
    if out.exists() and not force and not _is_spec_file(out):
        raise ConfigError(f"output {output!r} exists and is not a spec YAML; pass another path, or --force to "
                          "overwrite it")
    if not out.parent.is_dir():
        raise ConfigError(f"output {output!r}: folder {str(out.parent)!r} does not exist; create it first")
    return out


@spec_group.command("infer")
@click.argument("csv_path")
@click.option("-o", "--output", default=None, help="write the YAML here instead of printing it")
@click.option("--force", is_flag=True, default=False, help="let -o overwrite an existing file that is not a spec")
@click.option("--name", default=None, help="dataset name (default: the file's stem)")
@click.option("--target", default=None, help="target column (default: the last column)")
def spec_infer(csv_path: str, output: str | None, force: bool, name: str | None, target: str | None) -> None:
    """Draft a spec for any CSV; it works as dataset= right away (review ranges and rules).

    ``-o`` never writes over its input; it replaces an existing spec YAML, and any other file only with --force.
    """
    from synllm_mlops.spec import infer_spec

    try:
        out = _check_output(output, csv_path, force) if output else None
        text = infer_spec(csv_path, name=name, target=target).to_yaml()
    except SynLLMError as e:
        _fail(e)
    if out is None:
        click.echo(text, nl=False)
        return
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)  # whole or not at all
    click.echo(f"wrote {output}")


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
