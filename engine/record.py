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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from engine.code_identity import code_version, git_state, installed_versions
from graph import runs
from graph.api import Graph

PACKAGES = ("findings-explorer", "torch", "numpy", "pot", "transformers", "sentence-transformers", "sqlalchemy")


def package_versions() -> dict[str, str]:
    return installed_versions(PACKAGES)


def environment(device: str = "cpu") -> dict[str, Any]:
    """Where and with what a run is computed: the code identity, and the git state for people to read."""
    return {
        "code_version": code_version(), **git_state(), "packages": package_versions(), "device": device,
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


# ---- the synthetic 10-class protocol ---------------------------------------------------------------
METHOD_OF_LOSS = {"das": "DAS", "cl": "CL", "das+cl": "DAS+CL"}
METHODS_OF_LOSS = {"das": ["DAS"], "cl": ["CL"], "das+cl": ["DAS", "CL"]}
LOSS_LABEL = {"das": "DAS behavioural loss", "cl": "CL loss", "das+cl": "DAS+CL loss"}
# (metric name in the graph, key in SplitSummary.to_json(), words in the title, lower is better)
SYNTHETIC_METRICS = (
    ("IIA", "iia", "IIA", False),
    ("EMD", "emd", "EMD (debiased Sinkhorn divergence)", True),
    ("exact_EMD", "exact_emd", "exact EMD", True),
)


def fmt_pm(value: float, err: float | None) -> str:
    """``0.9966±0.0012``: the error to two significant digits, the value to the same decimal place."""
    import math

    if err is None or err <= 0 or not math.isfinite(err):
        return f"{value:.4g}"
    decimals = max(0, 1 - math.floor(math.log10(err)))
    return f"{value:.{decimals}f}±{err:.{decimals}f}"


def synthetic_title(loss: str, epsilon: float | None, split: str, metric_words: str, value: float,
                    err: float | None, partition: str, map_kind: str, n_seeds: int) -> str:
    loss_words = LOSS_LABEL[loss] + (f" (ε={epsilon:g})" if epsilon is not None else "")
    verb = "achieves" if metric_words == "IIA" else "produces"
    return (f"{loss_words} {verb} {split} {metric_words} of {fmt_pm(value, err)} on synthetic 10-class "
            f"{partition} ({map_kind} map, {n_seeds} seeds × 2 directions)")


def synthetic_results(data: dict[str, Any]) -> list[runs.Result]:
    """One finding per metric × split of a ``SyntheticSummary.to_json()`` payload."""
    from graph.records import Measurement

    loss, eps, partition, map_kind = data["loss"], data["epsilon"], data["partition"], data["map"]
    n_runs = len(data["per_run"])
    cfg = data.get("config", {})
    out = []
    for split in ("train", "cross"):
        for metric, key, words, lower in SYNTHETIC_METRICS:
            stat = data[split][key]
            conditions = {"task": data["task"], "partition": partition, "loss": loss, "map": map_kind, "k": data["k"],
                          "site": data["site"], "seeds": data["seeds"], "directions": 2,
                          "selection_rule": cfg.get("selection_rule")}
            if eps is not None:
                conditions["epsilon"] = eps
            if key != "iia":
                conditions["measure"] = "sinkhorn_divergence" if key == "emd" else "exact_emd"
                conditions["measure_params"] = data["divergence_measures"][key]
            title = synthetic_title(loss, eps, split, words, stat["mean"], stat["sem"], partition, map_kind,
                                    data["seeds"])
            description = (f"Measured by findings run synthetic: {LOSS_LABEL[loss]} on the {partition} partition, "
                           f"{split} split, mean ± SEM over {n_runs} runs ({data['seeds']} seeds × 2 directions)"
                           + (f"; divergence measure: {conditions['measure']}" if key != "iia" else "") + ".")
            out.append(runs.Result(
                title=title, description=description,
                measurement=Measurement(metric=metric, value=stat["mean"], err=stat["sem"], err_kind="sem",
                                        n=stat["n"], split=split, dataset="synthetic10",
                                        method=METHOD_OF_LOSS[loss], conditions=conditions,
                                        higher_is_better=not lower),
                methods=METHODS_OF_LOSS[loss], dataset="synthetic10"))
    return out


def synthetic_run_config(config_json: dict[str, Any]) -> dict[str, Any]:
    """What identifies a synthetic run: its full protocol config and the code it ran with (the code identity
    of :mod:`engine.code_identity`)."""
    return {"kind": "synthetic", **config_json, "code_version": code_version()}


def open_synthetic_run(graph: Graph, config_json: dict[str, Any], device: str = "cpu"):
    """``recorded_run`` for one synthetic protocol config (a context manager yielding a RunHandle)."""
    loss = config_json.get("loss") or config_json.get("train", {}).get("loss")
    title = (f"synthetic10 {config_json['partition']} {loss} ({config_json.get('map_kind', '?')} map, "
             f"{len(config_json.get('seeds', []))} seeds)")
    return recorded_run(graph, title=title, config=synthetic_run_config(config_json), site=config_json["site"],
                        divergence_measure="sinkhorn_divergence (and exact_emd)", device=device,
                        description="findings run synthetic: DAS/CL transfer protocol on the synthetic 10-class task")


def finish_synthetic_run(graph: Graph, handle: RunHandle, data: dict[str, Any]) -> dict[str, Any]:
    """Write the findings of a finished synthetic run (``SyntheticSummary.to_json()``) and close it."""
    handle.report = runs.finish_run(graph, handle.run_id, synthetic_results(data),
                                    extra_attrs={"summary": data, "wall_time_s": data.get("wall_time_s")})
    return handle.report


def record_synthetic(graph: Graph, data: dict[str, Any]) -> dict[str, Any] | None:
    """Record a synthetic result computed elsewhere (e.g. a sweep cell); None if already recorded."""
    with open_synthetic_run(graph, data["config"]) as handle:
        if handle.run_id is None:
            return None
        return finish_synthetic_run(graph, handle, data)
