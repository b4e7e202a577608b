"""Where cells run: a spawned process pool on this machine, or one Ray task per cell.

``local``: ``workers`` processes, one cell each at a time. ``ray``: one task per cell, with the spec's
``resources`` (``num_cpus``, ``num_gpus``, ``memory``) declared per task, against ``address`` (an existing
cluster: ``auto``, ``HOST:6379`` or ``ray://HOST:10001``) or a local Ray instance with ``workers`` CPUs bound
to 127.0.0.1. Ray is an optional extra (``findings-explorer[ray]``) and is imported only by its backend.

A backend has ``slots`` (cells at a time), ``describe()``, ``submit(cell) -> handle``,
``wait(handles, timeout) -> [(handle, Outcome)]``, ``cancel(handles)`` and ``close(abort)``. An outcome is
``lost`` when the machinery, not the cell, failed — a pool process or a Ray worker died, a Ray node died,
its result was lost —, so the driver resubmits the cell elsewhere without counting it as the cell's failure.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from engine.sweep.cells import Cell
from engine.sweep.spec import Resources, SweepSpec
from engine.sweep.worker import run_cell
from engine.threads import one_thread_for_good

BACKENDS = ("local", "ray")


def default_workers() -> int:
    """Cells at a time when ``workers`` is not given: min(2, CPUs), as ``findings run`` (a shared machine)."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class Outcome:
    """What came back for one submitted cell: ``run_cell``'s dict, or the error that lost it (``lost``: a
    worker, a node or the result died, not the cell)."""

    ok: bool
    payload: dict[str, Any]
    lost: bool = False


class LocalBackend:
    """A spawned process pool on this machine: one cell per worker process at a time."""

    name = "local"

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError("workers must be at least 1.")
        self.slots = workers
        self._pool = self._new_pool()

    def _new_pool(self):
        import concurrent.futures as cf
        import multiprocessing

        return cf.ProcessPoolExecutor(max_workers=self.slots, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=one_thread_for_good)

    def describe(self) -> dict[str, Any]:
        return {"backend": "local", "workers": self.slots}

    def submit(self, cell: Cell):
        return self._pool.submit(run_cell, cell.config, cell.inject_failure)

    def wait(self, handles: list, timeout: float) -> list[tuple[Any, Outcome]]:
        import concurrent.futures as cf
        from concurrent.futures.process import BrokenProcessPool

        done, _ = cf.wait(handles, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out = []
        broken = False
        for fut in done:
            try:
                result = fut.result()
                out.append((fut, Outcome(result["ok"], result)))
            except BrokenProcessPool as exc:
                broken = True
                out.append((fut, Outcome(False, {"error": f"worker process died ({exc})"}, lost=True)))
            except Exception as exc:  # e.g. the result could not be unpickled
                out.append((fut, Outcome(False, {"error": f"{type(exc).__name__}: {exc}"})))
        if broken:  # a dead worker breaks the whole pool: start a new one for the retries
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
        return out

    def cancel(self, handles: list) -> None:
        for fut in handles:
            fut.cancel()

    def close(self, abort: bool = False) -> None:
        self._pool.shutdown(wait=not abort, cancel_futures=True)


def _is_loopback(address: str | None) -> bool:
    """No address (a new local instance) or one on this machine's loopback interface."""
    if address is None:
        return True
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on (``ray.init`` would retry for minutes)."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or an address form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ValueError(f"could not connect to the Ray cluster at {address}: {exc}") from None


def import_ray(address: str | None):
    """Import ray; for a local instance, make it bind to 127.0.0.1 and never report usage."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    loopback = _is_loopback(address)
    if loopback:
        # Linux Ray nodes advertise (and bind to) the host's outward IP, and Ray rewrites a 127.0.0.1 address
        # into that IP; this setting keeps a single-machine instance (started here, or one we connect to on
        # the loopback) on 127.0.0.1. It is read when ray is imported, hence set first.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError:
        raise ValueError("the ray backend needs Ray: pip install 'findings-explorer[ray]'") from None
    if loopback:
        try:  # ray was imported earlier in this process: apply the same setting to the loaded constant
            from ray._private import ray_constants

            ray_constants.ENABLE_RAY_CLUSTER = False
        except (ImportError, AttributeError):
            pass
    return ray


CLIENT_INIT_ATTEMPTS = 3  # a Ray Client session whose server side failed to start is asked for again (Ray 2.60 here)


def _reason(exc: BaseException) -> str:
    """One line for a failed ``ray.init``: the exception's first line, and for a Ray Client session the
    server's own last line (its message is a server-side traceback)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[0] if len(lines) == 1 else f"{lines[0]} {lines[-1]}"


def _connect(ray: Any, address: str, options: dict[str, Any]) -> None:
    """``ray.init(address)``, or a one-line ValueError. Through Ray Client (``ray://``) the head's proxy starts
    a server process per session, and that start can fail on a busy head (the process exits before it
    listens, leaving an empty log; seen here on a loaded 2-core machine, 2 sessions of 9): nothing of the
    session exists yet, so asking for a new one is safe. Such a failure is retried, at most
    ``CLIENT_INIT_ATTEMPTS`` sessions in all; every other failure is reported at once."""
    attempts = CLIENT_INIT_ATTEMPTS if address.startswith("ray://") else 1
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address=address, **options)
            return
        except Exception as exc:  # ConnectionError, AuthenticationError, a bad runtime_env, ...
            server_side = isinstance(exc, ConnectionAbortedError) and "Initialization failure" in str(exc)
            if server_side and attempt < attempts:
                try:
                    ray.shutdown()
                except Exception:  # noqa: BLE001 - nothing was connected; the next attempt starts clean
                    pass
                time.sleep(1.0 * attempt)
                continue
            tried = f" (after {attempt} sessions)" if attempt > 1 else ""
            raise ValueError(f"could not connect to the Ray cluster at {address}{tried}: {_reason(exc)}") from None


class RayBackend:
    """One Ray task per cell, with the spec's resources declared per task."""

    name = "ray"

    def __init__(self, resources: Resources, address: str | None = None, workers: int | None = None,
                 runtime_env: dict[str, Any] | None = None):
        ray = import_ray(address)
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"runtime_env": runtime_env} if runtime_env else {}
            if address is None or not address.startswith("ray://"):  # Ray Client takes fewer options
                options.update(log_to_driver=False, configure_logging=False)
            if address is not None:
                _check_reachable(address)
                _connect(ray, address, options)
            else:
                # "local": a new instance, never one that `ray start` advertised in /tmp/ray on this machine
                ray.init(address="local", num_cpus=workers or default_workers(), include_dashboard=False, **options)
                ip = ray.util.get_node_ip_address()
                if not _is_loopback(ip):
                    ray.shutdown()
                    raise ValueError(f"the local Ray instance would listen on {ip}, not 127.0.0.1; start Ray "
                                     "yourself and pass --address")
            self._started = True
        task_options: dict[str, Any] = {"num_cpus": resources.num_cpus, "num_gpus": resources.num_gpus,
                                        "max_retries": 0}  # retries are the driver's (counted per cell)
        if resources.memory:
            task_options["memory"] = resources.memory
        self._task = ray.remote(run_cell).options(**task_options)
        self.address = address
        gpus = ray.cluster_resources().get("GPU", 0)
        if resources.num_gpus > gpus:
            message = (f"each cell asks for {resources.num_gpus:g} GPU(s) but the Ray cluster has {gpus:g}; the "
                       "cells would wait forever")
            if address is None:
                self.close()
                raise ValueError(message)
            print(f"warning: {message} unless the cluster scales up", file=sys.stderr)
        self.slots = workers or self._capacity(resources)

    def _capacity(self, resources: Resources) -> int:
        total = self._ray.cluster_resources()
        fits = [total.get("CPU", 1) / resources.num_cpus]
        if resources.num_gpus:
            fits.append(total.get("GPU", 0) / resources.num_gpus)
        return max(1, int(min(fits)))

    def describe(self) -> dict[str, Any]:
        return {"backend": "ray", "address": self.address or "local (127.0.0.1)", "slots": self.slots,
                "cluster_resources": {k: v for k, v in self._ray.cluster_resources().items()
                                      if k in ("CPU", "GPU", "memory")}}

    def submit(self, cell: Cell):
        return self._task.remote(cell.config, cell.inject_failure)

    def wait(self, handles: list, timeout: float) -> list[tuple[Any, Outcome]]:
        ray = self._ray
        ready, rest = ray.wait(handles, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out = []
        for ref in ready:
            try:
                result = ray.get(ref)
                out.append((ref, Outcome(result["ok"], result)))
            except Exception as exc:  # worker or node died, task cancelled, result lost
                first = (str(exc).strip().splitlines() or [""])[0]
                out.append((ref, Outcome(False, {"error": f"{type(exc).__name__}: {first}"},
                                         lost=isinstance(exc, self._lost_errors))))
        return out

    @property
    def _lost_errors(self) -> tuple[type, ...]:
        """Ray's errors for work lost with its worker, node or object, not raised by the cell."""
        ex = self._ray.exceptions
        return tuple(getattr(ex, name) for name in ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError",
                                                     "ObjectLostError", "RaySystemError") if hasattr(ex, name))

    def cancel(self, handles: list) -> None:
        for ref in handles:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished or gone
                pass

    def close(self, abort: bool = False) -> None:
        if self._started:
            self._ray.shutdown()


def make_backend(kind: str, spec: SweepSpec, address: str | None = None, workers: int | None = None):
    if kind not in BACKENDS:
        raise ValueError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")
    if kind == "local":
        if address is not None:
            raise ValueError("--address is for the ray backend")
        return LocalBackend(workers or default_workers())
    return RayBackend(spec.resources, address=address, workers=workers, runtime_env=spec.ray.runtime_env)

