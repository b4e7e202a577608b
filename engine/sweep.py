"""Sweeps: a grid of protocol runs, one cell per point, on a local process pool or a Ray cluster.

A sweep spec (YAML, validated here with pydantic, unknown keys refused) names the task, the grid and the
settings shared by every cell::

    task: synthetic
    grid: {partition: [og_holdouts], loss: [das, das+cl], epsilon: [1, 100], map: [linear], seeds: [0, 1]}
    settings: {max_epochs: 200, patience: 50, samples_per_class: 30, train_interventions: 100,
               eval_interventions: 100, classifier_epochs: 200}
    retries: 1
    resources: {num_cpus: 1, num_gpus: 0}

**Cells.** The grid is the product of its axes; each point is one cell, and each cell is one independent
protocol run (:func:`engine.protocol.run_synthetic`) over one seed (both directions). ε is the CL weight of
``das+cl`` only: ``das`` and ``cl`` cells are built with the default weight whatever the ε axis says, so
``loss × ε`` gives one ``das`` cell per seed, not one per ε. Grid points whose protocol configs are
identical are merged (by config hash) and counted in the report as ``duplicates``.

**Recording and resuming.** Only the driver (this process) talks to the store, through
:mod:`engine.record` — the path single runs take — so a shared PostgreSQL store works and an SQLite file is
never written from two hosts. A cell whose config hash (full protocol config + code version) already has a
finished run is skipped, and its recorded numbers appear in the summary. A run node is opened when a cell
is submitted and finished when its result arrives; a cell that raises is resubmitted up to ``retries``
times, then its run is marked failed with the error, and the other cells go on.

**Backends.** ``local``: a spawned process pool on this machine (``workers`` processes). ``ray``: one Ray
task per cell, with the spec's ``resources`` (``num_cpus``, ``num_gpus``, ``memory``) declared per task,
against ``address`` (an existing cluster: ``auto``, ``HOST:6379`` or ``ray://HOST:10001``) or a local Ray
instance with ``workers`` CPUs bound to 127.0.0.1. Ray is an optional extra (``findings-explorer[ray]``)
and is imported only by the Ray backend. Every cell runs with one torch thread and seeds derived from its
own config, so both backends give the same numbers, bit for bit.
"""
from __future__ import annotations

import itertools
import os
import socket
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError, field_validator

BACKENDS = ("local", "ray")
GRID_AXES = ("partition", "loss", "epsilon", "map", "k", "seeds")
# A hidden test hook: cells whose labels match every ``key=value`` of this variable (comma-separated) raise
# inside the worker, on every attempt. Read on the driver and shipped with the cell, so it reaches any backend.
FAIL_HOOK_ENV = "FINDINGS_SWEEP_FAIL_CELLS"


# ---- the spec ------------------------------------------------------------------------------------------
class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _as_list(value: Any) -> Any:
    return value if isinstance(value, (list, tuple)) else [value]


class Grid(_Forbid):
    """The axes of the grid; a scalar is a one-value axis. ``seeds: N`` means seeds 0..N-1."""

    partition: list[str] = Field(default=["og_holdouts"], min_length=1)
    loss: list[str] = Field(min_length=1)
    epsilon: list[float] = Field(default=[100.0], min_length=1)
    map: list[str] = Field(default=["linear"], min_length=1)
    k: list[PositiveInt] = Field(default=[1], min_length=1)
    seeds: list[NonNegativeInt] = Field(min_length=1)

    @field_validator("partition", "loss", "epsilon", "map", "k", mode="before")
    @classmethod
    def _scalar_to_list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                raise ValueError("seeds: N needs N ≥ 1 (seeds 0..N-1), or give a list of seeds")
            return list(range(value))
        return value


class Settings(_Forbid):
    """Protocol settings shared by every cell (defaults: the published protocol)."""

    max_epochs: PositiveInt = 3000
    patience: PositiveInt = 600
    samples_per_class: int = Field(default=100, ge=2)
    train_interventions: PositiveInt = 500
    eval_interventions: PositiveInt = 500
    classifier_epochs: PositiveInt = 1000
    classifier_patience: PositiveInt = 100
    classifier_ties: Literal["last", "first"] = "last"
    reference: Literal["matched", "task"] = "matched"


class Resources(_Forbid):
    """What one cell asks of a Ray node (the local backend runs one cell per worker process)."""

    num_cpus: float = Field(default=1.0, gt=0)
    num_gpus: float = Field(default=0.0, ge=0)
    memory: PositiveInt | None = Field(default=None, description="bytes of RAM to reserve per cell")


class RayOptions(_Forbid):
    """Passed to ``ray.init``: e.g. ``runtime_env: {working_dir: ., excludes: [.venv]}`` to ship the code."""

    runtime_env: dict[str, Any] | None = None


class SweepSpec(_Forbid):
    task: Literal["synthetic"] = "synthetic"
    name: str | None = None
    grid: Grid
    settings: Settings = Field(default_factory=Settings)
    retries: NonNegativeInt = 1
    resources: Resources = Field(default_factory=Resources)
    ray: RayOptions = Field(default_factory=RayOptions)


def _validation_message(exc: ValidationError, source: str) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "spec"
        parts.append(f"{where}: {err['msg']}")
    more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return f"{source}: invalid sweep spec — " + "; ".join(parts) + more


def parse_spec(data: Any, source: str = "spec") -> SweepSpec:
    """Validate a spec mapping; raise ``ValueError`` with the first problems named by their key path."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a sweep spec is a mapping with task, grid, settings, retries, resources")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_validation_message(exc, source)) from None


def load_spec(path: str | Path) -> SweepSpec:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such sweep spec: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_spec(data, str(path))


# ---- cells ----------------------------------------------------------------------------------------------
@dataclass
class Cell:
    """One grid point: an independent protocol run over one seed."""

    index: int
    key: str  # config hash of the protocol config (what dedupe and the store compare)
    labels: dict[str, Any]  # partition, loss, epsilon (None without ε), map, k, seed
    config: Any  # engine.results.SyntheticConfig
    fail: bool = False  # the test hook (FAIL_HOOK_ENV) asks this cell to raise
    status: str = "pending"  # pending | running | finished | skipped | failed
    attempts: int = 0
    run_id: str | None = None
    error: str | None = None
    data: dict[str, Any] | None = None  # SyntheticSummary.to_json()
    duration_s: float | None = None
    host: str | None = None

    @property
    def label(self) -> str:
        lb = self.labels
        eps = "" if lb["epsilon"] is None else f"(ε={lb['epsilon']:g})"
        k = "" if lb["k"] == 1 else f" k={lb['k']}"
        return f"{lb['partition']} {lb['loss']}{eps} {lb['map']}{k} seed {lb['seed']}"

    def to_json(self, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "config_hash": self.key, **self.labels, "status": self.status,
                               "attempts": self.attempts, "run_id": self.run_id, "error": self.error,
                               "duration_s": self.duration_s, "host": self.host}
        if self.data is not None:
            out["train"], out["cross"] = self.data["train"], self.data["cross"]
            if full:
                out["result"] = self.data
        return out


def _fail_hook() -> list[dict[str, str]]:
    raw = os.environ.get(FAIL_HOOK_ENV, "").strip()
    if not raw:
        return []
    rules = []
    for rule in raw.split(";"):
        pairs = [p.split("=", 1) for p in rule.split(",") if "=" in p]
        if pairs:
            rules.append({k.strip(): v.strip() for k, v in pairs})
    return rules


def _matches(labels: dict[str, Any], rule: dict[str, str]) -> bool:
    def same(value: Any, text: str) -> bool:
        if isinstance(value, float):
            try:
                return value == float(text)
            except ValueError:
                return False
        return str(value) == text

    return all(k in labels and same(labels[k], v) for k, v in rule.items())


def expand(spec: SweepSpec) -> tuple[list[Cell], int]:
    """The cells of a spec in grid order, and how many grid points were merged as duplicates.

    Raises ``ValueError`` naming the first grid point the engine refuses (unknown loss, partition, map).
    """
    from engine.losses import DEFAULT_CL_WEIGHT
    from engine.protocol import make_config
    from graph.runs import config_hash

    g, s = spec.grid, spec.settings
    rules = _fail_hook()
    cells: list[Cell] = []
    seen: set[str] = set()
    points = list(itertools.product(g.partition, g.map, g.loss, g.epsilon, g.k, g.seeds))
    for partition, map_kind, loss, eps, k, seed in points:
        weight = eps if loss == "das+cl" else DEFAULT_CL_WEIGHT  # ε means nothing to das and cl
        try:
            config = make_config(partition, loss, map_kind, epsilon=weight, seeds=[seed], k=k,
                                 max_epochs=s.max_epochs, patience=s.patience, samples_per_class=s.samples_per_class,
                                 n_train_per_variable=s.train_interventions,
                                 n_eval_per_variable=s.eval_interventions, classifier_max_epochs=s.classifier_epochs,
                                 classifier_patience=s.classifier_patience, classifier_ties=s.classifier_ties,
                                 reference=s.reference)
        except ValueError as exc:
            raise ValueError(f"grid: {exc}") from None
        key = config_hash(config.to_json())
        if key in seen:
            continue
        seen.add(key)
        labels = {"partition": partition, "loss": loss, "epsilon": config.epsilon, "map": map_kind, "k": k,
                  "seed": seed}
        cells.append(Cell(len(cells), key, labels, config, fail=any(_matches(labels, r) for r in rules)))
    return cells, len(points) - len(cells)


# ---- what a worker runs (local process or Ray task) -----------------------------------------------------
def run_cell(config: Any, fail: bool = False) -> dict[str, Any]:
    """Run one cell in this process; never raises for the cell's own errors (they come back as data).

    Returns ``{"ok": True, "data": SyntheticSummary.to_json(), ...}`` or ``{"ok": False, "error", "traceback"}``,
    with the worker's host, pid and the cell's duration. Touches no database.
    """
    start = time.perf_counter()
    out: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        if fail:
            raise RuntimeError(f"injected failure ({FAIL_HOOK_ENV})")
        from engine.protocol import run_synthetic

        with _one_blas_thread():
            summary = run_synthetic(config, workers=1, progress=False)
        out.update(ok=True, data=summary.to_json())
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
    except ImportError:  # a transitive dependency (scikit-learn); _worker_init's env vars still apply
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=1)


def _worker_init() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # effective for libraries not loaded yet in this worker
    import torch

    torch.set_num_threads(1)


# ---- backends --------------------------------------------------------------------------------------------
def default_workers() -> int:
    """Cells at a time when ``workers`` is not given: min(2, CPUs), as ``findings run`` (a shared machine)."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class _Outcome:
    ok: bool
    payload: dict[str, Any]


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
                                      initializer=_worker_init)

    def describe(self) -> dict[str, Any]:
        return {"backend": "local", "workers": self.slots}

    def submit(self, cell: Cell):
        return self._pool.submit(run_cell, cell.config, cell.fail)

    def wait(self, handles: list, timeout: float) -> list[tuple[Any, _Outcome]]:
        import concurrent.futures as cf
        from concurrent.futures.process import BrokenProcessPool

        done, _ = cf.wait(handles, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out = []
        broken = False
        for fut in done:
            try:
                result = fut.result()
                out.append((fut, _Outcome(result["ok"], result)))
            except BrokenProcessPool as exc:
                broken = True
                out.append((fut, _Outcome(False, {"error": f"worker process died ({exc})"})))
            except Exception as exc:  # e.g. the result could not be unpickled
                out.append((fut, _Outcome(False, {"error": f"{type(exc).__name__}: {exc}"})))
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


def _import_ray_for(address: str | None):
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


class RayBackend:
    """One Ray task per cell, with the spec's resources declared per task."""

    name = "ray"

    def __init__(self, resources: Resources, address: str | None = None, workers: int | None = None,
                 runtime_env: dict[str, Any] | None = None):
        ray = _import_ray_for(address)
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"runtime_env": runtime_env} if runtime_env else {}
            if address is None or not address.startswith("ray://"):  # Ray Client takes fewer options
                options.update(log_to_driver=False, configure_logging=False)
            if address is not None:
                _check_reachable(address)
                try:
                    ray.init(address=address, **options)
                except Exception as exc:  # ConnectionError, AuthenticationError, a bad runtime_env, ...
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    raise ValueError(f"could not connect to the Ray cluster at {address}: {first}") from None
            else:
                ray.init(num_cpus=workers or default_workers(), include_dashboard=False, **options)
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
        return self._task.remote(cell.config, cell.fail)

    def wait(self, handles: list, timeout: float) -> list[tuple[Any, _Outcome]]:
        ray = self._ray
        ready, rest = ray.wait(handles, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out = []
        for ref in ready:
            try:
                result = ray.get(ref)
                out.append((ref, _Outcome(result["ok"], result)))
            except Exception as exc:  # worker or node died, task cancelled, result lost
                first = (str(exc).strip().splitlines() or [""])[0]
                out.append((ref, _Outcome(False, {"error": f"{type(exc).__name__}: {first}"})))
        return out

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


# ---- recording (driver side) -----------------------------------------------------------------------------
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


# ---- the driver ------------------------------------------------------------------------------------------
@dataclass
class SweepReport:
    spec: SweepSpec
    backend: dict[str, Any]
    cells: list[Cell]
    duplicates: int
    wall_time_s: float = 0.0
    recorded: bool = True

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("finished", "skipped", "failed", "pending")}
        for c in self.cells:
            out[c.status] = out.get(c.status, 0) + 1
        out["cells"] = len(self.cells)
        out["duplicates_merged"] = self.duplicates
        return out

    @property
    def failed(self) -> list[Cell]:
        return [c for c in self.cells if c.status == "failed"]

    def groups(self) -> list[dict[str, Any]]:
        return summarize_groups(self.cells)

    def to_json(self, full: bool = False) -> dict[str, Any]:
        return {"name": self.spec.name, "task": self.spec.task, **self.backend, "recorded": self.recorded,
                "wall_time_s": self.wall_time_s, "counts": self.counts(), "groups": self.groups(),
                "cells": [c.to_json(full) for c in self.cells], "spec": self.spec.model_dump(mode="json")}


class _Bar:
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


def run_sweep(spec: SweepSpec, backend: str = "local", *, graph: Any = None, address: str | None = None,
              workers: int | None = None, retries: int | None = None, progress: bool = True,
              on_event: Callable[[str, Cell], None] | None = None) -> SweepReport:
    """Run every cell of ``spec`` not already finished in ``graph``; record each result from this process.

    ``graph`` None runs without a store (nothing skipped, nothing recorded). ``retries`` overrides the
    spec's. ``on_event(kind, cell)`` is called on "submitted", "finished", "retry", "failed", "skipped".
    Raises only for problems of the sweep itself (bad spec, backend unavailable, interruption); a failing
    cell is retried, then reported in ``report.failed``.
    """
    retries = spec.retries if retries is None else retries
    if retries < 0:
        raise ValueError("retries must be at least 0.")
    start = time.perf_counter()
    cells, duplicates = plan_sweep(spec, graph)
    recorder = _Recorder(graph)

    def emit(kind: str, cell: Cell) -> None:
        if on_event is not None:
            on_event(kind, cell)

    queue: deque[Cell] = deque()
    for cell in cells:
        if cell.status == "skipped":
            emit("skipped", cell)
        else:
            queue.append(cell)

    report = SweepReport(spec, {"backend": backend}, cells, duplicates, recorded=graph is not None)
    if not queue:
        report.wall_time_s = round(time.perf_counter() - start, 2)
        return report

    import signal

    sigterm = signal.getsignal(signal.SIGTERM)
    runner = make_backend(backend, spec, address=address, workers=workers)
    report.backend = runner.describe()
    bar = _Bar(len(queue), progress)
    inflight: dict[Any, Cell] = {}
    done = failed = retried = 0
    aborted = False
    try:
        while queue or inflight:
            while queue and len(inflight) < runner.slots:
                cell = queue.popleft()
                if cell.attempts == 0:
                    existing = recorder.open(cell)  # another driver may have finished it meanwhile
                    if existing is not None:
                        _mark_skipped(cell, existing)
                        emit("skipped", cell)
                        bar.show(done, len(inflight), failed, retried, advance=1)
                        continue
                cell.attempts += 1
                cell.status = "running"
                inflight[runner.submit(cell)] = cell
                emit("submitted", cell)
            bar.show(done, len(inflight), failed, retried)
            if not inflight:
                continue
            for handle, outcome in runner.wait(list(inflight), timeout=1.0):
                cell = inflight.pop(handle)
                cell.host = outcome.payload.get("host", cell.host)
                cell.duration_s = outcome.payload.get("duration_s")
                if outcome.ok:
                    cell.data = outcome.payload["data"]
                    recorder.finish(cell, cell.data)
                    cell.status, cell.error = "finished", None
                    done += 1
                    emit("finished", cell)
                    bar.show(done, len(inflight), failed, retried, advance=1)
                    continue
                cell.error = outcome.payload.get("error") or "unknown error"
                if cell.attempts <= retries:
                    cell.status = "pending"
                    queue.append(cell)
                    retried += 1
                    emit("retry", cell)
                else:
                    cell.status = "failed"
                    recorder.fail(cell, SweepCellError(f"{cell.error} (after {cell.attempts} attempt"
                                                       f"{'s' if cell.attempts > 1 else ''})"))
                    failed += 1
                    emit("failed", cell)
                    bar.show(done, len(inflight), failed, retried, advance=1)
    except BaseException as exc:  # Ctrl-C, SIGTERM, a store error: close every open run as failed
        aborted = True
        runner.cancel(list(inflight))
        recorder.fail_all(exc)
        raise
    finally:
        signal.signal(signal.SIGTERM, sigterm)  # open runs each swapped the handler; put the driver's back
        bar.close()
        runner.close(abort=aborted)
    report.wall_time_s = round(time.perf_counter() - start, 2)
    return report


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


def _mark_skipped(cell: Cell, existing: Any) -> None:
    cell.status = "skipped"
    cell.run_id = existing.id
    cell.data = existing.attrs.get("summary")


# ---- the summary --------------------------------------------------------------------------------------
def _stat(values: list[float]) -> dict[str, Any]:
    from graph.stats import summarize

    return summarize(values).to_json()


SUMMARY_METRICS = (("iia", "iia"), ("emd", "sinkhorn_divergence"), ("exact_emd", "exact_emd"))


def summarize_groups(cells: Iterable[Cell]) -> list[dict[str, Any]]:
    """One row per (partition, loss, ε, map, k): cell counts and mean ± SEM over its seeds × directions.

    The statistics pool the per-run results of the finished and skipped (already recorded) cells.
    """
    groups: dict[tuple, dict[str, Any]] = {}
    for cell in cells:
        lb = cell.labels
        key = (lb["partition"], lb["loss"], lb["epsilon"], lb["map"], lb["k"])
        g = groups.setdefault(key, {"partition": key[0], "loss": key[1], "epsilon": key[2], "map": key[3],
                                    "k": key[4], "seeds": [], "finished": 0, "skipped": 0, "failed": 0,
                                    "pending": 0, "_runs": []})
        g[cell.status if cell.status in ("finished", "skipped", "failed") else "pending"] += 1
        if cell.data is not None:
            g["seeds"].append(lb["seed"])
            g["_runs"].extend(cell.data.get("per_run", []))
    out = []
    for g in groups.values():
        runs = g.pop("_runs")
        for split in ("train", "cross"):
            g[split] = {name: _stat([r[split][key] for r in runs]) for name, key in SUMMARY_METRICS} if runs else None
        out.append(g)
    return out


def _fmt(stat: dict[str, Any] | None, digits: int = 4) -> str:
    if stat is None:
        return "-"
    if stat["sem"] is None:
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}±{stat['sem']:.{digits}f}"


def format_report(report: SweepReport) -> str:
    """The summary table (one line per group, pooled over seeds × directions) and the failed cells."""
    header = (f"{'partition':<13} {'loss':<14} {'map':<10} {'seeds':<7} {'cells':<16} {'train IIA':<16} "
              f"{'cross IIA':<16} {'cross Sinkhorn':<16} {'cross exact EMD':<16}")
    lines = [header, "-" * len(header)]
    for g in report.groups():
        loss = g["loss"] + ("" if g["epsilon"] is None else f"(ε={g['epsilon']:g})")
        state = " ".join(f"{g[s]}{mark}" for s, mark in (("finished", "f"), ("skipped", "s"), ("failed", "x"))
                         if g[s]) or "-"
        cross = g["cross"] or {}
        map_k = g["map"] + ("" if g["k"] == 1 else f" k={g['k']}")
        lines.append(f"{g['partition']:<13} {loss:<14} {map_k:<10} "
                     f"{len(g['seeds']):<7} {state:<16} {_fmt((g['train'] or {}).get('iia')):<16} "
                     f"{_fmt(cross.get('iia')):<16} {_fmt(cross.get('emd')):<16} {_fmt(cross.get('exact_emd')):<16}")
    c = report.counts()
    lines.append("")
    lines.append(f"{c['cells']} cells ({c['duplicates_merged']} duplicate grid points merged): {c['finished']} "
                 f"finished, {c['skipped']} skipped (already recorded), {c['failed']} failed — "
                 f"{report.backend.get('backend')} backend, {report.wall_time_s:.1f} s")
    lines.append("cells: f = finished now, s = skipped (already recorded), x = failed; statistics are mean ± SEM "
                 "over seeds × 2 directions; 'Sinkhorn' = debiased Sinkhorn divergence, 'exact EMD' = ot.emd2.")
    for cell in report.failed:
        lines.append(f"FAILED {cell.label} after {cell.attempts} attempt(s): {cell.error}")
    return "\n".join(lines)


__all__ = ["BACKENDS", "Cell", "Grid", "LocalBackend", "RayBackend", "Resources", "Settings", "SweepReport",
           "SweepSpec", "expand", "format_report", "load_spec", "make_backend", "parse_spec", "plan_sweep", "run_cell",
           "run_sweep", "summarize_groups"]

