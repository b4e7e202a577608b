"""Writing and reading the graph inside one store transaction.

Every function takes a :class:`db.session.Tx`; callers decide where the transaction begins and ends
(one per command), so a failure anywhere leaves the database as it was.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import records as r
from db.session import Tx
from db.sqlite_read import SHOW_MEASUREMENT_FIELDS
from graph.ids import base_id, normalize_title, suffixed_id
from graph.neighbourhood import NeighbourGroup, neighbourhood  # noqa: F401 - part of this module's API
from graph.vocabulary import check_edge

if TYPE_CHECKING:
    from graph.schemas import NodeIn

# graph.schemas (pydantic) and graph.measurements are imported by the writing functions only, so that
# reading a node (``findings show``) does not pay for them.


def new_node_id(tx: Tx, kind: str, title: str, preferred: str | None = None) -> str:
    """``kind:slug``, or with a short suffix when another node already holds that id."""
    base = preferred if preferred and preferred.startswith(f"{kind}:") else base_id(kind, title)
    taken = tx.node_ids_with_prefix(base)
    if base not in taken:
        return base
    for attempt in range(1, 1000):
        candidate = suffixed_id(base, title, attempt)
        if candidate not in taken:
            return candidate
    raise ValueError(f"could not find a free id for {base!r}")


def create_node(tx: Tx, node: NodeIn | dict, *, node_id: str | None = None, preferred_id: str | None = None,
                parse_text: bool = True) -> str:
    """Insert a validated node with its measurements; return its id.

    Measurements stated in the title or description (``IIA of 0.997±0.001``) are parsed into rows
    unless the caller gives measurements explicitly.
    """
    from graph.measurements import parse_measurements
    from graph.schemas import NodeIn, validate

    if not isinstance(node, NodeIn):
        node = validate(NodeIn, node)
    if node_id is None:
        node_id = new_node_id(tx, node.kind, node.title, preferred_id)
    elif tx.node_exists(node_id):
        raise ValueError(f"a node with id {node_id!r} already exists")
    tx.insert_node(
        r.Node(id=node_id, kind=node.kind, title=node.title, description=node.description, status=node.status,
               attrs=node.attrs, source=node.source),
        normalize_title(node.title),
    )
    measurements = [r.Measurement(**mm.model_dump()) for mm in node.measurements]
    if not measurements and parse_text and node.kind == "finding":
        measurements = parse_measurements(node.title) or parse_measurements(node.description)
    for meas in measurements:
        tx.add_measurement(node_id, meas)
    if node.kind == "paper":  # its arXiv id and DOI, indexed: how the paper is recognised when met again
        from graph.identifiers import identifiers_in

        tx.add_identifiers((scheme, value, node_id) for scheme, value in identifiers_in(node.attrs))
    return node_id


def require_node(tx: Tx, node_id: str) -> r.Node:
    node = tx.get_node(node_id)
    if node is None:
        raise ValueError(f"no node with id {node_id!r}")
    return node


def add_edge(tx: Tx, source_id: str, edge_type: str, target_id: str, attrs: dict | None = None,
             source: dict | None = None, *, merge_attrs: bool = False) -> tuple[r.Edge, bool]:
    """Add a vocabulary-checked edge; return it and whether it is new (an existing one is kept)."""
    from graph.schemas import EdgeIn, validate

    edge = validate(EdgeIn, {"source": source_id, "type": edge_type, "target": target_id, "attrs": attrs or {}})
    src = require_node(tx, edge.source)
    dst = require_node(tx, edge.target)
    if src.id == dst.id:
        raise ValueError(f"an edge may not join {src.id!r} to itself")
    check_edge(edge.type, src.kind, dst.kind)
    existing = tx.find_edge(src.id, edge.type, dst.id)
    if existing is not None:
        if merge_attrs and edge.attrs and any(existing.attrs.get(k) != v for k, v in edge.attrs.items()):
            tx.update_edge_attrs(existing.id, {**existing.attrs, **edge.attrs})
        return existing, False
    return tx.insert_edge(src.id, edge.type, dst.id, edge.attrs, source or {}), True


# ---- reading ---------------------------------------------------------------------------------
def show(tx: Tx, node_id: str, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
    """The node with its measurements and edges, in the CLI's ``show --json`` shape: every edge in edge
    order, or (``limit``) rows ``offset`` to ``offset + limit`` of each group (edge type, direction; the
    other end's id order), with ``groups`` giving each group's count, offset and how many are shown."""
    node = require_node(tx, node_id)
    if limit is None:
        edges = [e.to_dict() for e in tx.edge_listing(node.id)]
        groups = None
    else:
        edges, groups = [], []
        for (etype, direction), count in group_order(tx.edge_counts(node.id)):
            page = tx.group_edges(node.id, etype, direction, limit, offset)
            edges += [e.to_dict() for e in page]
            groups.append({"type": etype, "direction": direction, "count": count, "offset": offset,
                           "shown": len(page)})
    out = {
        "id": node.id,
        "kind": node.kind,
        "title": node.title,
        "description": node.description,
        "status": node.status,
        "attrs": node.attrs,
        "source": node.source,
        "added": r.added_json(tx.added([node.id]).get(node.id), node.created_at),
        "measurements": [{k: v for k, v in m.to_dict().items() if k in SHOW_MEASUREMENT_FIELDS}
                         for m in tx.measurements_of(node.id)],
        "edges": edges,
    }
    if groups is not None:
        out["groups"] = groups
    return out


def group_order(counts: dict[tuple[str, str], int]) -> list[tuple[tuple[str, str], int]]:
    """Groups as a node's page lists them: the biggest first, then by edge type and direction."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))

