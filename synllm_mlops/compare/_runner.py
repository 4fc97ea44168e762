"""Run a grid: one parent MLflow run, one nested run per cell, finished cells skipped, failures recorded."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from synllm_mlops.compare._grid import Cell, GridConfig, in_shard, load_grid
from synllm_mlops.compare._leaderboard import LEADERBOARD_METRICS, leaderboard, leaderboard_html
from synllm_mlops.config import RunConfig
from synllm_mlops.errors import CONTINUE_AFTER, ModelLoadError, failure_text
from synllm_mlops.generation import GenerationBackend

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
        key = (cfg.backend, *backend_key(cfg.backend, cfg.model, spec))
        if key not in self._cache:
            if not any(k[:2] == key[:2] for k in self._cache):
                self.release()
            options = self.grid.vllm.model_dump() if cfg.backend == "vllm" else {}
            self._cache[key] = make_backend(cfg.backend, cfg.model, spec=spec, **options)
        return self._cache[key]

    def release(self) -> None:
        import gc

        for backend in self._cache.values():
            backend.close()
        self._cache.clear()
        gc.collect()


def _row(cell: Cell, status: str, run_id: str | None, metrics: dict[str, float] | None = None, error: str = "") -> dict:
    c = cell.config
    return {"arm": cell.arm, "model": c.model, "strategy": c.strategy, "calibration": c.calibrate.calibration,
            "dataset": Path(c.dataset).stem, "seed": c.seed,
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
    # arms of one model are rows of their own in the figures
    view = cells.assign(model=cells["arm"] + ": " + cells["model"]) if grid.arms else cells
    tracking.log_figures({"harmonic_heatmap.png": harmonic_heatmap(view),
                          "privacy_vs_quality.png": privacy_quality_scatter(view)})
    return cells, board


def _check_decoding(cells: list[Cell]) -> None:
    """What each distinct (backend, dataset, constrained, calibration) of the grid asks of the decoder, checked once
    up front (e.g. a backend whose package is missing, or steering on a backend that cannot steer)."""
    from synllm_mlops.pipeline import check_decoding
    from synllm_mlops.spec import load_spec

    seen: set[tuple] = set()
    for c in cells:
        cfg = c.config
        key = (cfg.backend, cfg.dataset, cfg.constrained, cfg.calibrate.calibration, cfg.calibrate.steer_strength)
        if key not in seen:
            seen.add(key)
            check_decoding(cfg, load_spec(cfg.dataset))


def run_compare(config: str | Path | GridConfig, *, backend_factory: BackendFactory | None = None,
                progress: bool = True, shard: tuple[int, int] | None = None, claim: bool = False) -> CompareOutcome:
    """Run every cell of a grid under one parent run (stage ``compare``); resume if re-run.

    A cell whose identity (resolved configuration, spec digest, data digest) already has a FINISHED run in
    the experiment is skipped (its metrics still enter the leaderboard). A cell that raises is recorded as a
    FAILED child run with the error, and the grid goes on. Ctrl-C marks the running cell and the parent
    KILLED; finished cells are kept and a re-run resumes.

    Args:
        shard: ``(k, n)``: run only the cells whose hash falls in shard ``k`` of ``n`` (one SLURM array task each).
        claim: share the grid with other workers on the same tracking store: claim each cell before running it
            (see ``compare/_claim.py``), take over the cells of workers whose heartbeat stopped, and wait until
            every cell is settled, so the leaderboard of every worker's parent run is complete.

    Example:
        >>> out = run_compare("experiments/cpu_grid.yaml")  # doctest: +SKIP
        >>> out.leaderboard[["model", "strategy", "dataset", "score/harmonic_mean"]]  # doctest: +SKIP
    """
    from synllm_mlops import tracking

    grid = config if isinstance(config, GridConfig) else load_grid(config)
    cells = [c for c in grid.cells() if shard is None or in_shard(c.hash, shard)]
    if backend_factory is None:  # fail before hundreds of cells fail one by one (e.g. vllm not installed)
        _check_decoding(cells)
    tags = {"synllm.grid": grid.name, **({"synllm.shard": f"{shard[0]}/{shard[1]}"} if shard else {})}
    name = f"compare-{grid.name}" + (f"-{shard[0]}of{shard[1]}" if shard else "")
    with tracking.tracked_run("compare", run_name=name, tags=tags) as parent:
        pid = parent.info.run_id
        tracking.log_params({"config": str(config) if not isinstance(config, GridConfig) else "", "grid": grid.name,
                             "n_cells": len(cells), "backend": grid.backend, "n_rows": grid.n_rows,
                             "shard": f"{shard[0]}/{shard[1]}" if shard else "", "claim": str(claim).lower(),
                             "arms": ",".join(a.name for a in grid.arms)})
        tracking.log_text(grid.model_dump_json(indent=2), "compare/grid.json")
        runner = _GridRun(grid, cells, pid, backend_factory or _Backends(grid), progress)
        try:
            if claim:
                runner.run_claimed()
            else:
                runner.run_all()
        except KeyboardInterrupt:
            runner.bar.close()
            try:  # keep what finished visible on the parent, then mark it KILLED
                if runner.rows:
                    _finish_parent(grid, runner.rows)
                tracking.log_metrics({f"compare/cells_{k}": v for k, v in runner.counts.items()})
            finally:
                tracking.end_active_run("KILLED")
            raise
        runner.bar.close()
        if isinstance(runner.backends, _Backends):
            runner.backends.release()
        rows = sorted(runner.rows, key=lambda r: runner.order[r["cell_hash"]])  # grid order, whoever ran them
        tracking.log_metrics({f"compare/cells_{k}": v for k, v in runner.counts.items()})
        if not rows:  # a shard that drew no cell of a small grid
            tracking.set_tags({"synllm.compare_empty": "no cell in this shard"})
            return CompareOutcome(pid, pd.DataFrame(), pd.DataFrame(), runner.counts)
        table, board = _finish_parent(grid, rows)
        return CompareOutcome(pid, table, board, runner.counts)


class _GridRun:
    """The cells of one parent run: run (or claim and run) each, one row per cell, counts."""

    def __init__(self, grid: GridConfig, cells: list[Cell], parent_id: str, backends: BackendFactory, progress: bool):
        from tqdm.auto import tqdm

        self.grid, self.cells, self.pid, self.backends = grid, cells, parent_id, backends
        self.order = {c.hash: i for i, c in enumerate(cells)}
        self.rows: list[dict] = []
        self.counts = {"ran": 0, "skipped": 0, "failed": 0}
        self.unavailable: dict[str, str] = {}  # model -> why its backend could not be built
        self.bar = tqdm(total=len(cells), desc=f"grid {grid.name}", unit="cell", disable=not progress)
        self.heartbeat = None

    def _done(self, row: dict, count: str) -> None:
        self.rows.append(row)
        self.counts[count] += 1
        self.bar.update(1)
        self.bar.set_postfix(self.counts, refresh=False)

    def run_all(self) -> None:
        """One worker: skip the cells that have a FINISHED run, run the others in grid order."""
        from synllm_mlops import tracking

        done = tracking.finished_cells([c.hash for c in self.cells])
        metrics = tracking.cell_metrics(list(done.values()))
        for cell in self.cells:
            if cell.hash in done:
                self._done(_row(cell, "FINISHED", done[cell.hash], metrics[done[cell.hash]]), "skipped")
            else:
                self._run(cell)

    def run_claimed(self) -> None:
        """Many workers: pass over the open cells, claiming each before running it, until every cell is settled;
        between passes that ran nothing (the rest is running elsewhere), wait one heartbeat interval."""
        from synllm_mlops import tracking
        from synllm_mlops.compare._claim import Claims, Heartbeat

        claims = Claims(self.pid)
        pending = _rotate_models(self.cells, claims.worker)
        with Heartbeat(self.pid, claims.interval) as self.heartbeat:
            while pending:
                snapshot, progressed, still = claims.snapshot(pending), False, []
                for cell in pending:
                    state = claims.state(snapshot.get(cell.hash, []))
                    if state.kind == "open":
                        rid = claims.claim(cell, run_name=cell.name, tags=self._tags(cell))
                        if rid is not None:
                            self._run(cell, rid)
                            progressed = True
                            continue
                        state = claims.state(tracking.cell_runs(cell_hash=cell.hash).get(cell.hash, []))
                    if state.kind == "finished":
                        metrics = tracking.cell_metrics([state.run_id])[state.run_id]
                        self._done(_row(cell, "FINISHED", state.run_id, metrics), "skipped")
                    elif state.kind == "failed":
                        error = tracking.run_tag(state.run_id, "synllm.cell_error") or "failed in another worker"
                        self._done(_row(cell, "FAILED", state.run_id, error=error.splitlines()[0]), "failed")
                    else:  # running elsewhere, or both claims backed off: look again on the next pass
                        still.append(cell)
                pending = still
                if pending and not progressed:
                    time.sleep(claims.interval)

    def _tags(self, cell: Cell) -> dict[str, str]:
        from synllm_mlops import tracking

        arm = {} if not cell.arm else {
            "synllm.arm": cell.arm, **({"synllm.arm_model": "none: backend stats writes rows without a language model, "
                                        "so the arm runs once per dataset x seed"}
                                       if cell.config.backend == "stats" else {})}
        return {tracking.CELL_HASH_TAG: cell.hash, tracking.PARENT_TAG: self.pid, "synllm.grid": self.grid.name,
                "synllm.spec_digest": cell.spec_digest, "synllm.data_digest": cell.data_digest, **arm}

    def _run(self, cell: Cell, run_id: str | None = None) -> None:
        """Run one cell (into ``run_id`` when it was claimed); an error is recorded and the grid goes on."""
        from synllm_mlops import tracking
        from synllm_mlops.workflow import run_generation

        tags = self._tags(cell)
        if self.heartbeat is not None:
            self.heartbeat.cell = run_id
        try:
            if cell.config.model in self.unavailable:
                raise _Unavailable(self.unavailable[cell.config.model])
            try:
                backend = self.backends(cell.config)
            except CONTINUE_AFTER as e:  # e.g. weights not on this machine: skip the model's cells
                self.unavailable[cell.config.model] = failure_text(e)
                raise _Unavailable(self.unavailable[cell.config.model]) from e
            out = run_generation(cell.config, evaluate=True, backend=backend, stage="main", nested=True,
                                 progress=False, run_name=cell.name, extra_tags=tags, run_id=run_id)
            self._done(_row(cell, "FINISHED", out.run_id, out.metrics), "ran")
        except KeyboardInterrupt:
            rid = tracking.record_failed_cell(self.pid, cell.hash, run_name=cell.name,
                                              params=cell.config.flat_params(),
                                              error="interrupted by the user", status="KILLED", tags=tags)
            self.rows.append(_row(cell, "KILLED", rid, error="interrupted by the user"))
            raise
        except CONTINUE_AFTER as e:  # a failed cell is data; the grid goes on
            if isinstance(e, ModelLoadError):  # loading failed inside the run: don't retry every cell
                self.unavailable[cell.config.model] = f"{type(e).__name__}: {e}"
            skipped = isinstance(e, _Unavailable)
            error = str(e) if skipped else failure_text(e)
            rid = tracking.record_failed_cell(
                self.pid, cell.hash, run_name=cell.name, params=cell.config.flat_params(), error=error,
                tags={**tags, **({"synllm.cell_skipped": "model not available"} if skipped else {})})
            self._done(_row(cell, "FAILED", rid, error=error.splitlines()[0]), "failed")
        finally:
            if self.heartbeat is not None:
                self.heartbeat.cell = None


def _rotate_models(cells: list[Cell], worker: str) -> list[Cell]:
    """The cells, still grouped by model, starting at a model chosen by the worker's id: workers that start
    together spread over the models instead of all loading the first one (each loads fewer models)."""
    import hashlib

    models = list(dict.fromkeys(c.config.model for c in cells))
    if not models:
        return []
    start = int(hashlib.sha256(worker.encode()).hexdigest(), 16) % len(models)
    rank = {m: (i - start) % len(models) for i, m in enumerate(models)}
    return sorted(cells, key=lambda c: rank[c.config.model])  # stable: grid order within a model


class _Unavailable(Exception):
    """The cell's model could not be built on this machine; its cells are skipped with the reason."""
