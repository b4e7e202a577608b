"""A node's neighbourhood: its neighbours grouped by edge type and direction, groups and members ranked, counted
on the indexes and paged, so that a hub with a million edges costs one page.

It reads through a handful of store operations (``get_node``, ``get_nodes``, ``edge_counts``, ``edge_ends``,
``group_members``, ``group_page``) that both :class:`db.session.Tx` and the CLI's quick SQLite reader
(:class:`db.sqlite_read.SqliteReader`) provide, and imports neither: ``findings neighbors`` runs it without
loading SQLAlchemy.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from db import records as r

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


def neighbourhood(tx, node_id: str, per_group: int | None = None,
                  offsets: dict[GroupKey, int] | None = None) -> list[NeighbourGroup]:
    """Neighbours grouped by edge type and direction; groups ranked by edge count, their members by how
    many edges (of any type) tie them to the centre, then by id (a kind-prefixed slug of the title, so
    close to title order, and the order the indexes keep).

    ``per_group`` (None: everything): only that many members of each group, from ``offsets[group]`` on
    (default 0). Groups' counts are read from the stored counts (migration 0010); a node whose groups are
    all small has its edge ends read at once, and a group past :data:`LOAD_WHOLE` members is never loaded whole: a
    neighbour tied more than once is in two groups, so with at most one big group every such neighbour is
    found among the small groups' members, and the big group's page is the tied-more-than-once head
    followed by the rest in index order. Two or more big groups: their members are read (ids only).
    """
    _require(tx, node_id)
    offsets = offsets or {}
    counts = tx.edge_counts(node_id)
    sides = {d for _, d in counts}  # a direction without edges is not looked up
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
        for e in tx.edge_ends(node_id, among=loaded, with_attrs=False, directions=sides) if loaded else ():
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
        for e in tx.edge_ends(node_id, among=shown_ids, directions=sides) if shown_ids else ():
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


def _require(tx, node_id: str) -> None:
    if tx.get_node(node_id) is None:
        raise ValueError(f"no node with id {node_id!r}")

