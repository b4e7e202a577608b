"""Runs and their results as findings, and the replication rule that ties them to published numbers.

A run is a node of kind ``run`` (config, seeds, site, divergence measure, code and package versions,
device, times, status). Each quantitative result becomes a finding with one measurement, an edge
``produced_by`` → run, and, where the graph holds a published finding of the same metric, method,
split and conditions, an edge ``replicates`` or ``fails_to_replicate`` → that finding, with both
numbers and the rule in the edge's attrs. A result that agrees with a published finding ``supports``
each claim that finding supports; one that disagrees ``contradicts`` it, unless it differs on the
claim's side (e.g. a lower divergence than published), which still supports it.

Replication rule: agree when |Δ| ≤ 2·√(e_run² + e_pub²), the errors being the stated uncertainties
(SEM for the published synthetic numbers and for ours), i.e. the two values lie within about two
combined standard errors of each other.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from db.session import Tx
from graph import core
from graph.api import Graph
from db.records import Measurement, Node
from graph.stats import agreement

RULE = "|Δ| ≤ 2·√(e_run² + e_pub²)"  # graph.stats.agreement with a = run, b = published
# condition keys that must agree between a run's result and a published one (when both state them)
MATCH_KEYS = ("task", "partition", "loss", "map", "epsilon", "measure", "model", "layer", "position")


@dataclass
class Result:
    """One quantitative result of a run: becomes one finding."""

    title: str
    description: str
    measurement: Measurement
    methods: list[str] = field(default_factory=list)  # method node titles, e.g. ["CL"]
    dataset: str | None = None  # dataset node title, e.g. "synthetic10"


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def find_finished_run(graph: Graph, chash: str) -> Node | None:
    for run in runs_with_hash(graph, chash):
        if run.attrs.get("status") == "finished":
            return run
    return None


def runs_with_hash(graph: Graph, chash: str) -> list[Node]:
    """Every run stored under the config hash ``chash`` (finished, failed or running)."""
    with graph.store.read() as tx:
        return [run for run in tx.list_nodes(kind="run") if run.attrs.get("config_hash") == chash]


def start_run(graph: Graph, title: str, attrs: dict[str, Any]) -> str:
    """Create the run node with status ``running`` (committed at once, so a crash leaves a trace)."""
    started = now()
    return graph.store.run_in_transaction(lambda tx: core.create_node(tx, {
        "kind": "run", "title": title, "description": attrs.get("description", ""),
        "attrs": {**attrs, "status": "running", "started_at": started},
        "source": {"run": "engine"},
    }))


def fail_run(graph: Graph, run_id: str, error: str) -> bool:
    """Mark a ``running`` run failed with ``error``; a run already finished or failed is left as it is.
    Returns whether the run was marked."""
    ended = now()

    def body(tx: Tx) -> bool:
        run = core.require_node(tx, run_id)
        if run.attrs.get("status") != "running":
            return False
        tx.update_node(run_id, attrs={**run.attrs, "status": "failed", "error": error[:2000], "ended_at": ended,
                                      "duration_s": _duration(run.attrs.get("started_at"), ended)})
        return True

    return graph.store.run_in_transaction(body)


def _duration(start: str | None, end: str) -> float | None:
    if not start:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)


def finish_run(graph: Graph, run_id: str, results: list[Result], extra_attrs: dict | None = None) -> dict[str, Any]:
    """Write every result as a finding with its edges and mark the run finished: one transaction."""
    return graph.store.run_in_transaction(lambda tx: _finish(tx, run_id, results, extra_attrs))


def _finish(tx: Tx, run_id: str, results: list[Result], extra_attrs: dict | None) -> dict[str, Any]:
    report: dict[str, Any] = {"run_id": run_id, "findings": [], "replications": []}
    run = core.require_node(tx, run_id)
    for res in results:
        fid = core.create_node(tx, {
            "kind": "finding", "title": res.title, "description": res.description,
            "attrs": {"run": run_id}, "source": {"run": run_id},
            "measurements": [res.measurement.to_dict()],
        })
        core.add_edge(tx, fid, "produced_by", run_id, {}, {"run": run_id})
        _link_context(tx, fid, res, run_id)
        report["replications"].extend(_replicate(tx, fid, res.measurement, run_id))
        report["findings"].append(fid)
    ended = now()
    tx.update_node(run_id, attrs={**run.attrs, **(extra_attrs or {}), "status": "finished", "ended_at": ended,
                                  "duration_s": _duration(run.attrs.get("started_at"), ended),
                                  "findings": len(report["findings"])})
    return report


def _named(tx: Tx, kind: str, title: str) -> str:
    from graph.ids import normalize_title

    found = tx.find_nodes_by_title(kind, normalize_title(title))
    if found:
        return found[0].id
    return core.create_node(tx, {"kind": kind, "title": title, "source": {"run": "engine"}})


def _link_context(tx: Tx, fid: str, res: Result, run_id: str) -> None:
    for method in res.methods:
        core.add_edge(tx, fid, "uses_method", _named(tx, "method", method), {}, {"run": run_id})
    if res.dataset:
        core.add_edge(tx, fid, "uses_dataset", _named(tx, "dataset", res.dataset), {}, {"run": run_id})
    core.add_edge(tx, fid, "measures", _named(tx, "metric", res.measurement.metric), {}, {"run": run_id})


def conditions_match(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    for key in MATCH_KEYS:
        if key in ours and key in theirs and str(ours[key]).lower() != str(theirs[key]).lower():
            return False
    # a published number stated for a named condition needs that condition stated by the run too
    return all(key in ours for key in MATCH_KEYS if key in theirs)


def verdict(run_value: float, run_err: float | None, pub_value: float, pub_err: float | None) -> dict[str, Any]:
    """The replication rule (:func:`graph.stats.agreement`), with everything needed to check it by hand."""
    v = agreement(run_value, run_err, pub_value, pub_err)
    return {"agrees": v["agrees"], "run_value": run_value, "run_err": run_err, "published_value": pub_value,
            "published_err": pub_err, "difference": v["difference"], "combined_err": v["combined_err"],
            "z": v["z"], "rule": RULE}


def _stance(v: dict[str, Any], meas: Measurement) -> str:
    """A result that agrees supports the published finding's claim; one that disagrees contradicts it,
    unless it differs on the claim's own side (a lower divergence, a higher accuracy than published):
    that fails to replicate the number but still supports the claim."""
    if v["agrees"] or meas.higher_is_better is None:
        return "supports" if v["agrees"] else "contradicts"
    better = v["run_value"] > v["published_value"] if meas.higher_is_better else v["run_value"] < v["published_value"]
    return "supports" if better else "contradicts"


def published_matches(tx: Tx, meas: Measurement, exclude: set[str]) -> list[tuple[Node, Measurement]]:
    """Published findings (not produced by a run) measuring the same thing under the same conditions."""
    out = []
    for node, theirs in tx.find_measured_nodes(meas.metric, kind="finding"):
        if node.id in exclude or node.attrs.get("run"):
            continue
        if any(v.edge.type == "produced_by" for v in tx.edges_of(node.id)):
            continue
        same = all((getattr(meas, k) or "").lower() == (getattr(theirs, k) or "").lower()
                   for k in ("method", "split", "dataset"))
        if same and conditions_match(meas.conditions, theirs.conditions):
            out.append((node, theirs))
    return out


def _replicate(tx: Tx, fid: str, meas: Measurement, run_id: str) -> list[dict[str, Any]]:
    verdicts = []
    for pub, theirs in published_matches(tx, meas, {fid}):
        v = verdict(meas.value, meas.err, theirs.value, theirs.err)
        edge_type = "replicates" if v["agrees"] else "fails_to_replicate"
        attrs = {k: v[k] for k in v if k != "agrees"} | {"metric": meas.metric}
        core.add_edge(tx, fid, edge_type, pub.id, attrs, {"run": run_id})
        stance = _stance(v, meas)
        for view in tx.edges_of(pub.id):
            if view.direction == "out" and view.edge.type == "supports" and view.node.kind == "claim":
                core.add_edge(tx, fid, stance, view.node.id, {"via": pub.id, "replication": edge_type},
                              {"run": run_id})
        verdicts.append({"finding": fid, "published": pub.id, "edge": edge_type, **attrs})
    return verdicts
