"""Result objects of a Boundless DAS sweep: one row per (ε, seed), one summary per ε, the sweep with its config.

Plain dataclasses with ``to_json`` (stable keys); the full configuration (model, site, data, training) is
inside :class:`SweepResult`, so a saved result can be re-run or recorded as findings
(:mod:`engine.record_boundless`). Errors are SEM over seeds.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.llm_divergence import MEASURES
from graph import stats
from graph.stats import Summary


@dataclass
class SeedResult:
    epsilon: float
    seed: int
    iia: float
    iia_changed: float
    iia_noop: float
    n_test: int
    n_changed: int
    boundary: float  # b in (0, 1)
    width: float  # b·D
    width_hard: int
    divergence: dict[str, Any] | None  # engine.llm_divergence.DivergenceEstimate.to_json()
    train_seconds: float
    final_ce: float
    final_cl: float


def stat(values: list[float | None]) -> Summary | None:
    """Mean ± SEM over the values present (None and NaN dropped); None when no value is present."""
    try:
        return stats.summarize(values, skip_missing=True)
    except ValueError:
        return None


@dataclass
class EpsilonSummary:
    epsilon: float
    seeds: int
    iia: Summary
    iia_changed: Summary
    iia_noop: Summary
    width: Summary
    divergence: Summary | None
    divergence_baseline: Summary | None
    emd: Summary | None
    emd_baseline: Summary | None


def summarize(rows: list[SeedResult]) -> list[EpsilonSummary]:
    out = []
    for eps in sorted({r.epsilon for r in rows}):
        rs = [r for r in rows if r.epsilon == eps]
        divs = [r.divergence for r in rs if r.divergence]
        out.append(EpsilonSummary(
            epsilon=eps, seeds=len(rs), iia=stat([r.iia for r in rs]), iia_changed=stat([r.iia_changed for r in rs]),
            iia_noop=stat([r.iia_noop for r in rs]), width=stat([r.width for r in rs]),
            divergence=stat([d["value"] for d in divs]) if divs else None,
            # the native baseline does not depend on the seed: its error is the SEM over resamples
            divergence_baseline=stats.summarize(divs[0]["baseline_values"]) if divs else None,
            emd=stat([d["emd"] for d in divs if d.get("emd") is not None]) if divs else None,
            emd_baseline=stat([d["baseline_emd"] for d in divs if d.get("baseline_emd") is not None]) if divs else None,
        ))
    return out


def sweep_config(*, model: str, prompt: str, site: str, layer: int, position: int, epsilons: list[float],
                 seeds: list[int], training: dict[str, Any], data: dict[str, Any],
                 model_info: dict[str, Any] | None = None, divergence_measure: str = MEASURES["emd"]) -> dict[str, Any]:
    """The configuration of a sweep, known before it runs (so a run node can be opened first)."""
    return {"task": "price_tagging", "model": model, "prompt": prompt, "site": site, "layer": layer,
            "position": position, "epsilons": [float(e) for e in epsilons], "seeds": [int(s) for s in seeds],
            "training": training, "data": data, "divergence_measure": divergence_measure, "model_info": model_info}


@dataclass
class SweepResult:
    model: str
    prompt: str  # "compact" | "alpaca"
    site: str  # e.g. "gpt2.h.2.out@pos14"
    layer: int
    position: int
    epsilons: list[float]
    seeds: list[int]
    training: dict[str, Any]  # BoundlessConfig without epsilon/seed
    data: dict[str, Any]  # DataConfig
    factual_accuracy: float
    summaries: list[EpsilonSummary]
    runs: list[SeedResult]
    wall_seconds: float
    prepare_seconds: float
    device: str = "cpu"
    divergence_measure: str = MEASURES["emd"]
    iia_definition: str = ("share of held-out pairs where the intervened run's yes-vs-no logit comparison at the "
                           "answer position gives the counterfactual label; mask at the final temperature")
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the tiny model's training info

    def config(self) -> dict[str, Any]:
        """Everything that determines the sweep (what the recorder hashes)."""
        return sweep_config(model=self.model, prompt=self.prompt, site=self.site, layer=self.layer,
                            position=self.position, epsilons=self.epsilons, seeds=self.seeds, training=self.training,
                            data=self.data, model_info=self.extra.get("model_info"),
                            divergence_measure=self.divergence_measure)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """The per-ε table (mean±SEM over seeds)."""
        head = (f"{'ε':>6}  {'IIA (test)':>13}  {'changed IIA':>13}  {'no-op':>6}  {'divergence':>15}  "
                f"{'baseline div':>15}  {'exact EMD':>13}  {'width b·D':>11}")
        lines = [f"{self.model} · {self.site} · factual acc {self.factual_accuracy:.3f} · "
                 f"{len(self.seeds)} seed(s) · divergence = {self.divergence_measure}", head]
        for s in self.summaries:
            div = s.divergence.text(4) if s.divergence else "—"
            base = s.divergence_baseline.text(4) if s.divergence_baseline else "—"
            emd = s.emd.text(3) if s.emd else "—"
            lines.append(f"{s.epsilon:>6g}  {s.iia.text():>13}  {s.iia_changed.text():>13}  {s.iia_noop.mean:>6.3f}  "
                         f"{div:>15}  {base:>15}  {emd:>13}  {s.width.text(1):>11}")
        lines.append(f"wall {self.wall_seconds:.0f}s (+{self.prepare_seconds:.0f}s preparing native states)")
        return "\n".join(lines)
