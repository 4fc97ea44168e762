"""``synllm compare``: run a grid YAML (also the MLproject ``compare`` entry point)."""

from __future__ import annotations

import sys

import click


@click.command("compare")
@click.option("--config", default="experiments/cpu_grid.yaml", show_default=True,
              help="grid YAML: models x strategies x datasets x seeds")
@click.option("--shard", default="", show_default=True, metavar="K/N",
              help="run only shard K of N (cells partitioned by hash, 0 <= K < N), e.g. "
                   "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; empty: every cell")
@click.option("--claim", type=click.BOOL, default=False, show_default=True,
              help="share the grid with other workers on the same MLFLOW_TRACKING_URI: claim each cell before "
                   "running it, retry cells of workers whose heartbeat stopped, wait until every cell is settled")
def compare_cmd(config: str, shard: str, claim: bool) -> None:
    """Run a grid of models x strategies x datasets x seeds; re-running resumes (finished cells are skipped)."""
    from synllm_mlops.compare._grid import parse_shard
    from synllm_mlops.compare._runner import run_compare
    from synllm_mlops.errors import SynLLMError

    try:
        out = run_compare(config, shard=parse_shard(shard), claim=claim)
    except SynLLMError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    c = out.counts
    click.echo(f"parent run {out.run_id}: {c['ran']} cells ran, {c['skipped']} already finished, {c['failed']} failed")
    cols = ["model", "strategy", "dataset", "n_cells", "score/harmonic_mean", "score/harmonic_ci95"]
    if len(out.leaderboard) and out.leaderboard["arm"].astype(bool).any():
        cols = ["arm", *cols]
    if len(out.leaderboard):
        click.echo(out.leaderboard[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
