"""Turning engine results into findings: the one module of the engine that talks to the graph.

The engine itself knows nothing of storage; a protocol returns result objects, and this module
(1) opens a ``run`` node before any compute starts (status ``running``), (2) on success writes one
finding per metric × split summary through :mod:`graph.runs` and marks the run ``finished``, all in one
transaction, and (3) on any failure or interruption (an exception, Ctrl-C, SIGTERM) marks the run
``failed`` and writes no finding. A run whose configuration hash matches a finished run is not
recorded again.
"""
from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph import runs
from graph.api import Graph

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("findings-explorer", "torch", "numpy", "pot", "transformers", "sentence-transformers", "sqlalchemy")


def code_version() -> str | None:
    """The git commit of the project checkout (with ``+dirty`` when it has local changes), if any."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def environment(device: str = "cpu") -> dict[str, Any]:
    return {
        "code_version": code_version(), "packages": package_versions(), "device": device,
        "host": socket.gethostname(), "pid": os.getpid(), "python": platform.python_version(),
    }


class RunInterrupted(Exception):
    """Raised in the main thread when the run receives SIGTERM."""


@dataclass
class RunHandle:
    run_id: str | None  # None when an identical finished run was found
    existing: Any = None  # that run's node
    report: dict | None = None


@contextmanager
def recorded_run(graph: Graph, *, title: str, config: dict[str, Any], site: str, divergence_measure: str | None,
                 device: str = "cpu", description: str = "") -> Iterator[RunHandle]:
    """Open a run node; mark it failed if the body raises or the process is told to stop."""
    chash = runs.config_hash(config)
    existing = runs.find_finished_run(graph, chash)
    if existing is not None:
        yield RunHandle(None, existing)
        return
    attrs = {"config": config, "config_hash": chash, "site": site, "divergence_measure": divergence_measure,
             "seeds": config.get("seeds"), **environment(device)}
    handle = RunHandle(runs.start_run(graph, title, {**attrs, "description": description}))

    def _on_term(signum, _frame):
        raise RunInterrupted(f"stopped by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        yield handle
    except BaseException as exc:  # KeyboardInterrupt and SIGTERM included: the run is failed, then re-raised
        runs.fail_run(graph, handle.run_id, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
