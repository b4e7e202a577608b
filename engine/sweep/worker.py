"""What a worker runs for one cell (a local pool process or a Ray task): compute, never touch the store."""
from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

from engine.sweep.fault_injection import raise_if_injected
from engine.threads import one_thread


def run_cell(config: Any, inject_failure: bool = False) -> dict[str, Any]:
    """Run one cell in this process; never raises for the cell's own errors (they come back as data).

    Returns ``{"ok": True, "data": ...}`` — a synthetic cell's ``SyntheticSummary.to_json()``, a Boundless
    cell's ``SweepResult.to_json()`` (:mod:`engine.sweep.boundless`) — or ``{"ok": False, "error", "traceback"}``,
    with the worker's host, pid and the cell's duration. Touches no database.
    """
    start = time.perf_counter()
    out: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        raise_if_injected(inject_failure)
        with one_thread():
            if isinstance(config, dict) and config.get("task") == "boundless":
                from engine.sweep.boundless import run_boundless_cell

                data = run_boundless_cell(config)
            else:
                from engine.protocol import run_synthetic

                data = run_synthetic(config, workers=1, progress=False).to_json()
        out.update(ok=True, data=data)
    except Exception as exc:  # reported to the driver, which retries or records the failure
        out.update(ok=False, error=f"{type(exc).__name__}: {exc}".strip(), traceback=traceback.format_exc())
    out["duration_s"] = round(time.perf_counter() - start, 3)
    return out

