"""Replication verdicts: a run's number against a published one, only like for like.

A run's result is compared with a *published* finding (one no run produced) that reports the same
quantity: the same metric, method, split and dataset, and the same experiment (task, partition, loss, map,
CL weight, model, layer, position — where the published finding states them). Among those, a verdict is
drawn only when the two are **like for like**:

- the same **measure** (:mod:`graph.measures`): a divergence is only a number with its estimator, point sets,
  sample size and coordinates; a published number that names no measure is compared with nothing;
- the same **protocol** (condition ``protocol``, e.g. ``grant2025`` for the paper's code's protocol,
  ``engine`` for this project's): the same map measured under another protocol is another quantity.

Published findings of the same experiment that fail either test are reported as *not compared*, each with
its reason, so ``show`` can say which published number a result was not compared with and why.

**The rule** (:func:`graph.stats.agreement`): agree when |Δ| ≤ 2·√(e_run² + e_pub²) → ``replicates``,
otherwise ``fails_to_replicate``; both numbers, the difference and z are stored on the edge.

**Floors.** A divergence measured by a run carries its estimator's floor on the run's data (the same
estimator on a perfect intervention, same n; ``Measurement.floor`` = {"mean", "sem", "n"}). The published
number was measured by the same estimator at the same n on the same task, so the run's floor applies to it
too. A value is *at the floor* when it lies below the floor's mean or within the agreement rule of it
(:func:`at_floor`). When both values are at the floor they are indistinguishable from a perfect map, and
from each other: the verdict is ``replicates``, marked ``floor_band: true``, whatever their z; neither is
"better".

**Stance on claims.** A result that agrees supports each claim the published finding supports; one that
disagrees contradicts it, unless it differs on the claim's own side (a lower divergence, a higher
accuracy than published), which fails to replicate the number but still supports the claim.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.records import Measurement, Node
from graph import core
from graph.stats import agreement

RULE = "|Δ| ≤ 2·√(e_run² + e_pub²)"  # graph.stats.agreement with a = run, b = published
FLOOR_RULE = "at the floor: value ≤ floor mean, or |value − floor mean| ≤ 2·√(e² + e_floor²)"
# what makes two results the same experiment (compared when both state it; a published condition the run
# does not state keeps them apart)
IDENTITY_KEYS = ("task", "partition", "loss", "map", "epsilon", "model", "layer", "position")
# what makes two results of the same experiment like for like
PROTOCOL_KEY = "protocol"


@dataclass
class Candidate:
    """A published finding of the same experiment; ``reason`` is None when it is like for like."""

    node: Node
    measurement: Measurement
    reason: str | None


def _same(a: Any, b: Any) -> bool:
    return str(a).lower() == str(b).lower()


def same_experiment(ours: Measurement, theirs: Measurement) -> bool:
    if ours.metric != theirs.metric:
        return False
    if not all(_same(getattr(ours, k) or "", getattr(theirs, k) or "") for k in ("method", "split", "dataset")):
        return False
    # a condition the published number states must be stated, and equal, by the run
    return all(key in ours.conditions and _same(ours.conditions[key], theirs.conditions[key])
               for key in IDENTITY_KEYS if key in theirs.conditions)


def incomparability(ours: Measurement, theirs: Measurement) -> str | None:
    """Why two measurements of the same experiment are not like for like, or None when they are."""
    reasons = []
    if not theirs.measure:
        reasons.append("the published number names no measure")
    elif ours.measure != theirs.measure:
        reasons.append(f"different measure: run {ours.measure or 'unnamed'}, published {theirs.measure}")
    ours_p, theirs_p = ours.conditions.get(PROTOCOL_KEY), theirs.conditions.get(PROTOCOL_KEY)
    if theirs_p is not None and not _same(ours_p, theirs_p):
        reasons.append(f"different protocol: run {ours_p or 'unstated'}, published {theirs_p}")
    elif theirs_p is None and ours_p is not None:
        reasons.append(f"the published number states no protocol (run: {ours_p})")
    return "; ".join(reasons) or None


def candidates(tx, meas: Measurement, exclude: set[str]) -> list[Candidate]:
    """Published findings (not produced by a run) of the same experiment, each with its like-for-like test."""
    out = []
    for node, theirs in tx.find_measured_nodes(meas.metric, kind="finding"):
        if node.id in exclude or node.attrs.get("run"):
            continue
        if any(v.edge.type == "produced_by" for v in tx.edges_of(node.id)):
            continue
        if same_experiment(meas, theirs):
            out.append(Candidate(node, theirs, incomparability(meas, theirs)))
    return out


def at_floor(value: float, err: float | None, floor: dict[str, Any] | None) -> bool | None:
    """Whether a value is indistinguishable from its estimator's floor; None without a floor."""
    if not floor or floor.get("mean") is None:
        return None
    return value <= floor["mean"] or agreement(value, err, floor["mean"], floor.get("sem"))["agrees"]


def verdict(run_value: float, run_err: float | None, pub_value: float, pub_err: float | None,
            floor: dict[str, Any] | None = None) -> dict[str, Any]:
    """The replication rule (and the floor band), with everything needed to check it by hand."""
    v = agreement(run_value, run_err, pub_value, pub_err)
    out = {"agrees": v["agrees"], "run_value": run_value, "run_err": run_err, "published_value": pub_value,
           "published_err": pub_err, "difference": v["difference"], "combined_err": v["combined_err"],
           "z": v["z"], "rule": RULE}
    run_floor, pub_floor = at_floor(run_value, run_err, floor), at_floor(pub_value, pub_err, floor)
    if floor:
        out.update(floor=floor, run_at_floor=run_floor, published_at_floor=pub_floor, floor_rule=FLOOR_RULE)
    if run_floor and pub_floor:
        out.update(agrees=True, floor_band=True,
                   note="both values lie within the estimator's floor band: indistinguishable from a perfect map")
    return out


def stance(v: dict[str, Any], meas: Measurement) -> str:
    """``supports`` or ``contradicts`` for the claims of the published finding (see the module docstring)."""
    if v["agrees"] or meas.higher_is_better is None:
        return "supports" if v["agrees"] else "contradicts"
    better = v["run_value"] > v["published_value"] if meas.higher_is_better else v["run_value"] < v["published_value"]
    return "supports" if better else "contradicts"


def replicate(tx, fid: str, meas: Measurement, run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Draw the verdicts of a run's finding ``fid``: (verdicts written as edges, published findings not compared
    with their reasons)."""
    verdicts, not_compared = [], []
    for cand in candidates(tx, meas, {fid}):
        pub, theirs = cand.node, cand.measurement
        if cand.reason is not None:
            not_compared.append({"published": pub.id, "title": pub.title, "value": theirs.value, "err": theirs.err,
                                 "measure": theirs.measure, "reason": cand.reason})
            continue
        v = verdict(meas.value, meas.err, theirs.value, theirs.err, meas.floor)
        edge_type = "replicates" if v["agrees"] else "fails_to_replicate"
        attrs = {k: v[k] for k in v if k != "agrees"} | {"metric": meas.metric, "measure": meas.measure}
        core.add_edge(tx, fid, edge_type, pub.id, attrs, {"run": run_id})
        claim_stance = stance(v, meas)
        for view in tx.edges_of(pub.id):
            if view.direction == "out" and view.edge.type == "supports" and view.node.kind == "claim":
                stance_attrs = {"via": pub.id, "replication": edge_type, **({"floor_band": True} if v.get("floor_band")
                                                                                      else {})}
                core.add_edge(tx, fid, claim_stance, view.node.id, stance_attrs, {"run": run_id})
        verdicts.append({"finding": fid, "published": pub.id, "edge": edge_type, **attrs})
    return verdicts, not_compared
