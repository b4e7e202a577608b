"""Writing and reading the graph inside one store transaction.

Every function takes a :class:`db.session.Tx`; callers decide where the transaction begins and ends
(one per command), so a failure anywhere leaves the database as it was.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from db import records as r
from db.session import Tx
from db.sqlite_read import SHOW_MEASUREMENT_FIELDS
from graph.ids import base_id, normalize_title, suffixed_id
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
@dataclass
class NeighbourGroup:
    edge_type: str
    direction: str
    count: int  # edges in the group
    neighbours: list[tuple[r.Node, int, list[dict[str, Any]]]] = field(default_factory=list)
    # (node, edges tying it to the centre, attrs of those edges), best first
    size: int = 0  # distinct neighbours in the group (more than ``neighbours`` holds when it was cut)


def neighbourhood(tx: Tx, node_id: str, per_group: int | None = None) -> list[NeighbourGroup]:
    """Neighbours grouped by edge type and direction; groups and their members ranked by edge count.

    A neighbour's rank inside a group is the number of edges (of any type) that tie it to the centre,
    so a paper that is both cited and co-authored sorts above one tied once (then by title, then id).
    Ranking needs only each neighbour's id and title; with ``per_group`` only the best that many per
    group are loaded whole, with their edge attrs (a popular author or category has thousands of
    neighbours; a page shows a few).
    """
    require_node(tx, node_id)
    full = per_group is None
    ends = tx.edge_ends(node_id, with_attrs=full)
    ties: dict[str, int] = defaultdict(int)
    for e in ends:
        ties[e.other_id] += 1
    counts: dict[tuple[str, str], int] = defaultdict(int)
    members: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # group -> neighbour id -> title
    for e in ends:
        key = (e.type, e.direction)
        counts[key] += 1
        members[key][e.other_id] = e.other_title

    def rank(t: tuple[str, str]) -> tuple[int, str, str]:
        return -ties[t[0]], t[1].lower(), t[0]

    shown: dict[tuple[str, str], list[str]] = {}
    for key, group in members.items():
        best = sorted(group.items(), key=rank) if full else heapq.nsmallest(per_group, group.items(), key=rank)
        shown[key] = [nid for nid, _ in best]
    # each shown neighbour's edges in the group, for their attrs in edge order
    shown_ids = {n for ids in shown.values() for n in ids}
    tying: dict[tuple[str, str, str], list[r.EdgeEnd]] = defaultdict(list)
    for e in ends if full else tx.edge_ends(node_id, among=shown_ids):
        tying[(e.type, e.direction, e.other_id)].append(e)
    nodes = tx.get_nodes(shown_ids)
    groups = []
    for key, ids in shown.items():
        g = NeighbourGroup(key[0], key[1], counts[key], size=len(members[key]))
        g.neighbours = [(nodes[n], ties[n], [e.attrs for e in sorted(tying[(*key, n)], key=lambda e: e.id)])
                        for n in ids]
        groups.append(g)
    return sorted(groups, key=lambda g: (-g.count, g.edge_type, g.direction))


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
        "added": r.added_json(tx.added([node.id]).get(node.id), node.created_at),
        "measurements": [{k: v for k, v in m.to_dict().items() if k in SHOW_MEASUREMENT_FIELDS}
                         for m in tx.measurements_of(node.id)],
        "edges": [e.to_dict() for e in tx.edge_listing(node.id)],
    }

