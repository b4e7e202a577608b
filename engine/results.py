"""Result objects of the synthetic transfer protocol: plain dataclasses, JSON out.

:class:`SyntheticConfig` holds everything needed to rerun an experiment (task, partition, loss, map, CL
weight ε, k, seeds, the site, both divergence measures with their parameters, the training protocol).
:class:`RunResult` is one (seed, direction) run; :class:`SyntheticSummary` gathers the runs of one config
and summarises them as mean ± SEM (SEM = sample std / √n).

``SyntheticSummary.to_json()`` is the ``findings run synthetic --json`` contract::

    {"task", "partition", "loss", "map", "epsilon", "seeds", "divergence_measure",
     "train": {"iia": {"mean", "sem"}, "emd": {"mean", "sem"}, ...},
     "cross": {"iia": {"mean", "sem"}, "emd": {"mean", "sem"}, ...},
     "per_run": [...], ...}

where ``"emd"`` holds the divergence named by ``"divergence_measure"`` — the debiased Sinkhorn divergence,
which is what the paper calls "EMD" — and ``"exact_emd"`` beside it holds the exact EMD (``ot.emd2``).
``"epsilon"`` is the CL weight of ``das+cl`` (null for ``das`` and ``cl``, which have none).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.metrics import EMD_MEASURE, SINKHORN_MEASURE, DivergenceMeasure
from engine.synthetic import SITE, TASK
from engine.training import TrainConfig
from graph.stats import Summary, summarize


@dataclass(frozen=True)
class SyntheticConfig:
    """One experiment of the synthetic transfer protocol."""

    partition: str
    train: TrainConfig
    map_kind: str = "linear"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    samples_per_class: int = 100
    n_train_per_variable: int = 500
    n_eval_per_variable: int = 500
    classifier_max_epochs: int = 1000
    classifier_patience: int = 100
    classifier_ties: str = "last"  # which best-validation checkpoint the probe keeps (engine.synthetic)
    sinkhorn: DivergenceMeasure = field(default_factory=lambda: DivergenceMeasure(SINKHORN_MEASURE))
    emd: DivergenceMeasure = field(default_factory=lambda: DivergenceMeasure(EMD_MEASURE))
    reference: str = "matched"  # native set the divergence compares with: class-matched draws, or the task's natives
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

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["seeds"] = list(self.seeds)
        out["loss"] = self.loss
        out["epsilon"] = self.epsilon
        out["k"] = self.k
        out["selection_rule"] = self.train.selection_rule
        return out


@dataclass
class EvalResult:
    """One trained map measured on one task's held-out interventions."""

    task: str
    y_values: tuple[int, ...]
    n_interventions: int
    iia: float
    noop_iia: float  # share of interventions whose counterfactual class is the base's own class
    sinkhorn_divergence: float
    exact_emd: float
    native_floor_emd: float  # exact EMD between two class-matched native draws: what native data scores
    n_points_sinkhorn: tuple[int, int]  # (intervened, native) points used after subsampling
    n_points_emd: tuple[int, int]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["y_values"] = list(self.y_values)
        out["n_points_sinkhorn"] = list(self.n_points_sinkhorn)
        out["n_points_emd"] = list(self.n_points_emd)
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
        out["divergence_measures"] = {"sinkhorn_divergence": SINKHORN_MEASURE, "exact_emd": EMD_MEASURE}
        return out


@dataclass(frozen=True)
class SplitSummary:
    """Mean ± SEM over runs of one split ("train" or "cross")."""

    iia: Summary
    sinkhorn_divergence: Summary
    exact_emd: Summary
    noop_iia: Summary
    native_floor_emd: Summary

    @classmethod
    def of(cls, evals: list[EvalResult]) -> SplitSummary:
        return cls(iia=summarize([e.iia for e in evals]),
                   sinkhorn_divergence=summarize([e.sinkhorn_divergence for e in evals]),
                   exact_emd=summarize([e.exact_emd for e in evals]),
                   noop_iia=summarize([e.noop_iia for e in evals]),
                   native_floor_emd=summarize([e.native_floor_emd for e in evals]))

    def to_json(self) -> dict[str, Any]:
        return {"iia": self.iia.to_json(), "emd": self.sinkhorn_divergence.to_json(),
                "exact_emd": self.exact_emd.to_json(), "noop_iia": self.noop_iia.to_json(),
                "native_floor_emd": self.native_floor_emd.to_json()}


@dataclass
class SyntheticSummary:
    """All runs of one :class:`SyntheticConfig` and their summaries."""

    config: SyntheticConfig
    runs: list[RunResult]
    wall_time_s: float = 0.0
    classifier_val_accuracy: dict[int, float] = field(default_factory=dict)

    @property
    def train(self) -> SplitSummary:
        return SplitSummary.of([r.train for r in self.runs])

    @property
    def cross(self) -> SplitSummary:
        return SplitSummary.of([r.cross for r in self.runs])

    @property
    def divergence_measure(self) -> str:
        return SINKHORN_MEASURE

    def to_json(self) -> dict[str, Any]:
        c = self.config
        return {
            "task": c.task,
            "partition": c.partition,
            "loss": c.loss,
            "map": c.map_kind,
            "epsilon": c.epsilon,
            "seeds": len(c.seeds),
            "k": c.k,
            "site": c.site,
            "divergence_measure": SINKHORN_MEASURE,
            "divergence_measures": {"emd": c.sinkhorn.to_json(), "exact_emd": c.emd.to_json()},
            "train": self.train.to_json(),
            "cross": self.cross.to_json(),
            "per_run": [r.to_json() for r in self.runs],
            "wall_time_s": self.wall_time_s,
            "config": c.to_json(),
        }
