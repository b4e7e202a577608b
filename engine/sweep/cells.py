"""The cells of a sweep: the grid expanded into independent protocol runs, one seed each.

Each grid point is one cell, and each cell is one protocol run (:func:`engine.protocol.run_synthetic`) over
one seed (both directions). ε is the CL weight of ``das+cl`` only: ``das`` and ``cl`` cells are built with
the default weight whatever the ε axis says, so ``loss × ε`` gives one ``das`` cell per seed, not one per ε.
Grid points whose protocol configs are identical are merged and counted as ``duplicates``.

A cell's ``key`` is the key its run is stored under (:func:`engine.record_synthetic.synthetic_run_key`:
the protocol config and the code identity), so what ``--dry-run`` prints is what ``findings runs --hash``
finds.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from engine.sweep.fault_injection import is_injected
from engine.sweep.spec import SweepSpec


@dataclass
class Cell:
    """One grid point: an independent protocol run over one seed."""

    index: int
    key: str  # the config hash its run is stored under (dedupe, skip and `findings runs --hash` use it)
    labels: dict[str, Any]  # synthetic: partition, loss, epsilon (None without ε), map, k, seed; boundless:
    # protocol, cl_target, cl_space, epsilon, seed
    config: Any  # engine.results.SyntheticConfig, or a Boundless cell's dict (engine.sweep.boundless)
    inject_failure: bool = False  # engine.sweep.fault_injection asks this cell to raise
    status: str = "pending"  # pending | running | finished | skipped | failed
    attempts: int = 0
    resubmits: int = 0  # attempts lost with their worker or node (not counted against retries)
    run_id: str | None = None
    error: str | None = None
    data: dict[str, Any] | None = None  # SyntheticSummary.to_json()
    duration_s: float | None = None
    host: str | None = None

    @property
    def task(self) -> str:
        return "boundless" if isinstance(self.config, dict) else "synthetic"

    @property
    def label(self) -> str:
        lb = self.labels
        if self.task == "boundless":
            return f"{lb['protocol']} CL {lb['cl_target']}/{lb['cl_space']} ε={lb['epsilon']:g} seed {lb['seed']}"
        eps = "" if lb["epsilon"] is None else f"(ε={lb['epsilon']:g})"
        k = "" if lb["k"] == 1 else f" k={lb['k']}"
        return f"{lb['partition']} {lb['loss']}{eps} {lb['map']}{k} seed {lb['seed']}"

    def to_json(self, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "config_hash": self.key, **self.labels, "status": self.status,
                               "attempts": self.attempts, "resubmits": self.resubmits, "run_id": self.run_id,
                               "error": self.error, "duration_s": self.duration_s, "host": self.host}
        if self.data is not None:
            if self.task == "synthetic":
                out["train"], out["cross"] = self.data["train"], self.data["cross"]
            else:
                out["runs"] = self.data.get("runs", [])
            if full:
                out["result"] = self.data
        return out


def expand(spec: SweepSpec) -> tuple[list[Cell], int]:
    """The cells of a spec in grid order, and how many grid points were merged as duplicates.

    Raises ``ValueError`` naming the first grid point the engine refuses (unknown loss, partition, map).
    """
    if spec.task == "boundless":
        return _expand_boundless(spec)
    from engine.losses import DEFAULT_CL_WEIGHT
    from engine.protocol import make_config
    from engine.record_synthetic import synthetic_run_key

    g, s = spec.grid, spec.settings
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
                                 reference=s.reference, protocol=s.protocol,
                                 interventions_per_class=s.interventions_per_class)
        except ValueError as exc:
            raise ValueError(f"grid: {exc}") from None
        key = synthetic_run_key(config.to_json())
        if key in seen:
            continue
        seen.add(key)
        labels = {"partition": partition, "loss": loss, "epsilon": config.epsilon, "map": map_kind, "k": k,
                  "seed": seed}
        cells.append(Cell(len(cells), key, labels, config, inject_failure=is_injected(labels)))
    return cells, len(points) - len(cells)


def _expand_boundless(spec: SweepSpec) -> tuple[list[Cell], int]:
    from engine.record import run_key
    from engine.sweep.boundless import cell_configs

    cells: list[Cell] = []
    seen: set[str] = set()
    points = cell_configs(spec)
    for labels, config in points:
        key = run_key(config["sweep"])
        if key in seen:
            continue
        seen.add(key)
        cells.append(Cell(len(cells), key, labels, config, inject_failure=is_injected(labels)))
    return cells, len(points) - len(cells)
