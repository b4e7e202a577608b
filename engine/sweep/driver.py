"""The sweep driver: submit cells to a backend, record each result from this process, retry failures.

Only the driver talks to the store, through :mod:`engine.record` — the path single runs take — so a shared
PostgreSQL store works and an SQLite file is never written from two hosts. A cell whose config hash (full
protocol config + code version) already has a finished run is skipped, and its recorded numbers appear in
the summary. A run node is opened when a cell is submitted and finished when its result arrives; a cell
that raises is resubmitted up to ``retries`` times, then its run is marked failed with the error, and the
other cells go on.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from engine.sweep.backends import make_backend
from engine.sweep.cells import Cell, expand
from engine.sweep.spec import SweepSpec
from engine.sweep.summary import SweepReport

Events = Callable[[str, Cell], None]


class SweepCellError(Exception):
    """A cell failed on every attempt; its run is marked failed with this message."""


class _Recorder:
    """Opens a run node per submitted cell and closes it with findings or a failure (engine.record)."""

    def __init__(self, graph: Any):
        self.graph = graph
        self._open: dict[int, Any] = {}  # cell index -> open context manager

    def finished_runs(self) -> dict[str, Any]:
        """Finished runs in the store by config hash (one pass, for the upfront skip)."""
        if self.graph is None:
            return {}
        return {n.attrs["config_hash"]: n for n in self.graph.nodes(kind="run")
                if n.attrs.get("status") == "finished" and n.attrs.get("config_hash")}

    def config_hash(self, cell: Cell) -> str:
        from engine.record import synthetic_run_config
        from graph.runs import config_hash

        return config_hash(synthetic_run_config(cell.config.to_json()))

    def open(self, cell: Cell) -> Any:
        """Start the cell's run; return the existing finished run instead when there is one."""
        if self.graph is None:
            return None
        from engine.record import open_synthetic_run

        cm = open_synthetic_run(self.graph, cell.config.to_json())
        handle = cm.__enter__()
        if handle.run_id is None:
            cm.__exit__(None, None, None)
            return handle.existing
        cell.run_id = handle.run_id
        self._open[cell.index] = (cm, handle)
        return None

    def finish(self, cell: Cell, data: dict[str, Any]) -> None:
        if cell.index not in self._open:
            return
        from engine.record import finish_synthetic_run

        cm, handle = self._open.pop(cell.index)
        try:
            finish_synthetic_run(self.graph, handle, data)
        except BaseException as exc:
            cm.__exit__(type(exc), exc, exc.__traceback__)
            raise
        cm.__exit__(None, None, None)

    def fail(self, cell: Cell, exc: BaseException) -> None:
        if cell.index not in self._open:
            return
        cm, _ = self._open.pop(cell.index)
        try:
            cm.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException as raised:  # the context re-raises what it recorded
            if raised is not exc:
                raise

    def fail_all(self, exc: BaseException) -> None:
        for index in list(self._open):
            cm, _ = self._open.pop(index)
            try:
                cm.__exit__(type(exc), exc, exc.__traceback__)
            except BaseException:  # noqa: BLE001 - each open run is closed before the interruption goes on
                pass


def plan_sweep(spec: SweepSpec, graph: Any = None) -> tuple[list[Cell], int]:
    """The spec's cells, those already finished in ``graph`` marked ``skipped`` (with their recorded
    results), and the number of duplicate grid points merged. Runs nothing."""
    cells, duplicates = expand(spec)
    recorder = _Recorder(graph)
    finished_runs = recorder.finished_runs()
    if finished_runs:
        for cell in cells:
            existing = finished_runs.get(recorder.config_hash(cell))
            if existing is not None:
                _mark_skipped(cell, existing)
    return cells, duplicates


def run_sweep(spec: SweepSpec, backend: str = "local", *, graph: Any = None, address: str | None = None,
              workers: int | None = None, retries: int | None = None, progress: bool = True,
              on_event: Events | None = None) -> SweepReport:
    """Run every cell of ``spec`` not already finished in ``graph``; record each result from this process.

    ``graph`` None runs without a store (nothing skipped, nothing recorded). ``retries`` overrides the
    spec's. ``on_event(kind, cell)`` is called on "submitted", "finished", "retry", "failed", "skipped".
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
        runner = make_backend(backend, spec, address=address, workers=workers)
        report.backend = runner.describe()
        _Loop(runner, _Recorder(graph), retries, emit, _Bar(len(queue), progress)).run(queue)
    report.wall_time_s = round(time.perf_counter() - start, 2)
    return report


class _Loop:
    """One pass of the driver over a queue of cells."""

    def __init__(self, runner: Any, recorder: _Recorder, retries: int, emit: Events, bar: _Bar):
        self.runner, self.recorder, self.retries, self.emit, self.bar = runner, recorder, retries, emit, bar
        self.inflight: dict[Any, Cell] = {}
        self.done = self.failed = self.retried = 0

    def run(self, queue: deque[Cell]) -> None:
        import signal

        sigterm = signal.getsignal(signal.SIGTERM)
        aborted = False
        try:
            while queue or self.inflight:
                self._submit(queue)
                self._show()
                if self.inflight:
                    for handle, outcome in self.runner.wait(list(self.inflight), timeout=1.0):
                        self._collect(self.inflight.pop(handle), outcome, queue)
        except BaseException as exc:  # Ctrl-C, SIGTERM, a store error: close every open run as failed
            aborted = True
            self.runner.cancel(list(self.inflight))
            self.recorder.fail_all(exc)
            raise
        finally:
            signal.signal(signal.SIGTERM, sigterm)  # open runs each swapped the handler; put the driver's back
            self.bar.close()
            self.runner.close(abort=aborted)

    def _show(self, advance: int = 0) -> None:
        self.bar.show(self.done, len(self.inflight), self.failed, self.retried, advance=advance)

    def _submit(self, queue: deque[Cell]) -> None:
        while queue and len(self.inflight) < self.runner.slots:
            cell = queue.popleft()
            if cell.attempts == 0:
                existing = self.recorder.open(cell)  # another driver may have finished it meanwhile
                if existing is not None:
                    _mark_skipped(cell, existing)
                    self.emit("skipped", cell)
                    self._show(advance=1)
                    continue
            cell.attempts += 1
            cell.status = "running"
            self.inflight[self.runner.submit(cell)] = cell
            self.emit("submitted", cell)

    def _collect(self, cell: Cell, outcome: Any, queue: deque[Cell]) -> None:
        cell.host = outcome.payload.get("host", cell.host)
        cell.duration_s = outcome.payload.get("duration_s")
        if outcome.ok:
            cell.data = outcome.payload["data"]
            self.recorder.finish(cell, cell.data)
            cell.status, cell.error = "finished", None
            self.done += 1
            self.emit("finished", cell)
            self._show(advance=1)
            return
        cell.error = outcome.payload.get("error") or "unknown error"
        if cell.attempts <= self.retries:
            cell.status = "pending"
            queue.append(cell)
            self.retried += 1
            self.emit("retry", cell)
            return
        cell.status = "failed"
        self.recorder.fail(cell, SweepCellError(f"{cell.error} (after {cell.attempts} attempt"
                                                f"{'s' if cell.attempts > 1 else ''})"))
        self.failed += 1
        self.emit("failed", cell)
        self._show(advance=1)


def _mark_skipped(cell: Cell, existing: Any) -> None:
    cell.status = "skipped"
    cell.run_id = existing.id
    cell.data = existing.attrs.get("summary")


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
