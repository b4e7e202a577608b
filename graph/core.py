"""Writing and reading the graph inside one store transaction.

Every function takes a :class:`db.session.Tx`; callers decide where the transaction begins and ends
(one per command), so a failure anywhere leaves the database as it was.
"""
from __future__ import annotations

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
    count: int  # edges in the group, counted
    neighbours: list[tuple[r.Node, int, list[dict[str, Any]]]] = field(default_factory=list)
    # (node, edges tying it to the centre, attrs of those edges), best first: the page asked for
    size: int = 0  # distinct neighbours in the group (more than ``neighbours`` holds when it was cut)
    offset: int = 0  # where in the group's ranking ``neighbours`` starts

    @property
    def more(self) -> int:
        """How many members of the group come after this page."""
        return max(0, self.size - self.offset - len(self.neighbours))


GroupKey = tuple[str, str]  # (edge type, direction)
LOAD_WHOLE = 2000  # a group with at most this many members is ranked in memory; a bigger one is paged in SQL


def _rank(ties: dict[str, int]):
    return lambda nid: (-ties.get(nid, 1), nid)


def neighbourhood(tx: Tx, node_id: str, per_group: int | None = None,
                  offsets: dict[GroupKey, int] | None = None) -> list[NeighbourGroup]:
    """Neighbours grouped by edge type and direction; groups ranked by edge count, their members by how
    many edges (of any type) tie them to the centre, then by id (a kind-prefixed slug of the title, so
    close to title order, and the order the indexes keep).

    ``per_group`` (None: everything): only that many members of each group, from ``offsets[group]`` on
    (default 0). Groups are counted on the indexes; a node whose groups are all small has its edge ends
    read at once, and a group past :data:`LOAD_WHOLE` members is never loaded whole: a
    neighbour tied more than once is in two groups, so with at most one big group every such neighbour is
    found among the small groups' members, and the big group's page is the tied-more-than-once head
    followed by the rest in index order. Two or more big groups: their members are read (ids only).
    """
    require_node(tx, node_id)
    offsets = offsets or {}
    counts = tx.edge_counts(node_id)
    big = [k for k, n in counts.items() if per_group is not None and n > LOAD_WHOLE]
    members: dict[GroupKey, list[str]] = defaultdict(list)
    ties: dict[str, int] = defaultdict(int)
    in_big: dict[GroupKey, set[str]] = defaultdict(set)
    tying: dict[tuple[str, str, str], list[r.EdgeEnd]] | None = None
    if not big or len(big) > 1:
        # few edges: every end at once, with its attrs; or (rare) two big groups: every end's id
        whole = not big
        ends = tx.edge_ends(node_id, with_attrs=whole)
        for e in ends:
            members[(e.type, e.direction)].append(e.other_id)
            ties[e.other_id] += 1
        if whole:
            tying = defaultdict(list)
            for e in ends:
                tying[(e.type, e.direction, e.other_id)].append(e)
        big = []
    else:
        for direction in ("out", "in"):
            small = [t for (t, d) in counts if d == direction and (t, d) not in big]
            for t, other in tx.group_members(node_id, direction, small):
                members[(t, direction)].append(other)
        # ties: every edge between the centre and a small group's member, whatever its group (the big one too)
        loaded = {n for ids in members.values() for n in ids}
        for e in tx.edge_ends(node_id, among=loaded, with_attrs=False) if loaded else ():
            ties[e.other_id] += 1
            if (e.type, e.direction) in big:
                in_big[(e.type, e.direction)].add(e.other_id)
    rank = _rank(ties)
    shown: dict[GroupKey, list[str]] = {}
    for key in counts:
        start = offsets.get(key, 0) if per_group is not None else 0
        stop = None if per_group is None else start + per_group
        if key not in big:
            shown[key] = sorted(members[key], key=rank)[start:stop]
            continue
        head = sorted(in_big[key], key=rank)  # tied more than once: first
        page = head[start:stop]
        if stop is None or len(page) < stop - start:
            page += tx.group_page(node_id, key[0], key[1], stop - start - len(page), max(0, start - len(head)),
                                  exclude=head)
        shown[key] = page
    # the shown neighbours' edges, for their attrs (in edge order)
    shown_ids = {n for ids in shown.values() for n in ids}
    if tying is None:
        tying = defaultdict(list)
        for e in tx.edge_ends(node_id, among=shown_ids) if shown_ids else ():
            tying[(e.type, e.direction, e.other_id)].append(e)
    nodes = tx.get_nodes(shown_ids)
    groups = []
    for key, ids in shown.items():
        g = NeighbourGroup(key[0], key[1], counts[key], size=counts[key],
                           offset=offsets.get(key, 0) if per_group is not None else 0)
        g.neighbours = [(nodes[n], ties.get(n, 1), [e.attrs for e in sorted(tying[(*key, n)], key=lambda e: e.id)])
                        for n in ids]
        groups.append(g)
    return sorted(groups, key=lambda g: (-g.count, g.edge_type, g.direction))


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

