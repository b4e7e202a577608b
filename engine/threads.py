"""One thread for every numeric library: the numbers of a run must not depend on the process that runs it.

A run's divergences go through numpy's OpenBLAS, scipy's own OpenBLAS (L-BFGS-B), POT's and scikit-learn's
OpenMP, and torch. With each at its default thread count, the same cell run in a 2-thread process and in a
Ray worker (which starts with ``OMP_NUM_THREADS=1``) differed in the 8th digit of a divergence: a different
split of a sum rounds differently. Pinning every library to one thread makes them agree to the last digit,
and it is much faster when runs already fill the cores (the divergence's L-BFGS-B calls ran 15× slower with
OpenBLAS's default threads on a loaded 2-core machine).

threadpoolctl limits the pools already loaded; a library first loaded later reads its thread count from the
environment when it loads, so the variables are set as well; torch, when already loaded, is set with
``torch.set_num_threads``.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def one_thread() -> Iterator[None]:
    """Every numeric library on one thread inside the block; the environment and the pools that were
    loaded before it are restored afterwards (a library first loaded inside keeps one thread)."""
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    os.environ.update({var: "1" for var in THREAD_VARS})
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # a transitive dependency (scikit-learn); the variables still apply
            yield
            return
        with threadpool_limits(limits=1):
            yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)


def one_thread_for_good() -> None:
    """The same for a worker process's whole life (a pool initializer): nothing is restored."""
    for var in THREAD_VARS:
        os.environ[var] = "1"
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    global _LIMIT
    _LIMIT = threadpool_limits(limits=1)


_LIMIT = None  # kept alive for the worker's lifetime
