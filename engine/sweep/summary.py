"""What a sweep reports: per-cell outcomes, counts, and statistics pooled per group of cells over seeds."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.sweep.cells import Cell
from engine.sweep.spec import SweepSpec


@dataclass
class SweepReport:
    spec: SweepSpec
    backend: dict[str, Any]
    cells: list[Cell]
    duplicates: int
    wall_time_s: float = 0.0
    recorded: bool = True
    abandoned: list[tuple[str, str]] = field(default_factory=list)  # runs a dead driver left, taken over here

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("finished", "skipped", "failed", "pending")}
        for c in self.cells:
            out[c.status] = out.get(c.status, 0) + 1
        out["cells"] = len(self.cells)
        out["duplicates_merged"] = self.duplicates
        out["resubmitted"] = sum(c.resubmits for c in self.cells)  # lost with a worker or node, run elsewhere
        out["retried"] = sum(max(0, c.attempts - 1 - c.resubmits) for c in self.cells)  # the cell itself failed
        return out

    @property
    def failed(self) -> list[Cell]:
        return [c for c in self.cells if c.status == "failed"]

    def groups(self) -> list[dict[str, Any]]:
        if self.spec.task == "boundless":
            from engine.sweep.boundless import summarize_groups as boundless_groups

            return boundless_groups(self.cells)
        return summarize_groups(self.cells)

    def to_json(self, full: bool = False) -> dict[str, Any]:
        return {"name": self.spec.name, "task": self.spec.task, **self.backend, "recorded": self.recorded,
                "wall_time_s": self.wall_time_s, "counts": self.counts(), "groups": self.groups(),
                "abandoned": [{"run_id": rid, "reason": why} for rid, why in self.abandoned],
                "cells": [c.to_json(full) for c in self.cells], "spec": self.spec.model_dump(mode="json")}


def _stat(values: list[float]) -> dict[str, Any]:
    from graph.stats import summarize

    return summarize(values).to_json()


def _split_stats(runs: list[dict[str, Any]], split: str) -> dict[str, Any]:
    """IIA, and every divergence measure with its floor, pooled over runs; "emd" / "exact_emd" name the
    engine's converged Sinkhorn divergence and exact EMD, as in a run's summary."""
    out: dict[str, Any] = {"iia": _stat([r[split]["iia"] for r in runs])}
    for mid in runs[0][split]["divergences"]:
        out[mid] = {**_stat([r[split]["divergences"][mid]["value"] for r in runs]),
                    "floor": _stat([r[split]["divergences"][mid]["floor"] for r in runs])}
        if mid.startswith("sinkhorn_converged"):
            out["emd"] = out[mid]
        elif mid.startswith("exact_emd"):
            out["exact_emd"] = out[mid]
    return out


def group_cells(cells: Iterable[Cell], axes: tuple[str, ...], rows_key: str) -> list[tuple[dict[str, Any], list]]:
    """Cells grouped by the labels ``axes`` (grid order kept): per group its labels, seeds and cell counts by
    status, and the result rows (``data[rows_key]``) of its finished and skipped (already recorded) cells."""
    groups: dict[tuple, tuple[dict[str, Any], list]] = {}
    for cell in cells:
        key = tuple(cell.labels[a] for a in axes)
        g, rows = groups.setdefault(key, ({**dict(zip(axes, key)), "seeds": [], "finished": 0, "skipped": 0,
                                           "failed": 0, "pending": 0}, []))
        g[cell.status if cell.status in ("finished", "skipped", "failed") else "pending"] += 1
        if cell.data is not None:
            g["seeds"].append(cell.labels["seed"])
            rows.extend(cell.data.get(rows_key, []))
    return list(groups.values())


def summarize_groups(cells: Iterable[Cell]) -> list[dict[str, Any]]:
    """One row per (partition, loss, ε, map, k): cell counts and mean ± SEM over its seeds × directions."""
    out = []
    for g, runs in group_cells(cells, ("partition", "loss", "epsilon", "map", "k"), "per_run"):
        for split in ("train", "cross"):
            g[split] = _split_stats(runs, split) if runs else None
        out.append(g)
    return out
