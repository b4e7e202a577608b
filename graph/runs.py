"""Runs and their results as findings.

A run is a node of kind ``run`` (config, seeds, site, divergence measure, code and package versions,
device, times, status). Each quantitative result becomes a finding with one measurement (naming its
measure and, for a divergence, its floor), an edge ``produced_by`` → run, the method, dataset and metric it
is about, and the replication verdicts :mod:`graph.replication` draws against published findings — only
like for like; the published numbers of the same experiment it was *not* compared with are kept in the
finding's attrs (``not_compared``, each with its reason).

Every write here is one transaction that may be re-run after a lost connection left its commit unknown
(``idempotent=True``, :mod:`db.retry`): it looks for its own committed effect first. A run is created
under a random ``run_token`` that a re-run finds; a run is finished, failed or marked abandoned only while
it is ``running`` (finishing a finished run returns what it holds); a heartbeat sets a time. Who owns a
running run and when it is abandoned: :mod:`graph.run_owner`.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from db.records import Measurement, Node
from db.session import Tx
from graph import core, replication, run_owner
from graph.api import Graph
from graph.ids import base_id


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
    """UTC, to the millisecond: a run of under a second still has a duration."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def find_finished_run(graph: Graph, chash: str) -> Node | None:
    for run in runs_with_hash(graph, chash):
        if run.attrs.get("status") == "finished":
            return run
    return None


def runs_with_hash(graph: Graph, chash: str) -> list[Node]:
    """Every run stored under the config hash ``chash`` (finished, failed, abandoned or running)."""
    return graph.store.run_read(lambda tx: [run for run in tx.list_nodes(kind="run")
                                            if run.attrs.get("config_hash") == chash])


def start_run(graph: Graph, title: str, attrs: dict[str, Any], source: dict[str, Any] | None = None) -> str:
    """Create the run node with status ``running`` (committed at once, so a crash leaves a trace), owned by
    this process (:func:`graph.run_owner.this_process`); ``source`` is its provenance (default: the
    engine's)."""
    started = now()
    token = uuid.uuid4().hex

    def body(tx: Tx) -> str:
        for nid in tx.node_ids_with_prefix(base_id("run", title)):  # a re-run after an unknown commit
            node = tx.get_node(nid)
            if node is not None and node.kind == "run" and node.attrs.get("run_token") == token:
                return nid
        return core.create_node(tx, {
            "kind": "run", "title": title, "description": attrs.get("description", ""),
            "attrs": {**attrs, "status": "running", "started_at": started, "heartbeat_at": started,
                      "owner": run_owner.this_process(), "run_token": token},
            "source": source or {"run": "engine"},
        })

    return graph.store.run_in_transaction(body, idempotent=True)


def heartbeat(graph: Graph, run_ids: list[str]) -> list[str]:
    """Set ``heartbeat_at`` on those of ``run_ids`` still ``running`` (one transaction); returns them."""
    beat = now()

    def body(tx: Tx) -> list[str]:
        touched = []
        for run_id in run_ids:
            run = tx.get_node(run_id)
            if run is not None and run.attrs.get("status") == "running":
                tx.set_heartbeat(run_id, {**run.attrs, "heartbeat_at": beat})  # not in the write log
                touched.append(run_id)
        return touched

    return graph.store.run_in_transaction(body, idempotent=True)


def mark_abandoned(graph: Graph, chash: str) -> list[tuple[str, str]]:
    """Record as ``abandoned`` every run under the config hash ``chash`` that :mod:`graph.run_owner` calls
    abandoned; returns ``(run_id, reason)`` of each. The rule is checked again inside the transaction that
    marks a run, so a run whose owner beat meanwhile is left running."""
    marked = []
    for run in runs_with_hash(graph, chash):
        if run_owner.abandoned_reason(run.attrs) is None:
            continue
        ended = now()

        def body(tx: Tx, run_id: str = run.id) -> str | None:
            fresh = core.require_node(tx, run_id)
            reason = run_owner.abandoned_reason(fresh.attrs)
            if reason is None:
                return None
            tx.update_node(run_id, attrs={**fresh.attrs, "status": "abandoned", "abandoned": reason,
                                          "ended_at": ended})
            return reason

        reason = graph.store.run_in_transaction(body, idempotent=True)
        if reason is not None:
            marked.append((run.id, reason))
    return marked


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

    return graph.store.run_in_transaction(body, idempotent=True)


def _duration(start: str | None, end: str) -> float | None:
    if not start:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


def finish_run(graph: Graph, run_id: str, results: list[Result], extra_attrs: dict | None = None) -> dict[str, Any]:
    """Write every result as a finding with its edges and mark the run finished: one transaction. A run
    already finished (this same write, committed before a lost connection hid it) is returned as it is,
    with ``already_finished``; a run no longer ``running`` otherwise (failed, abandoned) is refused."""
    return graph.store.run_in_transaction(lambda tx: _finish(tx, run_id, results, extra_attrs), idempotent=True)


def _finish(tx: Tx, run_id: str, results: list[Result], extra_attrs: dict | None) -> dict[str, Any]:
    report: dict[str, Any] = {"run_id": run_id, "findings": [], "replications": [], "not_compared": []}
    run = core.require_node(tx, run_id)
    status = run.attrs.get("status")
    if status == "finished":
        found = tx.edges_touching(run_id, edge_type="produced_by")
        return {**report, "findings": [e.source_id for e in found if e.target_id == run_id],
                "already_finished": True}
    if status != "running":
        raise ValueError(f"run {run_id} is {status}, not running: its results are not recorded"
                         + (f" ({run.attrs['abandoned']})" if run.attrs.get("abandoned") else ""))
    for res in results:
        fid = core.create_node(tx, {
            "kind": "finding", "title": res.title, "description": res.description,
            "attrs": {"run": run_id}, "source": {"run": run_id},
            "measurements": [res.measurement.to_dict()],
        })
        core.add_edge(tx, fid, "produced_by", run_id, {}, {"run": run_id})
        _link_context(tx, fid, res, run_id)
        verdicts, not_compared = replication.replicate(tx, fid, res.measurement, run_id)
        if not_compared:  # show says which published numbers it was not compared with, and why
            tx.update_node(fid, attrs={"run": run_id, "not_compared": not_compared})
        report["replications"].extend(verdicts)
        report["not_compared"].extend({"finding": fid, **entry} for entry in not_compared)
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
