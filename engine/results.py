"""Result objects of the synthetic transfer protocols: plain dataclasses, JSON out.

:class:`SyntheticConfig` holds everything needed to rerun an experiment (protocol, task, partition, loss,
map, CL weight ε, k, seeds, the site, the divergence settings, the training protocol). :class:`RunResult` is
one (seed, direction) run; :class:`SyntheticSummary` gathers the runs of one config and summarises them as
mean ± SEM (:mod:`graph.stats`).

``SyntheticSummary.to_json()`` is the ``findings run synthetic --json`` contract::

    {"protocol", "task", "partition", "loss", "map", "epsilon", "seeds", "k", "site",
     "measures": [divergence measure ids], "measure_params": {id: {"versions": {library: version}}},
     "divergence_measure", "divergence_measures",
     "train": {...split...}, "cross": {...split...}, "per_run": [...], "wall_time_s", "config"}

    split = {"iia": {"mean", "sem", "n"}, "noop_iia": {...},
             "<measure id>": {"mean", "sem", "n", "floor": {"mean", "sem", "n"}, "n_points": [n_int, n_nat]},
             ...one entry per divergence measure (graph.measures), e.g. "grant2025_geomloss_sinkhorn",
             "sinkhorn_converged_matched", "exact_emd_matched"...,
             "emd": the engine's converged Sinkhorn divergence, "exact_emd": the engine's exact EMD,
             "native_floor_emd": the exact EMD's floor (these three as before, named by "divergence_measures")}

``"epsilon"`` is the CL weight of ``das+cl`` (null for ``das`` and ``cl``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.metrics import EMD_MAX_POINTS, SINKHORN_MAX_POINTS, measure_params
from engine.synthetic import SITE, TASK
from engine.training import TrainConfig
from graph.stats import Summary, summarize

PROTOCOLS = ("engine", "grant2025")


@dataclass(frozen=True)
class SyntheticConfig:
    """One experiment on the synthetic task under one protocol (``engine``: this project's; ``grant2025``:
    the paper's code, :mod:`engine.grant2025`). Fields marked engine/grant2025 apply to that protocol only."""

    partition: str
    train: TrainConfig
    protocol: str = "engine"
    map_kind: str = "linear"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    samples_per_class: int = 100
    n_train_per_variable: int = 500  # engine
    n_eval_per_variable: int = 500  # engine
    interventions_per_class: int = 100  # grant2025
    data_seed: int = 0  # grant2025: the causal draw every seed shares
    classifier_max_epochs: int = 1000
    classifier_patience: int = 100
    classifier_ties: str = "last"  # engine: which best-validation checkpoint the probe keeps
    sinkhorn_max_points: int = SINKHORN_MAX_POINTS
    emd_max_points: int = EMD_MAX_POINTS
    reference: str = "matched"  # the engine measures' native set: class-matched draws, or the task's natives
    task: str = TASK
    site: str = SITE

    @property
    def loss(self) -> str:
        return self.train.loss

    @property
    def epsilon(self) -> float | None:
        """The CL weight ε of DAS+CL; None for losses without one."""
        return self.train.cl_weight if self.train.loss == "das+cl" else None

    @property
    def k(self) -> int:
        return self.train.k

    @property
    def measures(self) -> list[str]:
        """The divergence measures every evaluation computes (graph.measures ids)."""
        from graph.measures import GRANT2025_SINKHORN

        return [GRANT2025_SINKHORN, f"sinkhorn_converged_{self.reference}", f"exact_emd_{self.reference}"]

    @property
    def selection_rule(self) -> str:
        if self.protocol == "grant2025":
            if self.loss == "das":
                return "first epoch with the best training IIA (the map after that epoch's update)"
            return ("lowest training grant2025_geomloss_sinkhorn, ties to training IIA at least as good, no accuracy "
                    "guard (the map after that epoch's update)")
        return self.train.selection_rule

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["seeds"] = list(self.seeds)
        out["loss"] = self.loss
        out["epsilon"] = self.epsilon
        out["k"] = self.k
        out["selection_rule"] = self.selection_rule
        out["measures"] = self.measures
        return out


@dataclass
class EvalResult:
    """One trained map measured on one task's interventions.

    ``divergences``: {measure id: {"value", "floor", "n_points": [intervened, native]}}
    (:func:`engine.metrics.measure_divergences`).
    """

    task: str
    y_values: tuple[int, ...]
    n_interventions: int
    iia: float
    noop_iia: float  # share of interventions whose counterfactual class is the base's own class
    divergences: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["y_values"] = list(self.y_values)
        return out


@dataclass
class RunResult:
    """One (seed, direction) run: map trained on ``train_task``, evaluated on it ("train") and the other task."""

    seed: int
    direction: str  # e.g. "task1->task2"
    train: EvalResult
    cross: EvalResult
    epochs: int
    chosen_epoch: int
    chosen_train_iia: float
    chosen_train_divergence: float | None  # selection measure on training data (divergence-based choice)
    stopped_early: bool
    classifier_val_accuracy: float
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["train"] = self.train.to_json()
        out["cross"] = self.cross.to_json()
        return out


@dataclass(frozen=True)
class MeasureSummary:
    """One divergence measure over runs: the value and its floor, each mean ± SEM."""

    value: Summary
    floor: Summary
    n_points: list[int]

    def to_json(self) -> dict[str, Any]:
        return {**self.value.to_json(), "floor": self.floor.to_json(), "n_points": list(self.n_points)}


@dataclass(frozen=True)
class SplitSummary:
    """Mean ± SEM over runs of one split ("train" or "cross")."""

    iia: Summary
    noop_iia: Summary
    divergences: dict[str, MeasureSummary]
    reference: str = "matched"

    @classmethod
    def of(cls, evals: list[EvalResult], reference: str = "matched") -> SplitSummary:
        ids = list(evals[0].divergences)
        return cls(iia=summarize([e.iia for e in evals]), noop_iia=summarize([e.noop_iia for e in evals]),
                   divergences={m: MeasureSummary(summarize([e.divergences[m]["value"] for e in evals]),
                                                  summarize([e.divergences[m]["floor"] for e in evals]),
                                                  evals[0].divergences[m]["n_points"]) for m in ids},
                   reference=reference)

    def to_json(self) -> dict[str, Any]:
        sink, emd = self.divergences[f"sinkhorn_converged_{self.reference}"], self.divergences[f"exact_emd_{self.reference}"]
        return {"iia": self.iia.to_json(), "noop_iia": self.noop_iia.to_json(),
                **{m: s.to_json() for m, s in self.divergences.items()},
                "emd": sink.value.to_json(), "exact_emd": emd.value.to_json(),
                "native_floor_emd": emd.floor.to_json()}


@dataclass
class SyntheticSummary:
    """All runs of one :class:`SyntheticConfig` and their summaries."""

    config: SyntheticConfig
    runs: list[RunResult]
    wall_time_s: float = 0.0
    classifier_val_accuracy: dict[int, float] = field(default_factory=dict)

    @property
    def train(self) -> SplitSummary:
        return SplitSummary.of([r.train for r in self.runs], self.config.reference)

    @property
    def cross(self) -> SplitSummary:
        return SplitSummary.of([r.cross for r in self.runs], self.config.reference)

    def to_json(self) -> dict[str, Any]:
        c = self.config
        sink, emd = f"sinkhorn_converged_{c.reference}", f"exact_emd_{c.reference}"
        return {
            "protocol": c.protocol,
            "task": c.task,
            "partition": c.partition,
            "loss": c.loss,
            "map": c.map_kind,
            "epsilon": c.epsilon,
            "seeds": len(c.seeds),
            "k": c.k,
            "site": c.site,
            "measures": c.measures,
            "measure_params": measure_params(["iia_argmax", *c.measures]),
            "divergence_measure": sink,
            "divergence_measures": {"emd": sink, "exact_emd": emd, "native_floor_emd": f"floor of {emd}"},
            "train": self.train.to_json(),
            "cross": self.cross.to_json(),
            "per_run": [r.to_json() for r in self.runs],
            "wall_time_s": self.wall_time_s,
            "config": c.to_json(),
        }
