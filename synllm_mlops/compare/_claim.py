"""Many workers, one grid: a worker claims a cell by creating its MLflow run, then checks that no other claim
beat it; a killed worker's cells (RUNNING, heartbeat stale) are failed and claimed again by another.

MLflow run creation is not a lock: two workers can create runs for one cell at the same moment. The claim is
therefore two-phase, and safe on any tracking store whose searches see every write that completed before them
(a PostgreSQL or SQLite backend store, or an ``mlflow server`` in front of one):

1. create the cell's run (RUNNING, tagged with the cell hash, this worker and a heartbeat), then read the cell's
   runs: back off (delete the run) if the cell is FINISHED, or if another live claim is marked ``won`` or is
   older (start time, then run id);
2. mark the run ``won``, read again: back off if any *other* live claim is marked ``won``.

Of two claims that both reach phase 2, the later reader sees the other's mark (each mark is written before its
own read), so at most one runs the cell; both may back off, and the cell is then claimed on a later pass. No
clock decides safety: start times (the clients' clocks) only choose who backs off in phase 1.

A live claim has status RUNNING and a heartbeat tag newer than the grace period (``SYNLLM_HEARTBEAT_S`` x 3, as
for tuning workers). A stale one is ended FAILED (``synllm.incomplete``), with its worker's parent run, and the
cell is open again. RUNNING cell runs without a heartbeat tag (a grid run without ``--claim``) are not claims.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass

from synllm_mlops import tracking
from synllm_mlops.compare._grid import Cell
from synllm_mlops.tuning import heartbeat, worker_id

_ERROR_TAG = "synllm.cell_error"
_SKIPPED_TAG = "synllm.cell_skipped"  # model not available on the machine that tried


@dataclass(frozen=True)
class CellState:
    """What the store says about a cell now: ``finished`` / ``failed`` (settled), ``busy`` (live claim), ``open``."""

    kind: str
    run_id: str | None = None


class Claims:
    """The claim protocol for one worker (one parent run); ``worker`` tags its claims (default: a new id)."""

    def __init__(self, parent_id: str, worker: str | None = None):
        self.parent_id, self.worker = parent_id, worker or worker_id()
        self.interval, self.grace = heartbeat()
        self.started_ms = int(time.time() * 1000)

    def live(self, run: tracking.CellRun, now: float) -> bool:
        return run.status == "RUNNING" and run.heartbeat is not None and now - run.heartbeat <= self.grace

    def snapshot(self, cells: list[Cell]) -> dict[str, list[tracking.CellRun]]:
        """Every run of these cells (one query)."""
        return tracking.cell_runs([c.hash for c in cells])

    def state(self, runs: list[tracking.CellRun]) -> CellState:
        """Settle a cell from its runs, ending the runs of workers that stopped sending heartbeats."""
        now = time.time()
        for r in reversed(runs):  # newest first
            if r.status == "FINISHED":
                return CellState("finished", r.run_id)
        busy = None
        for r in runs:
            if r.status != "RUNNING" or r.heartbeat is None:
                continue
            if self.live(r, now):
                busy = busy or r
            else:
                self._end_lost(r, now)
        if busy is not None:
            return CellState("busy", busy.run_id)
        for r in reversed(runs):  # a cell that failed (an error is data) since this worker started is settled,
            # unless its model was missing on that machine: this one may have it
            if (r.status == "FAILED" and _ERROR_TAG in r.tags and r.start_time >= self.started_ms
                    and _SKIPPED_TAG not in r.tags):
                return CellState("failed", r.run_id)
        return CellState("open")

    def _end_lost(self, run: tracking.CellRun, now: float) -> None:
        worker = run.tags.get(tracking.WORKER_TAG, "?")
        reason = f"worker lost: {worker} sent no heartbeat for {now - run.heartbeat:.0f} s (grace {self.grace} s)"
        if tracking.end_lost_run(run.run_id, reason):
            parent = run.tags.get(tracking.PARENT_TAG)
            # its grid run too, unless that worker is still beating on it (only this cell's beat stopped)
            if parent and parent != self.parent_id and not self._parent_alive(parent, now):
                tracking.end_lost_run(parent, reason)

    def _parent_alive(self, parent_id: str, now: float) -> bool:
        hb = tracking.run_tag(parent_id, tracking.HEARTBEAT_TAG)
        try:
            return now - float(hb) <= self.grace
        except (TypeError, ValueError):
            return False

    def claim(self, cell: Cell, *, run_name: str, tags: dict[str, str]) -> str | None:
        """Create the cell's run and keep it only if no other worker holds the cell; the run id, or None."""
        mine = tracking.create_cell_run(self.parent_id, cell.hash, run_name=run_name, tags={
            **tags, tracking.WORKER_TAG: self.worker, tracking.HEARTBEAT_TAG: f"{time.time():.3f}"})
        key = (mine.start_time, mine.run_id)
        if self._beaten(cell, mine.run_id, lambda r: r.tags.get(tracking.CLAIM_TAG) == "won"
                        or (r.start_time, r.run_id) < key):
            return None
        tracking.set_run_tags(mine.run_id, {tracking.CLAIM_TAG: "won"})
        if self._beaten(cell, mine.run_id, lambda r: r.tags.get(tracking.CLAIM_TAG) == "won"):
            return None
        return mine.run_id

    def _beaten(self, cell: Cell, mine: str, beats) -> bool:
        now = time.time()
        others = [r for r in tracking.cell_runs(cell_hash=cell.hash).get(cell.hash, []) if r.run_id != mine]
        if any(r.status == "FINISHED" for r in others) or any(self.live(r, now) and beats(r) for r in others):
            tracking.discard_run(mine)
            return True
        return False


class Heartbeat:
    """A daemon thread that refreshes the heartbeat tag of the parent run and of the cell being run."""

    def __init__(self, parent_id: str, interval: float):
        self.parent_id, self.interval = parent_id, interval
        self.cell: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="synllm-grid-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _beat(self) -> None:
        try:
            tracking.beat([self.parent_id] + ([self.cell] if self.cell else []))
        except Exception as e:  # a missed beat is not fatal; three in a row let another worker take the cell
            warnings.warn(f"grid heartbeat failed: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=1)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()
