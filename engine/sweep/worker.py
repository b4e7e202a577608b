"""What a worker runs for one cell (a local pool process or a Ray task): compute, never touch the store."""
from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

from engine.sweep.fault_injection import raise_if_injected


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
        with _one_blas_thread():
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


def _one_blas_thread():
    """Limit numpy/scipy's BLAS to one thread for a cell (torch is limited by the protocol itself).

    One thread per cell makes the numbers independent of the machine, and it is much faster when cells
    already fill the cores: the divergence's L-BFGS-B calls ran 15× slower with OpenBLAS's default threads
    on a loaded 2-core machine.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a transitive dependency (scikit-learn); worker_init's env vars still apply
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=1)


def worker_init() -> None:
    """Initializer of a local pool process: one thread for every numeric library."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # effective for libraries not loaded yet in this worker
    import torch

    torch.set_num_threads(1)
