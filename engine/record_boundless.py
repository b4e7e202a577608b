"""Record a Boundless DAS ε-sweep as findings (through :mod:`engine.record` and :mod:`graph.runs`).

Per ε, findings produced by one run node:

* IIA on the held-out pairs (mean ± SEM over seeds) by both definitions — ``iia_yes_no_logit`` (the engine's)
  and ``iia_argmax`` (the paper's: the vocabulary's argmax is the answer token) — with the no-op baseline and
  the changed-pair IIA in the description;
* one divergence of intervened from native site states per measure computed (metric ``EMD``; e.g.
  ``exact_emd_zscored_per_sqrt_d`` against pooled natives and the paper's
  ``grant2025_geomloss_zscored_per_sqrt_d`` against the pairs' CL-prompt states), its native-vs-native
  baseline stored as the floor.

Method "Boundless DAS", plus "CL" when ε > 0; dataset "price_tagging"; conditions
``{task, model, layer, position, epsilon, epsilon_scaled, site, seeds, protocol, cl_target, cl_space}``. The run node stores the sweep's whole
configuration (hashed: an identical finished sweep is not recorded twice) and the site name.

Inside a :class:`engine.record.RunLedger`, use :func:`open_run` before computing (a crash then leaves a
failed run) and :func:`finish` after, or :func:`record_sweep` to do both for a sweep already computed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.boundless_results import EpsilonSummary, SweepResult
from engine.record import RunHandle, RunLedger
from db.records import Measurement
from graph.runs import Result
from graph.stats import Summary, agreement

DATASET = "price_tagging"
METHOD = "Boundless DAS"


def model_label(model: str) -> str:
    """A short model name for titles: ``tiny-pricetag`` or a directory's last part."""
    return Path(model).name if ("/" in model or "\\" in model) else model


def run_title(model: str, site: str, epsilons: list[float], seeds: list[int], training: dict[str, Any]) -> str:
    eps = ", ".join(f"{e:g}" for e in epsilons)
    setting = (f"{training.get('protocol', 'engine')} protocol, CL {training.get('cl_target', 'class-mean')} / "
               f"{training.get('cl_space', 'subspace')}")
    return f"Boundless DAS ε-sweep ({eps}) × {len(seeds)} seed(s) on {model_label(model)} at {site} ({setting})"


def open_run(ledger: RunLedger, config: dict[str, Any], device: str = "cpu") -> RunHandle:
    """Open the run for a sweep with this configuration (``config`` as :meth:`SweepResult.config` gives)."""
    title = run_title(config["model"], config["site"], config["epsilons"], config["seeds"], config["training"])
    return ledger.open(title=title, config=config, site=config["site"],
                       divergence_measure=config["divergence_measure"], device=device,
                       description="Boundless DAS with the CL loss on Price Tagging (engine.boundless); per ε: "
                                   "test IIA and divergence.")


def _same(a: Summary, b: Summary) -> bool:
    return agreement(a.mean, a.sem, b.mean, b.sem)["agrees"]


def _err(st: Summary) -> float | None:
    """SEM over seeds, or None for a single seed (no spread to state)."""
    return round(st.sem, 6) if st.sem is not None else None


def _measurement(metric: str, st: Summary, s: EpsilonSummary, method: str, conditions: dict[str, Any],
                 higher_is_better: bool, measure: str, floor: Summary | None = None) -> Measurement:
    """One ε row's mean ± SEM over seeds as a test-split measurement, naming its measure (and floor)."""
    return Measurement(metric=metric, value=round(st.mean, 6), err=_err(st), err_kind="sem" if s.seeds > 1 else None,
                       n=s.seeds, split="test", dataset=DATASET, method=method, conditions=conditions,
                       higher_is_better=higher_is_better, measure=measure,
                       floor=floor.to_json() if floor is not None else None)


def _where(result: SweepResult) -> str:
    return f"{model_label(result.model)} (layer {result.layer}, pos {result.position})"


def _method_text(eps: float) -> str:
    return f"Boundless DAS with CL loss (ε={eps:g})" if eps > 0 else "Boundless DAS (ε=0, no CL loss)"


def _conditions(result: SweepResult, s: EpsilonSummary) -> dict[str, Any]:
    out = {"task": DATASET, "model": model_label(result.model), "layer": result.layer, "position": result.position,
           "epsilon": s.epsilon, "site": result.site, "seeds": s.seeds, **result.protocol}
    if s.epsilon_scaled is not None:
        out["epsilon_scaled"] = round(s.epsilon_scaled, 6)  # ε · L_CL / L_task at ε = 0: comparable across models
    return out


def _verb(value: Summary, ref: Summary | None, lower: str, higher: str, same: str, first: str = "gives") -> str:
    """How ``value`` reads against the ε = 0 reference ``ref`` (``first`` when it is the reference, or none)."""
    if ref is None or value is ref:
        return first
    if _same(value, ref):
        return same
    return lower if value.mean < ref.mean else higher


def _pm(st: Summary, digits: int) -> str:
    return st.text(digits) if st.sem is not None else f"{st.mean:.{digits}f} (one seed)"


def findings_of(result: SweepResult) -> list[Result]:
    """Per ε: IIA by both definitions and every divergence measure, titled readably, compared with ε = 0 where it
    was run, each naming the protocol, CL target, CL space and measure."""
    ref = next((s for s in result.summaries if s.epsilon == 0), None)
    tag = result.protocol
    setting = f"{tag['protocol']} protocol, CL {tag['cl_target']} / {tag['cl_space']}"
    out = []
    for s in result.summaries:
        methods = [METHOD] + (["CL"] if s.epsilon > 0 else [])
        method = METHOD + (" + CL" if s.epsilon > 0 else "")
        where = f"on {_where(result)} ({setting})"
        iias = [("iia_yes_no_logit", "test IIA (yes vs no)", s.iia, ref.iia if ref else None)]
        if s.iia_argmax is not None:
            iias.append(("iia_argmax", "test IIA (vocabulary argmax)", s.iia_argmax, ref.iia_argmax if ref else None))
        for measure, words, st, base in iias:
            verb = _verb(st, base, "lowers", "raises", "keeps", first="reaches")
            if verb == "raises":
                verb = "keeps"  # an IIA at or above ε = 0's is kept
            out.append(Result(
                title=f"{_method_text(s.epsilon)} {verb} {words} {'to' if verb == 'lowers' else 'of'} "
                      f"{_pm(st, 2)} {where}",
                description=(f"Held-out IIA ({measure}) {st.text()} (SEM over {s.seeds} seeds, "
                             f"{result.runs[0].n_test} pairs); no-op baseline {s.iia_noop.mean:.3f}; IIA on pairs "
                             f"whose label changes {s.iia_changed.text()}; learned width b·D {s.width.text(1)}; "
                             f"factual accuracy {result.factual_accuracy:.3f}; site {result.site}; prompt "
                             f"{result.prompt}; {setting}."),
                methods=methods, dataset=DATASET,
                measurement=_measurement("IIA", st, s, method, _conditions(result, s), True, measure)))
        for measure, div in s.divergences.items():
            if div["value"] is None:
                continue
            base_ref = ref.divergences.get(measure, {}).get("value") if ref else None
            verb = _verb(div["value"], base_ref, "lowers", "raises", "leaves unchanged")
            floor = div["baseline"]
            out.append(Result(
                title=(f"{_method_text(s.epsilon)} {verb} divergence {_pm(div['value'], 3)} ({measure}; native "
                       f"baseline {floor.mean:.3f}) {where}"),
                description=(f"Divergence of intervened from native site states, measure {measure} "
                             f"(`findings measures`), SEM over {s.seeds} seeds; its native-vs-native baseline "
                             f"{floor.text(4)} is stored as the floor. Site {result.site}; {setting}."),
                methods=methods, dataset=DATASET,
                measurement=_measurement("EMD", div["value"], s, method, _conditions(result, s), False, measure,
                                         floor=floor)))
    return out


def finish(ledger: RunLedger, run_id: str, result: SweepResult) -> dict[str, Any]:
    """Write the sweep's findings and close its run (the whole result kept on the run as ``result``)."""
    full = result.to_json()
    return ledger.finish(run_id, findings_of(result), extra_attrs={
        "wall_seconds": result.wall_seconds, "factual_accuracy": result.factual_accuracy, "result": full,
        "summary": [{"epsilon": s.epsilon, "iia": s.iia.mean, "iia_sem": s.iia.sem, "iia_changed": s.iia_changed.mean,
                     "iia_noop": s.iia_noop.mean, "width": s.width.mean,
                     "divergence": s.divergence.mean if s.divergence else None,
                     "divergence_baseline": s.divergence_baseline.mean if s.divergence_baseline else None}
                    for s in result.summaries]})


def record_sweep(graph: Any, result: SweepResult) -> dict[str, Any]:
    """Record a computed sweep; ``{"run_id": None, "existing": id}`` when an identical one is recorded."""
    with RunLedger(graph) as ledger:
        handle = open_run(ledger, result.config(), device=result.device)
        if handle.run_id is None:
            return {"run_id": None, "existing": handle.existing.id, "findings": [], "replications": []}
        return finish(ledger, handle.run_id, result)
