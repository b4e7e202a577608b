"""Turning engine results into findings: the one module of the engine that talks to the graph.

The engine itself knows nothing of storage; a protocol returns result objects, and a :class:`RunLedger`
records them through three explicit operations:

* ``open`` — before any compute starts, a ``run`` node with status ``running`` (config, site, divergence
  measure, code identity, git commit, packages, device, host and pid, its owner); returns the run id, or the
  finished run already recorded under the same key (then nothing is opened). Runs under the same key that
  a dead process left ``running`` are first recorded ``abandoned`` (:mod:`graph.run_owner`), so their work
  is done again;
* ``finish`` — one finding per result through :mod:`graph.runs`, and the run marked ``finished``, in one
  transaction;
* ``fail`` — the run marked ``failed`` with the error; no finding is written.

A ledger lives as long as the process that drives the runs (a single ``findings run`` or a whole sweep):
entering it installs one SIGTERM handler, which raises :class:`RunInterrupted` in the main thread; leaving
it with any exception (that one, Ctrl-C, a store error) marks every run still open ``failed``, whatever the
order in which runs were opened and closed. While runs are open, a daemon thread sets their
``heartbeat_at`` every :data:`graph.run_owner.HEARTBEAT_S` seconds, which tells other hosts the owner lives.

A run's key (:func:`run_key`, stored as ``config_hash``) hashes its configuration together with the code
identity (:mod:`engine.code_identity`): the same configuration run with the same code is not recorded
again, and any change to that code gives a new key.
"""
from __future__ import annotations

import os
import platform
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from engine.code_identity import code_version, git_state, installed_versions
from graph import run_owner, runs
from graph.api import Graph

PACKAGES = ("findings-explorer", "torch", "numpy", "pot", "transformers", "sentence-transformers", "sqlalchemy")


def package_versions() -> dict[str, str]:
    return installed_versions(PACKAGES)


def environment(device: str = "cpu") -> dict[str, Any]:
    """Where and with what a run is computed; ``host`` and ``pid`` name the process that owns the run."""
    return {
        "code_version": code_version(), **git_state(), "packages": package_versions(), "device": device,
        "host": socket.gethostname(), "pid": os.getpid(), "python": platform.python_version(),
    }


def run_key(config: dict[str, Any]) -> str:
    """The key a run is stored and looked up under: its configuration and the code identity, hashed."""
    return runs.config_hash({"config": config, "code_version": code_version()})


class RunInterrupted(SystemExit):
    """Raised in the main thread when the process receives SIGTERM; exits with status 1 if not caught."""

    def __init__(self, signum: int):
        super().__init__(1)
        self.signal_name = signal.Signals(signum).name

    def __str__(self) -> str:
        return f"stopped by signal {self.signal_name}"


@dataclass(frozen=True)
class RunIdentity:
    """What ``open`` stores a run under, for runs of code other than the engine's (:mod:`findings`): its key
    (``config_hash``), its provenance (stored in place of :func:`environment`), the run node's ``source``, and
    whether a finished run with the same key stands in for it (``reuse``; False where the code has no
    identity to compare)."""

    key: str
    provenance: dict[str, Any]
    source: dict[str, Any]
    reuse: bool = True


@dataclass
class RunHandle:
    """What ``open`` gives: the new run's id, or (``run_id`` None) the finished run with the same key."""

    run_id: str | None
    key: str
    existing: Any = None  # that finished run's node


class RunLedger:
    """The runs this process has open, and the one SIGTERM handler that fails them all.

    Use it as a context manager around everything that opens runs::

        with RunLedger(graph) as ledger:
            handle = ledger.open(title=..., config=..., site=..., divergence_measure=...)
            if handle.run_id is not None:
                ledger.finish(handle.run_id, results)   # or ledger.fail(handle.run_id, error)

    Runs may be opened and closed in any order. Leaving the block with an exception marks every open run
    failed with that exception and lets it go on; leaving it normally with runs still open marks them failed
    too (a result was never given). The SIGTERM handler is installed only from the main thread (the only
    one Python delivers signals to) and the previous handler is put back on leaving.
    """

    def __init__(self, graph: Graph):
        self.graph = graph
        self._open: dict[str, str] = {}  # run id -> title, in opening order
        self._previous: Any = None
        self._installed = False
        self._closing = False
        self._shield = 0  # > 0 while the store and this ledger's bookkeeping are being brought in step
        self._pending: int | None = None  # a signal that arrived meanwhile
        self._stop_beating = threading.Event()
        self._beater: threading.Thread | None = None
        self.abandoned: list[tuple[str, str]] = []  # (run id, reason) of the runs taken over here

    # -- the process-wide part ------------------------------------------------------------------------
    def __enter__(self) -> RunLedger:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
            self._installed = True
        self._stop_beating.clear()
        self._beater = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)
        self._beater.start()
        return self

    def _beat(self) -> None:
        """Every HEARTBEAT_S seconds, tell the store that this process's open runs are alive."""
        while not self._stop_beating.wait(run_owner.HEARTBEAT_S):
            open_now = list(self._open)
            if not open_now:
                continue
            try:
                runs.heartbeat(self.graph, open_now)
            except Exception as exc:  # noqa: BLE001 - a missed beat is not fatal; the next one may pass
                print(f"warning: run heartbeat failed: {exc}", file=sys.stderr)

    def _on_sigterm(self, signum: int, _frame: Any) -> None:
        if self._closing:  # already failing the open runs: let that finish
            return
        if self._shield:  # between a store write and its bookkeeping: stop right after
            self._pending = signum
            return
        raise RunInterrupted(signum)

    @contextmanager
    def _shielded(self) -> Iterator[None]:
        """Defer SIGTERM while a run is created or closed, so the store and ``open_runs`` always agree."""
        self._shield += 1
        try:
            yield
        finally:
            self._shield -= 1
        if not self._shield and self._pending is not None and not self._closing:
            signum, self._pending = self._pending, None
            raise RunInterrupted(signum)

    def __exit__(self, exc_type, exc, _tb) -> None:
        self._closing = True
        self._stop_beating.set()
        try:
            if self._open:
                error = f"{exc_type.__name__}: {exc}" if exc_type else "closed without a result"
                failed = self.fail_all(error)
                if isinstance(exc, RunInterrupted):
                    print(f"{exc}: marked {len(failed)} open run(s) failed: {', '.join(failed)}", file=sys.stderr)
        finally:
            if self._installed:
                signal.signal(signal.SIGTERM, self._previous)
                self._installed = False
            self._closing = False

    @property
    def open_runs(self) -> list[str]:
        """Ids of the runs opened here and not yet finished or failed."""
        return list(self._open)

    # -- the three operations -------------------------------------------------------------------------
    def open(self, *, title: str, config: dict[str, Any], site: str | None, divergence_measure: str | None,
             device: str = "cpu", description: str = "", identity: RunIdentity | None = None) -> RunHandle:
        """Start a run (status ``running``, committed at once) unless one with the same key has finished.

        ``identity`` replaces the engine's key, environment and source (:func:`run_key`, :func:`environment`)
        for a run of other code; without it the run is the engine's."""
        key = identity.key if identity else run_key(config)
        for run_id, reason in runs.mark_abandoned(self.graph, key):
            self.abandoned.append((run_id, reason))
            print(f"run {run_id} was abandoned ({reason}); running it again", file=sys.stderr)
        existing = runs.find_finished_run(self.graph, key) if identity is None or identity.reuse else None
        if existing is not None:
            return RunHandle(None, key, existing)
        attrs = {"config": config, "config_hash": key, "site": site, "divergence_measure": divergence_measure,
                 "seeds": config.get("seeds"), **(identity.provenance if identity else environment(device)),
                 "description": description}
        with self._shielded():
            run_id = runs.start_run(self.graph, title, attrs, identity.source if identity else None)
            self._open[run_id] = title
        return RunHandle(run_id, key)

    def finish(self, run_id: str, results: list[runs.Result], extra_attrs: dict | None = None) -> dict[str, Any]:
        """Write the results as findings and mark the run finished (one transaction); returns the report."""
        self._require_open(run_id)
        with self._shielded():
            report = runs.finish_run(self.graph, run_id, results, extra_attrs=extra_attrs)
            self._open.pop(run_id, None)
        return report

    def fail(self, run_id: str, error: str) -> None:
        """Mark the run failed with ``error``; it writes no finding."""
        self._require_open(run_id)
        with self._shielded():
            runs.fail_run(self.graph, run_id, error)
            self._open.pop(run_id, None)

    def fail_all(self, error: str) -> list[str]:
        """Mark every open run failed with ``error``; returns their ids. Each is tried even if one fails."""
        failed, problems = [], []
        for run_id in list(self._open):
            try:
                runs.fail_run(self.graph, run_id, error)
                failed.append(run_id)
            except Exception as exc:  # noqa: BLE001 - the store may be what broke; try the others anyway
                problems.append(f"{run_id}: {exc}")
            self._open.pop(run_id, None)
        if problems:
            print("could not mark as failed: " + "; ".join(problems), file=sys.stderr)
        return failed

    def _require_open(self, run_id: str) -> None:
        if run_id not in self._open:
            raise ValueError(f"run {run_id} is not open in this process")
