"""Sweeps: a grid of protocol runs, one cell per point, on a local process pool or a Ray cluster.

The package, by what each module holds:

* :mod:`~engine.sweep.spec` — the YAML spec (task, grid, settings, retries, resources), validated;
* :mod:`~engine.sweep.cells` — the grid expanded into cells, one protocol run over one seed each;
* :mod:`~engine.sweep.worker` — what a worker process or Ray task runs for a cell (no store);
* :mod:`~engine.sweep.backends` — the local process pool and the Ray backend;
* :mod:`~engine.sweep.driver` — the loop that submits cells, retries failures and records every run
  through :class:`engine.record.RunLedger`, and the plan of a dry run;
* :mod:`~engine.sweep.summary` — the report: counts and statistics pooled over seeds;
* :mod:`~engine.sweep.fault_injection` — ``FINDINGS_SWEEP_FAIL_CELLS``, failures injected for tests.

Every cell runs with one torch thread and seeds derived from its own config, so both backends give the
same numbers, bit for bit. The text table of a report is the CLI's (:mod:`app.commands.sweep`).
"""
from __future__ import annotations

from engine.sweep.backends import BACKENDS, LocalBackend, RayBackend, default_workers, make_backend
from engine.sweep.cells import Cell, expand
from engine.sweep.driver import plan_sweep, run_sweep
from engine.sweep.fault_injection import FAIL_HOOK_ENV
from engine.sweep.spec import Grid, Resources, Settings, SweepSpec, load_spec, parse_spec
from engine.sweep.summary import SweepReport, summarize_groups
from engine.sweep.worker import run_cell

__all__ = ["BACKENDS", "FAIL_HOOK_ENV", "Cell", "Grid", "LocalBackend", "RayBackend",
           "Resources", "Settings", "SweepReport", "SweepSpec", "default_workers", "expand", "load_spec",
           "make_backend", "parse_spec", "plan_sweep", "run_cell", "run_sweep", "summarize_groups"]
