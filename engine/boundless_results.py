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
    divergence: dict[str, Any] | None  # the sweep's primary measure: engine.llm_divergence.DivergenceEstimate.to_json()
    train_seconds: float
    final_ce: float
    final_cl: float
    iia_argmax: float = float("nan")  # argmax over the vocabulary is the counterfactual answer token (the paper's)
    mean_ce: float = float("nan")  # task loss averaged over training batches
    mean_cl: float = float("nan")  # CL loss averaged over training batches (measured at ε = 0 too)
    updates: int = 0
    divergences: dict[str, dict[str, Any]] = field(default_factory=dict)  # every measure computed, by id


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
    iia_argmax: Summary | None = None
    divergences: dict[str, dict[str, Summary]] = field(default_factory=dict)  # {id: {"value", "baseline"}}
    epsilon_scaled: float | None = None  # ε · L_CL / L_task at ε = 0 (see SweepResult.cl_scale)


def cl_scale(rows: list[SeedResult]) -> float | None:
    """L_CL / L_task of the ε = 0 runs (training-batch means, averaged over seeds): multiplied by ε it puts a
    sweep on a scale-free axis, so sweeps of different models can be laid side by side. None without ε = 0."""
    zero = [r for r in rows if r.epsilon == 0 and r.mean_ce == r.mean_ce and r.mean_ce > 0]
    if not zero:
        return None
    return sum(r.mean_cl / r.mean_ce for r in zero) / len(zero)


def summarize(rows: list[SeedResult]) -> list[EpsilonSummary]:
    out = []
    scale = cl_scale(rows)
    for eps in sorted({r.epsilon for r in rows}):
        rs = [r for r in rows if r.epsilon == eps]
        divs = [r.divergence for r in rs if r.divergence]
        ids = sorted({m for r in rs for m in r.divergences})
        out.append(EpsilonSummary(
            epsilon=eps, seeds=len(rs), iia=stat([r.iia for r in rs]), iia_changed=stat([r.iia_changed for r in rs]),
            iia_noop=stat([r.iia_noop for r in rs]), width=stat([r.width for r in rs]),
            divergence=stat([d["value"] for d in divs]) if divs else None,
            # the native baseline does not depend on the seed: its error is the SEM over resamples
            divergence_baseline=stats.summarize(divs[0]["baseline_values"]) if divs else None,
            emd=stat([d["emd"] for d in divs if d.get("emd") is not None]) if divs else None,
            emd_baseline=stat([d["baseline_emd"] for d in divs if d.get("baseline_emd") is not None]) if divs else None,
            iia_argmax=stat([r.iia_argmax for r in rs]),
            divergences={m: {"value": stat([r.divergences[m]["value"] for r in rs if m in r.divergences]),
                             "baseline": stat([r.divergences[m]["baseline"] for r in rs if m in r.divergences])}
                         for m in ids},
            epsilon_scaled=None if scale is None else eps * scale,
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

    @property
    def protocol(self) -> dict[str, str]:
        """``protocol``, ``cl_target`` and ``cl_space`` of the training (engine.boundless.BoundlessConfig)."""
        return {"protocol": self.training.get("protocol", "engine"),
                "cl_target": self.training.get("cl_target", "class-mean"),
                "cl_space": self.training.get("cl_space", "subspace")}

    @property
    def cl_scale(self) -> float | None:
        return cl_scale(self.runs)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepResult:
        """The result back from :meth:`to_json` (e.g. a sweep cell's, computed on a worker); summaries are
        recomputed from the per-seed rows."""
        from dataclasses import fields

        row_keys = {f.name for f in fields(SeedResult)}
        runs = [SeedResult(**{k: v for k, v in r.items() if k in row_keys}) for r in data["runs"]]
        keys = {f.name for f in fields(cls)} - {"runs", "summaries"}
        return cls(**{k: data[k] for k in keys if k in data}, runs=runs, summaries=summarize(runs))

    def to_json(self) -> dict[str, Any]:
        """Everything, with the protocol, CL target and CL space named at the top and on every row."""
        out = asdict(self)
        tag = self.protocol
        out.update(tag, cl_scale=self.cl_scale)
        for row in out["runs"] + out["summaries"]:
            row.update(tag)
        return out

    def table(self) -> str:
        """The per-ε table (mean±SEM over seeds): both IIA definitions, each divergence with its baseline."""
        tag = self.protocol
        ids = sorted({m for s in self.summaries for m in s.divergences})
        head = (f"{'ε':>7}  {'ε·scale':>8}  {'IIA y/n':>13}  {'IIA argmax':>13}  {'changed':>13}  {'no-op':>6}  "
                + "  ".join(f"{m + ' (baseline)':>40}" for m in ids) + f"  {'width b·D':>11}")
        scale = self.cl_scale
        lines = [f"{self.model} · {self.site} · factual acc {self.factual_accuracy:.3f} · {len(self.seeds)} seed(s) · "
                 f"protocol {tag['protocol']} · CL target {tag['cl_target']} · CL space {tag['cl_space']}"
                 + (f" · L_CL/L_task at ε=0: {scale:.4g}" if scale is not None else ""), head]
        for s in self.summaries:
            divs = "  ".join(
                f"{(s.divergences[m]['value'].text(4) if s.divergences[m]['value'] else '—') + ' (' + (s.divergences[m]['baseline'].text(4) if s.divergences[m]['baseline'] else '—') + ')':>40}"
                for m in ids)
            scaled = f"{s.epsilon_scaled:>8.3g}" if s.epsilon_scaled is not None else f"{'—':>8}"
            argmax = s.iia_argmax.text() if s.iia_argmax else "—"
            lines.append(f"{s.epsilon:>7g}  {scaled}  {s.iia.text():>13}  {argmax:>13}  {s.iia_changed.text():>13}  "
                         f"{s.iia_noop.mean:>6.3f}  {divs}  {s.width.text(1):>11}")
        lines.append(f"wall {self.wall_seconds:.0f}s (+{self.prepare_seconds:.0f}s preparing native states)")
        return "\n".join(lines)
