"""A synthetic-task summary as findings: one per split × measure, each naming its measure and floor.

From a ``SyntheticSummary.to_json()`` payload (:mod:`engine.results`), per split ("train", "cross"):

- one IIA finding (metric ``IIA``, measure ``iia_argmax``);
- one finding per divergence measure the run computed (metric ``EMD``; measure ``grant2025_geomloss_sinkhorn``,
  ``sinkhorn_converged_matched``, ``exact_emd_matched`` …), with the estimator's floor on the run's data and
  the parameters it ran with (library version, points used).

Conditions name the protocol (``engine`` or ``grant2025``) beside the task, partition, loss, map, k, site,
seeds and the checkpoint rule, so :mod:`graph.replication` compares only like with like.
"""
from __future__ import annotations

import math
from typing import Any

from db.records import Measurement
from engine.record import RunHandle, RunLedger, run_key
from graph import runs

DATASET = "synthetic10"
IIA_MEASURE = "iia_argmax"
METHOD_OF_LOSS = {"das": "DAS", "cl": "CL", "das+cl": "DAS+CL"}
METHODS_OF_LOSS = {"das": ["DAS"], "cl": ["CL"], "das+cl": ["DAS", "CL"]}
LOSS_LABEL = {"das": "DAS behavioural loss", "cl": "CL loss", "das+cl": "DAS+CL loss"}


def fmt_pm(value: float, err: float | None) -> str:
    """``0.9966±0.0012``: the error to two significant digits, the value to the same decimal place."""
    if err is None or err <= 0 or not math.isfinite(err):
        return f"{value:.4g}"
    decimals = max(0, 1 - math.floor(math.log10(err)))
    return f"{value:.{decimals}f}±{err:.{decimals}f}"


def synthetic_title(data: dict[str, Any], split: str, value: float, err: float | None, measure: str | None = None,
                    floor: dict[str, Any] | None = None) -> str:
    """E.g. "CL loss produces cross EMD of 0.0066±0.0016 (grant2025_geomloss_sinkhorn; floor 0.0043±0.0002)
    on synthetic 10-class og_holdouts (grant2025 protocol, linear map, 5 seeds × 2 directions)"."""
    loss, eps = data["loss"], data["epsilon"]
    loss_words = LOSS_LABEL[loss] + (f" (ε={eps:g})" if eps is not None else "")
    if measure is None:
        what = f"achieves {split} IIA of {fmt_pm(value, err)}"
    else:
        floor_words = f"; floor {fmt_pm(floor['mean'], floor.get('sem'))}" if floor else ""
        what = f"produces {split} EMD of {fmt_pm(value, err)} ({measure}{floor_words})"
    return (f"{loss_words} {what} on synthetic 10-class {data['partition']} ({data.get('protocol', 'engine')} "
            f"protocol, {data['map']} map, {data['seeds']} seeds × 2 directions)")


def synthetic_results(data: dict[str, Any]) -> list[runs.Result]:
    """One finding per split × (IIA and every divergence measure) of a ``SyntheticSummary.to_json()`` payload."""
    loss, protocol = data["loss"], data.get("protocol", "engine")
    n_runs = len(data["per_run"])
    cfg = data.get("config", {})
    conditions = {"task": data["task"], "partition": data["partition"], "loss": loss, "map": data["map"],
                  "k": data["k"], "site": data["site"], "seeds": data["seeds"], "directions": 2,
                  "protocol": protocol, "selection_rule": cfg.get("selection_rule")}
    if data["epsilon"] is not None:
        conditions["epsilon"] = data["epsilon"]
    params = data.get("measure_params", {})
    out = []
    for split in ("train", "cross"):
        rows = [("IIA", IIA_MEASURE, data[split]["iia"], None)]
        rows += [("EMD", mid, data[split][mid], data[split][mid]["floor"]) for mid in data["measures"]]
        for metric, measure, stat, floor in rows:
            is_iia = metric == "IIA"
            title = synthetic_title(data, split, stat["mean"], stat["sem"], None if is_iia else measure, floor)
            description = (f"Measured by findings run synthetic ({protocol} protocol): {LOSS_LABEL[loss]} on the "
                           f"{data['partition']} partition, {split} split, mean ± SEM over {n_runs} runs "
                           f"({data['seeds']} seeds × 2 directions); measure {measure}"
                           + ("" if is_iia else f"; its floor on this run's data (a perfect intervention, same n) "
                                                f"{fmt_pm(floor['mean'], floor.get('sem'))}") + ".")
            measure_params = dict(params.get(measure, {}))
            if "n_points" in stat:
                measure_params["n_points"] = stat["n_points"]
            out.append(runs.Result(
                title=title, description=description,
                measurement=Measurement(metric=metric, value=stat["mean"], err=stat["sem"], err_kind="sem",
                                        n=stat["n"], split=split, dataset=DATASET, method=METHOD_OF_LOSS[loss],
                                        conditions=dict(conditions), higher_is_better=is_iia, measure=measure,
                                        measure_params=measure_params, floor=floor),
                methods=METHODS_OF_LOSS[loss], dataset=DATASET))
    return out


def synthetic_run_config(config_json: dict[str, Any]) -> dict[str, Any]:
    """What a synthetic run is stored with: its full protocol config, tagged with the task family."""
    return {"kind": "synthetic", **config_json}


def synthetic_run_key(config_json: dict[str, Any]) -> str:
    """The key a synthetic run with this protocol config is stored under (:func:`run_key`)."""
    return run_key(synthetic_run_config(config_json))


def open_synthetic_run(ledger: RunLedger, config_json: dict[str, Any], device: str = "cpu") -> RunHandle:
    """``ledger.open`` for one synthetic protocol config (``SyntheticConfig.to_json()``)."""
    loss = config_json.get("loss") or config_json.get("train", {}).get("loss")
    title = (f"synthetic10 {config_json['partition']} {loss} ({config_json.get('protocol', 'engine')} protocol, "
             f"{config_json.get('map_kind', '?')} map, "
             f"{len(config_json.get('seeds', []))} seeds)")
    return ledger.open(title=title, config=synthetic_run_config(config_json), site=config_json["site"],
                       divergence_measure=", ".join(config_json.get("measures", [])), device=device,
                       description=f"findings run synthetic: DAS/CL transfer on the synthetic 10-class task "
                                   f"({config_json.get('protocol', 'engine')} protocol)")


def finish_synthetic_run(ledger: RunLedger, run_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Write the findings of a finished synthetic run (``SyntheticSummary.to_json()``) and close it."""
    return ledger.finish(run_id, synthetic_results(data),
                         extra_attrs={"summary": data, "wall_time_s": data.get("wall_time_s")})
