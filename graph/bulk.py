"""Bulk loading: many nodes and edges checked together, then written with a few large statements.

The rules are those of the one-at-a-time path (:func:`graph.core.create_node`, :func:`graph.core.add_edge`):
each node passes the same pydantic schema (:class:`graph.schemas.NodeIn`), gets (or keeps) a kind-prefixed
unique id, and has the measurements its text states parsed out; each edge must name a known type, join
existing nodes of the kinds the vocabulary allows, and not join a node to itself; an edge that already
exists (in the store or earlier in the batch) is kept once. What differs is how: the whole batch is
checked before anything is written, and the rows go in with executemany inside one transaction (on
SQLite the keyword index is filled in one statement after the rows). A batch that breaks any rule is
refused with a sentence naming the offending item, and nothing is written.

    report = graph.bulk_load(nodes=[{"id": "paper:x", "kind": "paper", "title": "X"}, ...],
                             edges=[("finding:y", "extracted_from", "paper:x"), ...])
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from graph.ids import base_id, normalize_title, suffixed_id
from graph.vocabulary import EDGE_TYPES, check_edge

if TYPE_CHECKING:
    from db.session import Tx

EdgeSpec = Sequence[Any] | Mapping[str, Any]  # (source, type, target[, attrs]) or {"source", "type", "target", "attrs"}
_EDGE_KEYS = frozenset({"source", "type", "target", "attrs"})


@dataclass
class BulkReport:
    nodes: int = 0
    edges: int = 0
    measurements: int = 0
    edges_skipped: int = 0  # already stored, or repeated in the batch
    node_ids: list[str] = field(default_factory=list)  # in input order

    def to_json(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "edges": self.edges, "measurements": self.measurements,
                "edges_skipped": self.edges_skipped}


def _describe(item: Any, limit: int = 80) -> str:
    text = repr(item)
    return text if len(text) <= limit else text[:limit - 1] + "…"


# ---- nodes --------------------------------------------------------------------------------------
_ADAPTERS: dict[Any, Any] = {}


def _list_adapter(item: Any):
    """A pydantic adapter for a list of ``item`` (a node schema, or a union of them), made once."""
    from pydantic import TypeAdapter

    if item not in _ADAPTERS:
        _ADAPTERS[item] = TypeAdapter(list[item])
    return _ADAPTERS[item]


def _validated(nodes: list[Any]) -> list[tuple[str | None, Any]]:
    """(the given id or None, the validated node) per node; ValueError naming the first bad node."""
    from graph.schemas import NodeExport, NodeIn, validate

    # nodes given without ids (an ingest's) are validated as NodeIn alone: the union would try NodeExport
    # first on each, 2-4 s of a million-paper ingest
    plain = all(type(n) is dict and "id" not in n for n in nodes)
    try:  # the whole batch in one pydantic call (fast); on any problem, item by item for a clear message
        batch = _list_adapter(NodeIn if plain else NodeExport | NodeIn).validate_python(nodes)
    except Exception:  # noqa: BLE001 - pydantic's ValidationError, or an item that is not a mapping
        batch = None
    if batch is not None and all(not isinstance(n, NodeExport) or n.id.startswith(f"{n.kind}:") for n in batch):
        return [(n.id if isinstance(n, NodeExport) else None, n) for n in batch]
    checked: list[tuple[str | None, Any]] = []
    for i, data in enumerate(nodes):
        if not isinstance(data, Mapping):
            raise ValueError(f"node {i}: expected a mapping of node fields, not {_describe(data)}")
        try:
            if data.get("id") is not None:
                node = validate(NodeExport, data)
                if not node.id.startswith(f"{node.kind}:"):
                    raise ValueError(f"node id {node.id!r} does not start with its kind {node.kind!r}")
                checked.append((node.id, node))
            else:
                checked.append((None, validate(NodeIn, {k: v for k, v in data.items() if k != "id"})))
        except ValueError as exc:
            raise ValueError(f"node {i} ({_describe(data.get('title', ''), 60)}): {exc}") from None
    return checked


def _check_nodes(tx: Tx, nodes: Iterable[Mapping[str, Any]], parse_text: bool, now: datetime,
                 derived: Sequence[tuple[str, str]] | None = None):
    from db import records as r
    from graph.measurements import parse_measurements

    nodes = list(nodes)
    checked = _validated(nodes)
    if derived is not None and (len(derived) != len(nodes) or any(
            node.title != data["title"] for (_, node), data in zip(checked, nodes))):
        derived = None  # not for these titles: made here instead
    if derived is None:
        derived = [(base_id(n.kind, n.title) if nid is None else nid, normalize_title(n.title)) for nid, n in checked]
    # ids: given ones must be new; generated ones are the slug, with a suffix where it is taken
    wanted = [nid if nid is not None else base for (nid, _), (base, _) in zip(checked, derived)]
    stored = tx.existing_node_ids(wanted)
    taken: set[str] = set()
    prefixed: dict[str, set[str]] = {}  # base -> stored ids starting with it (fetched only on collision)
    ids: list[str] = []
    node_rows, meas_rows = [], []
    for (nid, node), base, (_, title_norm) in zip(checked, wanted, derived):
        if nid is not None:
            if nid in stored or nid in taken:
                raise ValueError(f"a node with id {nid!r} already exists")
        else:
            nid = base
            if base in stored or base in taken:
                if base not in prefixed:
                    prefixed[base] = tx.node_ids_with_prefix(base)
                for attempt in range(1, 1000):
                    nid = suffixed_id(base, node.title, attempt)
                    if nid not in prefixed[base] and nid not in taken:
                        break
                else:
                    raise ValueError(f"could not find a free id for {base!r}")
        taken.add(nid)
        ids.append(nid)
        node_rows.append({"id": nid, "kind": node.kind, "title": node.title, "title_norm": title_norm,
                          "description": node.description, "status": node.status, "attrs": node.attrs,
                          "source": node.source, "created_at": now, "updated_at": now})
        measurements = [r.Measurement(**mm.model_dump()) for mm in node.measurements]
        if not measurements and parse_text and node.kind == "finding":
            measurements = parse_measurements(node.title) or parse_measurements(node.description)
        meas_rows.extend({"node_id": nid, **x.to_dict()} for x in measurements)
    return ids, {row["id"]: row["kind"] for row in node_rows}, node_rows, meas_rows


# ---- edges --------------------------------------------------------------------------------------
def _edge_parts(e: EdgeSpec) -> tuple[Any, Any, Any, Any]:
    if isinstance(e, Mapping):
        extra = set(e) - _EDGE_KEYS
        if extra:
            raise ValueError(f"unknown field(s) {', '.join(sorted(map(str, extra)))}")
        return e.get("source"), e.get("type"), e.get("target"), e.get("attrs") or {}
    if isinstance(e, (str, bytes)) or len(e) not in (3, 4):
        raise ValueError("expected (source, type, target) or (source, type, target, attrs)")
    return e[0], e[1], e[2], (e[3] if len(e) == 4 else None) or {}


def _end(value: Any, which: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"the {which} must be a node id")
    value = value.strip()
    if len(value) > 255:
        raise ValueError(f"the {which} id is longer than 255 characters")
    return value


def _check_edges(tx: Tx, edges: Iterable[EdgeSpec], kinds: Mapping[str, str]):
    """(new edges as (source, type, target, attrs), how many were repeats or already stored). ``kinds``:
    id -> kind of the nodes whose edges need no look-up in the store (written by this load, or vouched for
    by the caller: see :func:`load`)."""
    parts: list[tuple[str, str, str, dict]] = []
    for i, e in enumerate(edges):
        # fast path: a well-formed (source, type, target, attrs) tuple; anything else is taken apart slowly
        if (type(e) is tuple and len(e) == 4 and type(e[0]) is str and type(e[2]) is str and e[1] in EDGE_TYPES
                and type(e[3]) is dict and 0 < len(e[0]) <= 255 and 0 < len(e[2]) <= 255
                and not e[0][0].isspace() and not e[0][-1].isspace()
                and not e[2][0].isspace() and not e[2][-1].isspace()):
            parts.append(e)
            continue
        try:
            src, etype, dst, attrs = _edge_parts(e)
            src, dst = _end(src, "source"), _end(dst, "target")
            if etype not in EDGE_TYPES:
                raise ValueError(f"unknown edge type {etype!r}; expected one of: {', '.join(EDGE_TYPES)}")
            if not isinstance(attrs, dict):
                raise ValueError("the edge attrs must be a mapping")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"edge {i} ({_describe(e)}): {exc}") from None
        parts.append((src, etype, dst, attrs))

    # kinds of endpoints that are not in the batch come from the store (one query per 900 ids)
    outside = {x for src, _, dst, _ in parts for x in (src, dst) if x not in kinds}
    stored_kinds = {i: k for i, (k, _) in tx.node_kinds(outside).items()} if outside else {}
    known = {**stored_kinds, **kinds}
    allowed: set[tuple[str, str, str]] = set()  # (type, source kind, target kind) already checked
    seen: set[tuple[str, str, str]] = set()
    maybe_stored: list[tuple[str, str, str]] = []
    new: list[tuple[str, str, str, dict]] = []
    for i, edge in enumerate(parts):
        src, etype, dst, _ = edge
        key = (src, etype, dst)
        if key in seen:
            continue
        sk, dk = known.get(src), known.get(dst)
        if sk is None or dk is None or src == dst or (etype, sk, dk) not in allowed:
            try:
                for nid, k in ((src, sk), (dst, dk)):
                    if k is None:
                        raise ValueError(f"no node with id {nid!r}")
                if src == dst:
                    raise ValueError(f"an edge may not join {src!r} to itself")
                check_edge(etype, sk, dk)
            except ValueError as exc:
                raise ValueError(f"edge {i} ({src} {etype} {dst}): {exc}") from None
            allowed.add((etype, sk, dk))
        seen.add(key)
        if src in stored_kinds and dst in stored_kinds:  # only an edge between stored nodes can exist already
            maybe_stored.append(key)
        new.append(edge)
    if maybe_stored:
        stored = tx.existing_edges(maybe_stored)
        if stored:
            new = [e for e in new if e[:3] not in stored]
    return new, len(parts) - len(new)


# ---- the load -----------------------------------------------------------------------------------
def load(tx: Tx, nodes: Iterable[Mapping[str, Any]] = (), edges: Iterable[EdgeSpec] = (), *,
         provenance: dict | None = None, parse_text: bool = True,
         known: Mapping[str, str] | None = None, unheld: Collection[tuple[str, str]] = frozenset(),
         derived: Sequence[tuple[str, str]] | None = None) -> BulkReport:
    """Check then write ``nodes`` and ``edges`` in the caller's transaction; see the module docstring.

    ``nodes``: mappings of :class:`graph.schemas.NodeIn` fields, optionally with an ``id``;
    ``edges``: (source, type, target[, attrs]) or mappings with those keys, between nodes of the batch or
    of the store; ``provenance``: the ``source`` of every new edge; ``known``: id -> kind of nodes the
    caller vouches for (read or written in its transaction, their stored edges already left out of
    ``edges``): their kinds are not looked up, and edges between them are not looked for in the store;
    ``unheld``: (scheme, value) identifiers of the new papers that the caller looked up in its transaction
    and found held by no node (not looked up again); ``derived``: per node, (``graph.ids.base_id`` of its kind
    and title, ``graph.ids.normalize_title`` of its title) as the caller made them (graph.papers makes them
    where it parses), used when every validated title is the one given, and made here otherwise.
    """
    now = datetime.now(timezone.utc)
    ids, kinds, node_rows, meas_rows = _check_nodes(tx, nodes, parse_text, now, derived)
    new_edges, skipped = _check_edges(tx, edges, {**known, **kinds} if known else kinds)
    tx.tune_for_bulk()
    tx.insert_nodes_bulk(node_rows)
    tx.insert_measurements_bulk(meas_rows)
    papers = [row for row in node_rows if row["kind"] == "paper" and row["attrs"]]
    if papers:  # their arXiv ids and DOIs, indexed as graph.core.create_node indexes them
        from graph.identifiers import identifiers_in

        tx.add_identifiers(((scheme, value, row["id"])
                            for row in papers for scheme, value in identifiers_in(row["attrs"])), unheld)
    tx.insert_edges_bulk(new_edges, dict(provenance or {}), now)
    # the write log: who added each node (what a node's page shows), and one entry for the whole load
    # (its edges and measurements are counted there rather than logged one by one)
    by_kind: dict[str, dict[str, str]] = {}
    tx.log_writes_bulk([("node.add", row["id"], row["id"], by_kind.setdefault(row["kind"], {"kind": row["kind"]}))
                        for row in node_rows])
    tx.log_write("bulk.load", "bulk", None, {"nodes": len(ids), "edges": len(new_edges),
                                             "measurements": len(meas_rows), "edges_skipped": skipped})
    return BulkReport(nodes=len(ids), edges=len(new_edges), measurements=len(meas_rows), edges_skipped=skipped,
                      node_ids=ids)


def put_vectors(tx: Tx, model: str, rows: Iterable[tuple[str, bytes, str]]) -> int:
    """Store (node id, float32 little-endian vector, text hash) rows of ``model`` for nodes that have no
    vector of that model yet (a freshly bulk-loaded graph); return how many."""
    now = datetime.now(timezone.utc)
    batch = [{"node_id": nid, "model": model, "text_hash": h, "dim": len(vec) // 4, "vector": vec, "created_at": now}
             for nid, vec, h in rows]
    tx.tune_for_bulk()
    tx.insert_embeddings_bulk(batch)
    return len(batch)
