"""Evidence, weighed: what the graph's measured results say about a claim or a published number.

**Status** (:func:`tally`, the rule the README states). The evidence of a *claim* is the edges into it:

- a ``supports`` edge counts one *supporting test* when it comes from a run's result, from a finding of
  another paper, or from a finding with no paper (someone's own result); from a finding of the claim's own
  paper it is the claim's basis (``own_paper``), not a test of it;
- a ``contradicts`` edge counts one *contradicting* result, whoever states it;
- ``associated_with`` counts nothing (``associated``: related without stance);
- a run's stance edge drawn by a replication verdict (:mod:`graph.replication`) counts as above, and also as one
  ``replicates`` or ``fails_to_replicate``; a replication in the estimator's floor band (both values
  indistinguishable from a perfect map) counts as one agreeing replication (``floor_band`` says how many), never
  as "better";
- a result that was not like for like with a published number (another measure or protocol) has no edge, so it
  counts nothing; its own page says what it was not compared with and why;
- evidence from a retracted, superseded or merged finding counts nothing (``not_counted``).

The evidence of a *published finding* (one no run produced) is its replications: ``replicates`` supports it,
``fails_to_replicate`` contradicts it. Then: **untested** with no supporting test and nothing contradicting,
**supported** with supporting tests and nothing contradicting, **refuted** with contradicting results and no
supporting test, **contested** with both.

**Evidence** (:func:`evidence`): every finding bearing on the subject — for a claim, the findings with edges
into it and the findings that replicated (or failed to) a published finding bearing on it; for a published
finding, itself and its replications — with each measurement grouped by quantity: the same metric, measure,
method, dataset, split and experiment conditions (:data:`graph.replication.IDENTITY_KEYS` and the protocol),
and a run's measurement joins the group of the published one it was judged like for like with. A group of two
or more measurements of a named measure, each with a standard error, is pooled (:func:`graph.stats.pool`:
fixed effect and DerSimonian–Laird random effects). A group whose measure is not named is not pooled: its
numbers are not known to be the same quantity.

Status needs only the edges, so ``findings show`` and ``search`` print it from the quick SQLite read path
(:mod:`db.sqlite_read` offers the same ``evidence_edges`` and ``origins`` reads as :class:`db.session.Tx`).
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from db.records import EvidenceEdge, Measurement, Node, Origin

STATUSES = ("supported", "contested", "refuted", "untested")
CLAIM_EDGES = ("supports", "contradicts", "associated_with")
VERDICT_EDGES = ("replicates", "fails_to_replicate")
EVIDENCE_EDGES = CLAIM_EDGES + VERDICT_EDGES
COUNT_KEYS = ("supporting", "contradicting", "own_paper", "associated", "replicates", "fails_to_replicate",
              "floor_band", "not_counted")
RULE = ("untested: no supporting test and nothing contradicting; supported: supporting tests, nothing "
        "contradicting; refuted: contradicting results, no supporting test; contested: both")


class EvidenceReader(Protocol):
    """The two reads status needs (:class:`db.session.Tx` and :class:`db.sqlite_read.SqliteReader` both offer them)."""

    def evidence_edges(self, subjects, types) -> list[EvidenceEdge]: ...

    def origins(self, node_ids) -> dict[str, Origin]: ...


@dataclass(frozen=True)
class Status:
    status: str
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "counts": dict(self.counts)}

    def text(self) -> str:
        c = self.counts
        bits = [f"{c['supporting']} supporting", f"{c['contradicting']} contradicting"]
        bits += [f"{c[k]} {k.replace('_', ' ')}" for k in COUNT_KEYS[2:] if c.get(k)]
        return f"{self.status} ({', '.join(bits)})"


def decide(supporting: int, contradicting: int) -> str:
    if supporting and contradicting:
        return "contested"
    if contradicting:
        return "refuted"
    return "supported" if supporting else "untested"


def _is_test(origin: Origin, subject_papers: set[str]) -> bool:
    """A result tests a claim unless it is a published finding of the claim's own paper."""
    return bool(origin.runs) or not (set(origin.papers) & subject_papers)


def tally(kind: str, subject_papers: set[str], edges: list[EvidenceEdge], origins: dict[str, Origin]) -> Status:
    """The status of a claim (``kind`` "claim") or a published finding from the edges into it (module docstring)."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for e in edges:
        wanted = CLAIM_EDGES if kind == "claim" else VERDICT_EDGES
        if e.type not in wanted:
            continue
        if e.status != "active":
            counts["not_counted"] += 1
            continue
        if kind == "claim":
            if e.type == "associated_with":
                counts["associated"] += 1
                continue
            replication = e.attrs.get("replication")
            if replication in VERDICT_EDGES:
                counts[replication] += 1
                counts["floor_band"] += bool(e.attrs.get("floor_band"))
            if e.type == "contradicts":
                counts["contradicting"] += 1
            elif _is_test(origins.get(e.source, Origin()), subject_papers):
                counts["supporting"] += 1
            else:
                counts["own_paper"] += 1
        else:
            counts[e.type] += 1
            counts["supporting" if e.type == "replicates" else "contradicting"] += 1
            counts["floor_band"] += bool(e.attrs.get("floor_band"))
    return Status(decide(counts["supporting"], counts["contradicting"]), counts)


def statuses(reader: EvidenceReader, subjects: dict[str, str]) -> dict[str, Status]:
    """The status of each claim and published finding among ``subjects`` (id → kind), in a few batched reads;
    other kinds and runs' results are left out."""
    wanted = {i: k for i, k in subjects.items() if k in ("claim", "finding")}
    if not wanted:
        return {}
    edges = reader.evidence_edges(wanted, EVIDENCE_EDGES)
    origins = reader.origins(set(wanted) | {e.source for e in edges})
    by_subject: dict[str, list[EvidenceEdge]] = defaultdict(list)
    for e in edges:
        by_subject[e.subject].append(e)
    out = {}
    for node_id, kind in wanted.items():
        origin = origins.get(node_id, Origin())
        if kind == "finding" and origin.runs:
            continue
        out[node_id] = tally(kind, set(origin.papers), by_subject.get(node_id, []), origins)
    return out


def status_of(reader: EvidenceReader, node_id: str, kind: str) -> Status | None:
    """The status of one claim or published finding; None for any other node."""
    return statuses(reader, {node_id: kind}).get(node_id)


# ---- the evidence itself -----------------------------------------------------------------------------
@dataclass
class _Item:
    """A finding bearing on the subject: how (its stance edge, the verdicts it drew) and where from."""

    title: str | None = None
    stance: str | None = None  # supports | contradicts | associated_with | subject | None (through a verdict)
    stance_attrs: dict[str, Any] = field(default_factory=dict)
    verdicts: list[dict[str, Any]] = field(default_factory=list)


def _verdict(e: EvidenceEdge) -> dict[str, Any]:
    a = e.attrs
    return {"edge": e.type, "published": e.subject, "z": a.get("z"), "difference": a.get("difference"),
            "floor_band": bool(a.get("floor_band")), "rule": a.get("rule")}


def _quantity(m: Measurement) -> dict[str, Any]:
    from graph.replication import IDENTITY_KEYS, PROTOCOL_KEY

    keys = (*IDENTITY_KEYS, PROTOCOL_KEY)
    return {"metric": m.metric, "measure": m.measure, "method": m.method, "dataset": m.dataset, "split": m.split,
            "conditions": {k: m.conditions[k] for k in keys if k in m.conditions}}


def quantity_label(q: dict[str, Any]) -> str:
    """A group's quantity in one line (metric · measure · method · dataset · split · conditions), as the CLI
    and the app print it."""
    cond = ", ".join(f"{k}={v}" for k, v in q["conditions"].items())
    return " · ".join(str(x) for x in (q["metric"], q["measure"] or "measure not stated", q["method"], q["dataset"],
                                       q["split"], cond) if x)


def _key(q: dict[str, Any]) -> str:
    return json.dumps({k: (str(v).lower() if isinstance(v, str) else v) for k, v in q.items()}, sort_keys=True,
                      default=str)


class _Groups:
    """Union-find over quantity keys: equal quantities group; a verdict joins a run's to the published one's."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, k: str) -> str:
        self.parent.setdefault(k, k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb  # b (the published side) names the group


def evidence(tx, node_id: str) -> dict[str, Any]:
    """The evidence of a claim or a published finding, in ``findings evidence --json``'s shape (module
    docstring); raises ValueError for any other node."""
    from graph import core

    node = core.require_node(tx, node_id)
    origin = tx.origins([node_id])[node_id]
    if node.kind not in ("claim", "finding"):
        raise ValueError(f"evidence is weighed for a claim or a published finding; {node_id} is a {node.kind}")
    if node.kind == "finding" and origin.runs:
        raise ValueError(f"{node_id} is a run's result, not a published finding: its verdicts are on its page "
                         f"(findings show {node_id})")
    direct = tx.evidence_edges([node_id], EVIDENCE_EDGES)
    items: dict[str, _Item] = defaultdict(_Item)
    hop: list[EvidenceEdge] = []
    if node.kind == "claim":
        for e in direct:
            if e.type in CLAIM_EDGES and e.status == "active":
                items[e.source].stance = e.type
                items[e.source].stance_attrs = e.attrs
                items[e.source].title = e.title
        origins = {**tx.origins(items), node_id: origin}
        published = [i for i in items if not origins[i].runs]
        hop = [e for e in tx.evidence_edges(published, VERDICT_EDGES) if e.status == "active"]
    else:
        items[node_id].stance = "subject"
        items[node_id].title = node.title
        origins = {node_id: origin}
        hop = [e for e in direct if e.type in VERDICT_EDGES and e.status == "active"]
    for e in hop:
        items[e.source].verdicts.append(_verdict(e))
        items[e.source].title = e.title
    origins.update(tx.origins(set(items) - set(origins)))  # each id's origin read once
    status = tally(node.kind, set(origins[node_id].papers), direct, origins)

    ids = list(items)
    measurements = tx.measurements_for(ids)
    runs = sorted({r for i in ids for r in origins[i].runs})
    papers = sorted({p for i in ids for p in origins[i].papers})
    nodes = tx.get_nodes([*runs, *papers])  # sources with their attributes; a finding's title came with its edge
    groups = _grouped(items, measurements, origins, nodes)
    unmeasured = [{"finding": i, "title": items[i].title or i, "stance": items[i].stance,
                   "source": _source(origins[i], nodes)}
                  for i in ids if not measurements.get(i)]
    return {"id": node.id, "kind": node.kind, "title": node.title, "status": status.status, "counts": status.counts,
            "rule": RULE, "groups": groups, "unmeasured": unmeasured}


def _source(origin: Origin, nodes: dict[str, Node]) -> dict[str, Any]:
    """A measurement's source: the run that produced it (protocol, seeds, code), else its paper, else its author."""
    if origin.runs:
        run = nodes.get(origin.runs[0])
        a = run.attrs if run else {}
        config = a.get("config") if isinstance(a.get("config"), dict) else {}
        return {"kind": "run", "id": origin.runs[0], "title": run.title if run else origin.runs[0],
                "protocol": config.get("protocol") or a.get("protocol"), "seeds": a.get("seeds"),
                "status": a.get("status"), "code_version": a.get("code_version"), "started_at": a.get("started_at")}
    if origin.papers:
        paper = nodes.get(origin.papers[0])
        return {"kind": "paper", "id": origin.papers[0], "title": paper.title if paper else origin.papers[0],
                "year": (paper.attrs.get("year") if paper else None)}
    return {"kind": "other"}


def _grouped(items: dict[str, _Item], measurements: dict[str, list[Measurement]], origins: dict[str, Origin],
             nodes: dict[str, Node]) -> list[dict[str, Any]]:
    from graph.replication import at_floor
    from graph.stats import standard_error

    groups = _Groups()
    keys: dict[int, str] = {}  # id(measurement) -> its quantity's key, computed once
    rows = []  # (key, finding id, measurement)
    for fid, ms in measurements.items():
        for m in ms:
            k = keys[id(m)] = _key(_quantity(m))
            groups.find(k)
            rows.append((k, fid, m))
    # a run's measurement joins the group of the published measurement it was judged like for like with
    for fid, ms in measurements.items():
        for v in items[fid].verdicts:
            for m in ms:
                for theirs in measurements.get(v["published"], []):
                    if theirs.metric == m.metric and theirs.measure == m.measure:
                        groups.join(keys[id(m)], keys[id(theirs)])
    members: dict[str, list[tuple[str, Measurement]]] = defaultdict(list)
    for k, fid, m in rows:
        members[groups.find(k)].append((fid, m))
    out = []
    for root, entries in members.items():
        anchor = next((m for fid, m in entries if not origins[fid].runs), entries[0][1])
        quantity = _quantity(anchor)
        listed = []
        for fid, m in sorted(entries, key=lambda e: (bool(origins[e[0]].runs), e[0])):
            se, why = standard_error(m.err, m.err_kind, m.n)
            item = items[fid]
            listed.append({
                "finding": fid, "title": item.title or fid, "value": m.value, "err": m.err,
                "err_kind": m.err_kind, "n": m.n, "se": se, "no_se": why, "measure": m.measure,
                "conditions": m.conditions, "floor": m.floor, "at_floor": at_floor(m.value, m.err, m.floor),
                "origin": "run" if origins[fid].runs else "published", "source": _source(origins[fid], nodes),
                "stance": item.stance, "via": item.stance_attrs.get("via"), "verdicts": item.verdicts,
            })
        out.append({"quantity": quantity, "measurements": listed, **_pooled(quantity, listed),
                    "warnings": _shared_seeds(listed)})
    out.sort(key=lambda g: (not any(x["origin"] == "published" for x in g["measurements"]), g["quantity"]["metric"],
                            str(g["quantity"]["measure"]), str(g["quantity"]["method"]), _key(g["quantity"])))
    return out


def _pooled(quantity: dict[str, Any], listed: list[dict[str, Any]]) -> dict[str, Any]:
    from graph.stats import pool

    usable = [x for x in listed if x["se"] is not None]
    excluded = [{"finding": x["finding"], "reason": x["no_se"]} for x in listed if x["se"] is None]
    if not quantity["measure"]:
        return {"pooled": None, "not_pooled": "the measurements name no measure: not known to be one quantity",
                "excluded": excluded}
    if len(usable) < 2:
        return {"pooled": None, "not_pooled": f"{len(usable)} measurement(s) with a standard error; pooling needs 2",
                "excluded": excluded}
    pooled = pool([x["value"] for x in usable], [x["se"] for x in usable])
    return {"pooled": pooled.to_json(), "not_pooled": None, "excluded": excluded}


def _shared_seeds(listed: list[dict[str, Any]]) -> list[str]:
    """Runs in one group whose seeds overlap are not independent measurements: say so."""
    out = []
    runs = [(x["source"]["id"], set(x["source"]["seeds"])) for x in listed
            if x["origin"] == "run" and isinstance(x["source"].get("seeds"), list)]
    for i, (a, sa) in enumerate(runs):
        for b, sb in runs[i + 1:]:
            if a != b and sa & sb:
                out.append(f"runs {a} and {b} share seeds {sorted(sa & sb)}: their measurements are not independent, "
                           "and the pool treats them as if they were")
    return out


def finding_labels(tx, findings: list[Node]) -> dict[str, str]:
    """One word on the evidence of each finding, for tables: a published finding's status; a run's result's
    verdict (``replicates``, ``fails to replicate``, both, ``not compared`` — with a published number of the
    same experiment under another measure or protocol — or ``no published counterpart``)."""
    ids = [n.id for n in findings]
    out = {i: s.status for i, s in statuses(tx, dict.fromkeys(ids, "finding")).items()}
    verdicts: dict[str, set[str]] = defaultdict(set)
    for etype in VERDICT_EDGES:
        for fid in tx.edge_views(ids, etype):
            verdicts[fid].add(etype)
    for n in findings:
        if n.id in out:
            continue
        v = verdicts.get(n.id, set())
        if v:
            out[n.id] = "replicates and fails" if len(v) == 2 else next(iter(v)).replace("_", " ")
        else:
            out[n.id] = "not compared" if n.attrs.get("not_compared") else "no published counterpart"
    return out
