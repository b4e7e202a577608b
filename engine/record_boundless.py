"""Record a Boundless DAS ε-sweep as findings (through :mod:`engine.record` and :mod:`graph.runs`).

Per ε, two findings produced by one run node:

* IIA on the held-out pairs (mean ± SEM over seeds), with the no-op baseline and the changed-pair IIA in
  its description;
* the divergence of intervened from native site states (metric ``EMD``, measure
  ``sinkhorn_divergence_zscored_per_sqrt_d``), with the native-vs-native baseline and the exact EMD in its
  description.

Method "Boundless DAS", plus "CL" when ε > 0; dataset "price_tagging"; measures ``iia_yes_no_logit`` and the
sweep's divergence measure (its floor: the native-vs-native baseline); conditions
``{task, model, layer, position, epsilon, site, seeds, protocol}``. The run node stores the sweep's whole
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


def run_title(model: str, site: str, epsilons: list[float], seeds: list[int]) -> str:
    eps = ", ".join(f"{e:g}" for e in epsilons)
    return f"Boundless DAS ε-sweep ({eps}) × {len(seeds)} seed(s) on {model_label(model)} at {site}"


def open_run(ledger: RunLedger, config: dict[str, Any], device: str = "cpu") -> RunHandle:
    """Open the run for a sweep with this configuration (``config`` as :meth:`SweepResult.config` gives)."""
    title = run_title(config["model"], config["site"], config["epsilons"], config["seeds"])
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
    return {"task": DATASET, "model": model_label(result.model), "layer": result.layer, "position": result.position,
            "epsilon": s.epsilon, "site": result.site, "seeds": s.seeds, "protocol": "engine"}


def findings_of(result: SweepResult) -> list[Result]:
    """Two results per ε (IIA, divergence), titled readably and compared with ε = 0 where it was run."""
    ref = next((s for s in result.summaries if s.epsilon == 0), None)
    out = []
    for s in result.summaries:
        methods = [METHOD] + (["CL"] if s.epsilon > 0 else [])
        method = METHOD + (" + CL" if s.epsilon > 0 else "")
        if ref is None or s.epsilon == 0:
            verb = "reaches"
        elif _same(s.iia, ref.iia) or s.iia.mean > ref.iia.mean:
            verb = "keeps"
        else:
            verb = "lowers"
        iia_txt = f"{s.iia.mean:.2f}±{s.iia.sem:.2f}" if s.seeds > 1 else f"{s.iia.mean:.2f} (one seed)"
        title = (f"{_method_text(s.epsilon)} {verb} test IIA "
                 f"{'to' if verb == 'lowers' else 'of'} {iia_txt} on {_where(result)}")
        desc = (f"Held-out IIA {s.iia.text()} (SEM over {s.seeds} seeds, {result.runs[0].n_test} pairs); "
                f"no-op baseline {s.iia_noop.mean:.3f}; IIA on pairs whose label changes {s.iia_changed.text()}; "
                f"learned width b·D {s.width.text(1)}; factual accuracy {result.factual_accuracy:.3f}; "
                f"site {result.site}; prompt {result.prompt}.")
        out.append(Result(
            title=title, description=desc, methods=methods, dataset=DATASET,
            measurement=_measurement("IIA", s.iia, s, method, _conditions(result, s), higher_is_better=True,
                                     measure="iia_yes_no_logit")))
        if s.divergence is None:
            continue
        if ref is None or s.epsilon == 0 or ref.divergence is None:
            dverb = "gives"
        elif _same(s.divergence, ref.divergence):
            dverb = "leaves unchanged"
        else:
            dverb = "lowers" if s.divergence.mean < ref.divergence.mean else "raises"
        div_txt = (f"{s.divergence.mean:.3f}±{s.divergence.sem:.3f}" if s.seeds > 1
                   else f"{s.divergence.mean:.3f} (one seed)")
        base = s.divergence_baseline
        dtitle = (f"{_method_text(s.epsilon)} {dverb} divergence{' at' if dverb == 'leaves unchanged' else ''} "
                  f"{'to ' if dverb in ('lowers', 'raises') else ''}{div_txt} (native baseline {base.mean:.3f}) "
                  f"on {_where(result)}")
        emd = f"; exact EMD {s.emd.text(3)} (baseline {s.emd_baseline.mean:.3f})" if s.emd else ""
        what = ("Exact EMD (ot.emd2, cost ½‖a−b‖², the ε→0 limit of the debiased Sinkhorn divergence)"
                if result.divergence_measure.startswith("exact_emd") else
                "Debiased Sinkhorn divergence (cost ½‖a−b‖², ε=0.0025, converged log-domain solver)")
        ddesc = (f"{what} between intervened and native site states, each set z-scored per dimension, divided by "
                 f"√d, mean of {result.data.get('divergence_resamples')} resamples of "
                 f"{result.data.get('divergence_n')} states; SEM over {s.seeds} seeds. Native-vs-native baseline "
                 f"{base.text(4)}{emd}. Site {result.site}.")
        out.append(Result(
            title=dtitle, description=ddesc, methods=methods, dataset=DATASET,
            measurement=_measurement("EMD", s.divergence, s, method, _conditions(result, s), higher_is_better=False,
                                     measure=result.divergence_measure, floor=base)))
    return out


def finish(ledger: RunLedger, run_id: str, result: SweepResult) -> dict[str, Any]:
    """Write the sweep's findings and close its run."""
    return ledger.finish(run_id, findings_of(result), extra_attrs={
        "wall_seconds": result.wall_seconds, "factual_accuracy": result.factual_accuracy,
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
