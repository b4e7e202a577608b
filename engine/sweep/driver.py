"""The sweep driver: submit cells to a backend, record each result from this process, retry failures.

Only the driver talks to the store, through :class:`engine.record.RunLedger` — the operations single runs
use — so a shared PostgreSQL store works and an SQLite file is never written from two hosts. The ledger
lives as long as the driver: its one SIGTERM handler marks every open run failed, however the cells
finished before, and the driver exits with status 1.

A cell whose key already has a finished run is skipped, and its recorded numbers appear in the summary. A
cell's run is opened when the cell is first submitted and closed when its result arrives (cells finish in
any order); a cell that raises is resubmitted up to ``retries`` times, then its run is marked failed with
the error, and the other cells go on. A cell *lost* with its worker or node (the backend says so) is
resubmitted at once, to wherever the backend has room, without using up its retries — up to
:data:`LOST_RESUBMITS` times, so a cell that kills every worker it lands on still ends.

A driver that dies without a word (SIGKILL) leaves its open runs ``running``; started again, it skips the
finished cells, and opening a cell's run records the dead driver's run under that key ``abandoned``
(:mod:`graph.run_owner`) before running the cell again.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from engine.sweep.backends import make_backend
from engine.sweep.cells import Cell, expand
from engine.sweep.spec import SweepSpec
from engine.sweep.summary import SweepReport

Events = Callable[[str, Cell], None]
LOST_RESUBMITS = 3


def plan_sweep(spec: SweepSpec, graph: Any = None) -> tuple[list[Cell], int]:
    """The spec's cells, those already finished in ``graph`` marked ``skipped`` (with their recorded
    results), and the number of duplicate grid points merged. Runs nothing."""
    cells, duplicates = expand(spec)
    if graph is not None:
        finished = {n.attrs["config_hash"]: n for n in graph.nodes(kind="run")
                    if n.attrs.get("status") == "finished" and n.attrs.get("config_hash")}
        for cell in cells:
            if cell.key in finished:
                _mark_skipped(cell, finished[cell.key])
    return cells, duplicates


def run_sweep(spec: SweepSpec, backend: str = "local", *, graph: Any = None, address: str | None = None,
              workers: int | None = None, retries: int | None = None, progress: bool = True,
              on_event: Events | None = None) -> SweepReport:
    """Run every cell of ``spec`` not already finished in ``graph``; record each result from this process.

    ``graph`` None runs without a store (nothing skipped, nothing recorded). ``retries`` overrides the
    spec's. ``on_event(kind, cell)`` is called on "submitted", "finished", "retry", "resubmitted" (lost with
    its worker or node), "failed", "skipped".
    Raises only for problems of the sweep itself (bad spec, backend unavailable, interruption: then every
    open run is marked failed first); a failing cell is retried, then reported in ``report.failed``.
    """
    retries = spec.retries if retries is None else retries
    if retries < 0:
        raise ValueError("retries must be at least 0.")
    start = time.perf_counter()
    cells, duplicates = plan_sweep(spec, graph)
    report = SweepReport(spec, {"backend": backend}, cells, duplicates, recorded=graph is not None)
    emit: Events = on_event or (lambda kind, cell: None)
    queue: deque[Cell] = deque()
    for cell in cells:
        if cell.status == "skipped":
            emit("skipped", cell)
        else:
            queue.append(cell)
    if queue:
        from engine.record import RunLedger

        if spec.task == "boundless":  # the tiny model is trained here once; workers read it from the cache
            from engine.sweep.boundless import prepare_driver

            prepare_driver(spec.settings)
        with RunLedger(graph) if graph is not None else nullcontext() as ledger:
            runner = make_backend(backend, spec, address=address, workers=workers)
            report.backend = runner.describe()
            try:
                _Loop(runner, ledger, retries, emit, _Bar(len(queue), progress)).run(queue)
            finally:
                report.abandoned = list(ledger.abandoned) if ledger is not None else []
    report.wall_time_s = round(time.perf_counter() - start, 2)
    return report


class _Loop:
    """One pass of the driver over a queue of cells; ``ledger`` None records nothing."""

    def __init__(self, runner: Any, ledger: Any, retries: int, emit: Events, bar: _Bar):
        self.runner, self.ledger, self.retries, self.emit, self.bar = runner, ledger, retries, emit, bar
        self.inflight: dict[Any, Cell] = {}
        self.done = self.failed = self.retried = 0

    def run(self, queue: deque[Cell]) -> None:
        aborted = False
        try:
            while queue or self.inflight:
                self._submit(queue)
                self._show()
                if self.inflight:
                    for handle, outcome in self.runner.wait(list(self.inflight), timeout=1.0):
                        self._collect(self.inflight.pop(handle), outcome, queue)
        except BaseException:  # SIGTERM, Ctrl-C, a store error: stop the cells; the ledger fails their runs
            aborted = True
            self.runner.cancel(list(self.inflight))
            raise
        finally:
            self.bar.close()
            self.runner.close(abort=aborted)

    def _show(self, advance: int = 0) -> None:
        self.bar.show(self.done, len(self.inflight), self.failed, self.retried, advance=advance)

    def _submit(self, queue: deque[Cell]) -> None:
        while queue and len(self.inflight) < self.runner.slots:
            cell = queue.popleft()
            if cell.attempts == 0 and self.ledger is not None:
                handle = _open(self.ledger, cell)
                if handle.run_id is None:  # another driver finished it meanwhile
                    _mark_skipped(cell, handle.existing)
                    self.emit("skipped", cell)
                    self._show(advance=1)
                    continue
                cell.run_id = handle.run_id
            cell.attempts += 1
            cell.status = "running"
            self.inflight[self.runner.submit(cell)] = cell
            self.emit("submitted", cell)

    def _collect(self, cell: Cell, outcome: Any, queue: deque[Cell]) -> None:
        cell.host = outcome.payload.get("host", cell.host)
        cell.duration_s = outcome.payload.get("duration_s")
        if outcome.ok:
            cell.data = outcome.payload["data"]
            if self.ledger is not None:
                _finish(self.ledger, cell)
            cell.status, cell.error = "finished", None
            self.done += 1
            self.emit("finished", cell)
            self._show(advance=1)
            return
        cell.error = outcome.payload.get("error") or "unknown error"
        if outcome.lost and cell.resubmits < LOST_RESUBMITS:  # not the cell's failure: run it elsewhere
            cell.status = "pending"
            cell.resubmits += 1
            queue.appendleft(cell)
            self.retried += 1
            self.emit("resubmitted", cell)
            return
        if cell.attempts - cell.resubmits <= self.retries:
            cell.status = "pending"
            queue.append(cell)
            self.retried += 1
            self.emit("retry", cell)
            return
        cell.status = "failed"
        if self.ledger is not None:
            attempts = f"{cell.attempts} attempt{'s' if cell.attempts > 1 else ''}"
            self.ledger.fail(cell.run_id, f"{cell.error} (after {attempts})")
        self.failed += 1
        self.emit("failed", cell)
        self._show(advance=1)


def _open(ledger: Any, cell: Cell) -> Any:
    """Open a cell's run (the handle of the finished one when it exists), by the cell's task."""
    if cell.task == "boundless":
        from engine.sweep.boundless import open_run

        return open_run(ledger, cell.config)
    from engine.record_synthetic import open_synthetic_run

    return open_synthetic_run(ledger, cell.config.to_json())


def _finish(ledger: Any, cell: Cell) -> None:
    if cell.task == "boundless":
        from engine.sweep.boundless import finish_run

        finish_run(ledger, cell.run_id, cell.data)
        return
    from engine.record_synthetic import finish_synthetic_run

    finish_synthetic_run(ledger, cell.run_id, cell.data)


def _mark_skipped(cell: Cell, existing: Any) -> None:
    """The cell was recorded before: its result comes from the run node (a synthetic run's ``summary``, a
    Boundless run's ``result``)."""
    cell.status = "skipped"
    cell.run_id = existing.id
    cell.data = existing.attrs.get("result" if cell.task == "boundless" else "summary")


class _Bar:
    """The live progress line on stderr: cells done, running, failed and retried."""

    def __init__(self, total: int, enabled: bool):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc="sweep", unit="cell", disable=not enabled, file=sys.stderr,
                         dynamic_ncols=True)

    def show(self, done: int, running: int, failed: int, retried: int, advance: int = 0) -> None:
        self._bar.set_postfix(done=done, running=running, failed=failed, retried=retried, refresh=not advance)
        if advance:
            self._bar.update(advance)

    def close(self) -> None:
        self._bar.close()
