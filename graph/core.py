"""Writing and reading the graph inside one store transaction.

Every function takes a :class:`db.store.Tx`; callers decide where the transaction begins and ends
(one per command), so a failure anywhere leaves the database as it was.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from db.store import Tx
from graph import records as r
from graph.ids import base_id, normalize_title, suffixed_id
from graph.measurements import parse_measurements
from graph.schemas import EdgeIn, MeasurementIn, NodeIn, validate
from graph.vocabulary import check_edge


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
    return node_id


def require_node(tx: Tx, node_id: str) -> r.Node:
    node = tx.get_node(node_id)
    if node is None:
        raise ValueError(f"no node with id {node_id!r}")
    return node


def add_edge(tx: Tx, source_id: str, edge_type: str, target_id: str, attrs: dict | None = None,
             source: dict | None = None, *, merge_attrs: bool = False) -> tuple[r.Edge, bool]:
    """Add a vocabulary-checked edge; return it and whether it is new (an existing one is kept)."""
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
@dataclass
class NeighbourGroup:
    edge_type: str
    direction: str
    count: int  # edges in the group
    neighbours: list[tuple[r.Node, int, list[dict[str, Any]]]] = field(default_factory=list)
    # (node, edges tying it to the centre, attrs of those edges)


def neighbourhood(tx: Tx, node_id: str) -> list[NeighbourGroup]:
    """Neighbours grouped by edge type and direction; groups and their members ranked by edge count.

    A neighbour's rank inside a group is the number of edges (of any type) that tie it to the centre,
    so a paper that is both cited and co-authored sorts above one tied once.
    """
    require_node(tx, node_id)
    views = tx.edges_of(node_id)
    ties: dict[str, int] = defaultdict(int)
    for v in views:
        ties[v.node.id] += 1
    groups: dict[tuple[str, str], NeighbourGroup] = {}
    members: dict[tuple[str, str], dict[str, tuple[r.Node, list[dict]]]] = defaultdict(dict)
    for v in views:
        key = (v.edge.type, v.direction)
        g = groups.setdefault(key, NeighbourGroup(v.edge.type, v.direction, 0))
        g.count += 1
        node, attrs = members[key].setdefault(v.node.id, (v.node, []))
        attrs.append(v.edge.attrs)
    for key, g in groups.items():
        g.neighbours = sorted(
            ((n, ties[n.id], a) for n, a in members[key].values()),
            key=lambda t: (-t[1], t[0].title.lower(), t[0].id),
        )
    return sorted(groups.values(), key=lambda g: (-g.count, g.edge_type, g.direction))


def show(tx: Tx, node_id: str) -> dict[str, Any]:
    """The node with its measurements and edges, in the CLI's ``show --json`` shape."""
    node = require_node(tx, node_id)
    return {
        "id": node.id,
        "kind": node.kind,
        "title": node.title,
        "description": node.description,
        "status": node.status,
        "attrs": node.attrs,
        "source": node.source,
        "measurements": [
            {k: v for k, v in m.to_dict().items() if k in ("metric", "value", "err", "err_kind", "n", "conditions",
                                                          "split", "dataset", "method")}
            for m in tx.measurements_of(node.id)
        ],
        "edges": [v.to_dict() for v in tx.edges_of(node.id)],
    }


def validate_measurement(data: dict) -> r.Measurement:
    return r.Measurement(**validate(MeasurementIn, data).model_dump())
