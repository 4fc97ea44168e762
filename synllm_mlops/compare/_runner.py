"""Run a grid: one parent MLflow run, one nested run per cell, finished cells skipped, failures recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from synllm_mlops.compare._grid import Cell, GridConfig, load_grid
from synllm_mlops.compare._leaderboard import LEADERBOARD_METRICS, leaderboard, leaderboard_html
from synllm_mlops.config import RunConfig
from synllm_mlops.errors import CONTINUE_AFTER, ModelLoadError, failure_text
from synllm_mlops.generation import GenerationBackend, check_backend

BackendFactory = Callable[[RunConfig], GenerationBackend]


@dataclass
class CompareOutcome:
    """What a grid run did: the parent run, one row per cell (status, run id, metrics), the leaderboard."""

    run_id: str
    cells: pd.DataFrame
    leaderboard: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


class _Backends:
    """One backend per model, built on first use and reused by every cell of that model.

    Cells come grouped by model, so the previous model is released when the next one is built
    (twenty 7B models do not fit one GPU together).
    """

    def __init__(self, grid: GridConfig):
        self.grid, self._cache = grid, {}

    def __call__(self, cfg: RunConfig) -> GenerationBackend:
        from synllm_mlops.generation import backend_key, make_backend
        from synllm_mlops.spec import load_spec

        spec = load_spec(cfg.dataset)
        key = backend_key(self.grid.backend, cfg.model, spec)
        if key not in self._cache:
            if not any(k[0] == cfg.model for k in self._cache):
                self.release()
            options = self.grid.vllm.model_dump() if self.grid.backend == "vllm" else {}
            self._cache[key] = make_backend(self.grid.backend, cfg.model, spec=spec, **options)
        return self._cache[key]

    def release(self) -> None:
        import gc

        for backend in self._cache.values():
            backend.close()
        self._cache.clear()
        gc.collect()


def _row(cell: Cell, status: str, run_id: str | None, metrics: dict[str, float] | None = None, error: str = "") -> dict:
    c = cell.config
    return {"model": c.model, "strategy": c.strategy, "calibration": c.calibrate.calibration, "dataset": Path(c.dataset).stem,
            "seed": c.seed,
            "status": status, "run_id": run_id, "cell_hash": cell.hash, "error": error, **(metrics or {})}


def _finish_parent(grid: GridConfig, rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leaderboard (CSV + HTML), heatmap and scatter on the parent run."""
    from synllm_mlops import tracking
    from synllm_mlops.compare._figures import harmonic_heatmap, privacy_quality_scatter

    cells = pd.DataFrame(rows)
    for m in LEADERBOARD_METRICS:
        if m not in cells:
            cells[m] = float("nan")
    board = leaderboard(cells)
    tracking.log_dataframe(cells, "compare/cells.csv")
    tracking.log_dataframe(board, "compare/leaderboard.csv")
    tracking.log_text(leaderboard_html(board, title=f"synllm grid {grid.name}"), "compare/leaderboard.html")
    tracking.log_figures({"harmonic_heatmap.png": harmonic_heatmap(cells),
                          "privacy_vs_quality.png": privacy_quality_scatter(cells)})
    return cells, board


def run_compare(config: str | Path | GridConfig, *, backend_factory: BackendFactory | None = None,
                progress: bool = True) -> CompareOutcome:
    """Run every cell of a grid under one parent run (stage ``compare``); resume if re-run.

    A cell whose resolved configuration already has a FINISHED run in the experiment is skipped
    (its metrics still enter the leaderboard). A cell that raises is recorded as a FAILED child
    run with the error, and the grid goes on. Ctrl-C marks the running cell and the parent KILLED;
    finished cells are kept and a re-run resumes.

    Example:
        >>> out = run_compare("experiments/cpu_grid.yaml")  # doctest: +SKIP
        >>> out.leaderboard[["model", "strategy", "dataset", "score/harmonic_mean"]]  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    from synllm_mlops import tracking
    from synllm_mlops import tracking as grid_tracking
    from synllm_mlops.workflow import run_generation

    grid = config if isinstance(config, GridConfig) else load_grid(config)
    cells = grid.cells()
    if backend_factory is None:  # fail before hundreds of cells fail one by one (e.g. vllm not installed)
        check_backend(grid.backend)
    backends = backend_factory or _Backends(grid)
    rows: list[dict] = []
    counts = {"ran": 0, "skipped": 0, "failed": 0}
    with tracking.tracked_run("compare", run_name=f"compare-{grid.name}", tags={"synllm.grid": grid.name}) as parent:
        pid = parent.info.run_id
        tracking.log_params({"config": str(config) if not isinstance(config, GridConfig) else "", "grid": grid.name,
                             "n_cells": len(cells), "backend": grid.backend, "n_rows": grid.n_rows})
        tracking.log_text(grid.model_dump_json(indent=2), "compare/grid.json")
        done = grid_tracking.finished_cells([c.hash for c in cells])
        metrics = grid_tracking.cell_metrics(list(done.values()))
        unavailable: dict[str, str] = {}  # model -> why its backend could not be built
        bar = tqdm(cells, desc=f"grid {grid.name}", unit="cell", disable=not progress)
        try:
            for cell in bar:
                if cell.hash in done:
                    rows.append(_row(cell, "FINISHED", done[cell.hash], metrics[done[cell.hash]]))
                    counts["skipped"] += 1
                    bar.set_postfix(counts, refresh=False)
                    continue
                tags = {grid_tracking.CELL_HASH_TAG: cell.hash, grid_tracking.PARENT_TAG: pid,
                        "synllm.grid": grid.name}
                try:
                    if cell.config.model in unavailable:
                        raise _Unavailable(unavailable[cell.config.model])
                    try:
                        backend = backends(cell.config)
                    except CONTINUE_AFTER as e:  # e.g. weights not on this machine: skip the model's cells
                        unavailable[cell.config.model] = failure_text(e)
                        raise _Unavailable(unavailable[cell.config.model]) from e
                    out = run_generation(cell.config, evaluate=True, backend=backend, stage="main", nested=True,
                                         progress=False, run_name=cell.name, extra_tags=tags)
                    rows.append(_row(cell, "FINISHED", out.run_id, out.metrics))
                    counts["ran"] += 1
                except KeyboardInterrupt:
                    rid = grid_tracking.record_failed_cell(pid, cell.hash, run_name=cell.name,
                                                           params=cell.config.flat_params(),
                                                           error="interrupted by the user", status="KILLED", tags=tags)
                    rows.append(_row(cell, "KILLED", rid, error="interrupted by the user"))
                    raise
                except CONTINUE_AFTER as e:  # a failed cell is data; the grid goes on
                    if isinstance(e, ModelLoadError):  # loading failed inside the run: don't retry every cell
                        unavailable[cell.config.model] = f"{type(e).__name__}: {e}"
                    skipped = isinstance(e, _Unavailable)
                    error = str(e) if skipped else failure_text(e)
                    rid = grid_tracking.record_failed_cell(
                        pid, cell.hash, run_name=cell.name, params=cell.config.flat_params(), error=error,
                        tags={**tags, **({"synllm.cell_skipped": "model not available"} if skipped else {})})
                    rows.append(_row(cell, "FAILED", rid, error=error.splitlines()[0]))
                    counts["failed"] += 1
                finally:
                    bar.set_postfix(counts, refresh=False)
        except KeyboardInterrupt:
            bar.close()
            try:  # keep what finished visible on the parent, then mark it KILLED
                if rows:
                    _finish_parent(grid, rows)
                tracking.log_metrics({f"compare/cells_{k}": v for k, v in counts.items()})
            finally:
                grid_tracking.end_active_run("KILLED")
            raise
        bar.close()
        if isinstance(backends, _Backends):
            backends.release()
        tracking.log_metrics({f"compare/cells_{k}": v for k, v in counts.items()})
        table, board = _finish_parent(grid, rows)
        return CompareOutcome(pid, table, board, counts)


class _Unavailable(Exception):
    """The cell's model could not be built on this machine; its cells are skipped with the reason."""
