"""Edges: writing them, and reading them as :class:`db.records.Edge` (both ends), or seen from one end
as :class:`db.records.EdgeEnd` (the other end's id, kind and title) or :class:`db.records.EdgeView`
(the whole node at the other end)."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, delete, exists, func, insert, literal, select, text, update

from db import models as m
from db import records as r
from db.queries.base import EDGE_COLUMNS, NODE_COLUMNS, chunks, edge_record, node_record
from db.queries.nodes import NodeQueries

# an edge seen from the node at ``here``: "out" from its source, "in" from its target
_DIRECTIONS = (("out", m.Edge.source_id, m.Edge.target_id), ("in", m.Edge.target_id, m.Edge.source_id))


class EdgeQueries(NodeQueries):
    # ---- one edge ------------------------------------------------------------------------------
    def find_edge(self, source_id: str, edge_type: str, target_id: str) -> r.Edge | None:
        row = self._rows(select(*EDGE_COLUMNS).where(
            m.Edge.source_id == source_id, m.Edge.type == edge_type, m.Edge.target_id == target_id)).first()
        return edge_record(row) if row is not None else None

    def get_edge(self, edge_id: int) -> r.Edge | None:
        row = self._rows(select(*EDGE_COLUMNS).where(m.Edge.id == edge_id)).first()
        return edge_record(row) if row is not None else None

    def insert_edge(self, source_id: str, edge_type: str, target_id: str, attrs: dict | None = None,
                    source: dict | None = None) -> r.Edge:
        row = m.Edge(source_id=source_id, type=edge_type, target_id=target_id, attrs=attrs or {},
                     source=source or {})
        self.s.add(row)
        self.s.flush()
        self.log_write("edge.add", f"edge:{row.id}", source_id,
                       {"source": source_id, "type": edge_type, "target": target_id})
        return edge_record((row.id, source_id, edge_type, target_id, row.attrs, row.source))

    def _log_edge(self, action: str, edge_id: int, **extra) -> None:
        ends = self.s.execute(select(m.Edge.source_id, m.Edge.type, m.Edge.target_id)
                              .where(m.Edge.id == edge_id)).first()
        if ends is not None:
            self.log_write(action, f"edge:{edge_id}", ends[0],
                           {"source": ends[0], "type": ends[1], "target": ends[2], **extra})

    def update_edge_attrs(self, edge_id: int, attrs: dict) -> None:
        self.s.execute(update(m.Edge).where(m.Edge.id == edge_id).values(attrs=attrs))
        self._log_edge("edge.update", edge_id, fields=["attrs"])

    def repoint_edge(self, edge_id: int, source_id: str, target_id: str) -> None:
        """Move an edge to new endpoints, keeping its id, attrs and provenance."""
        self.s.execute(update(m.Edge).where(m.Edge.id == edge_id).values(source_id=source_id, target_id=target_id))
        self._log_edge("edge.move", edge_id)

    def delete_edge(self, edge_id: int) -> None:
        self._log_edge("edge.delete", edge_id)  # before: the entry names what was deleted
        self.s.execute(delete(m.Edge).where(m.Edge.id == edge_id))

    # ---- edges with both ends --------------------------------------------------------------------
    def list_edges(self, edge_type: str | None = None) -> list[r.Edge]:
        """Every edge (of one type when given), in edge order."""
        q = select(*EDGE_COLUMNS).order_by(m.Edge.id)
        if edge_type:
            q = q.where(m.Edge.type == edge_type)
        return [edge_record(x) for x in self._rows(q)]

    def edges_touching(self, node_id: str, among: Iterable[str] | None = None,
                       edge_type: str | None = None) -> list[r.Edge]:
        """Every edge with ``node_id`` at one end, each once, in edge order; only those whose other end is
        one of ``among`` when it is given, and only those of ``edge_type`` when that is given."""
        groups = [None] if among is None else list(chunks(sorted(set(among))))
        found: dict[int, r.Edge] = {}
        for _, here, there in _DIRECTIONS:
            q = select(*EDGE_COLUMNS).where(here == node_id)
            if edge_type is not None:
                q = q.where(m.Edge.type == edge_type)
            for group in groups:
                for row in self._rows(q if group is None else q.where(there.in_(group))).all():
                    edge = edge_record(row)
                    found[edge.id] = edge  # a self-loop is found from both ends
        return [found[k] for k in sorted(found)]

    def edges_among(self, node_ids: Iterable[str]) -> list[r.Edge]:
        """Every edge whose two ends are both among ``node_ids``, in edge order."""
        ids = set(node_ids)
        order = sorted(ids)
        out: list[r.Edge] = []
        for chunk in chunks(order, 900):
            q = select(*EDGE_COLUMNS).where(m.Edge.source_id.in_(chunk))
            if len(order) <= 900:  # a longer list is checked in Python rather than bound a second time
                # ``target_id || ''``: the lookup is driven by the sources' index, a seek each; on the
                # target index a hub among the targets would have its whole range walked
                q = q.where(m.Edge.target_id.concat("").in_(order))
            # row[3] is the target id (EDGE_COLUMNS order): checked before a record is built
            out.extend(edge_record(row) for row in self._rows(q).all() if row[3] in ids)
        out.sort(key=lambda e: e.id)
        return out

    # ---- edges seen from one end -----------------------------------------------------------------
    def edge_ends(self, node_id: str, among: Iterable[str] | None = None, *, with_attrs: bool = True,
                  directions: Iterable[str] = ("out", "in")) -> list[r.EdgeEnd]:
        """Every edge touching ``node_id``, seen from it (a self-loop twice), unordered; only those whose
        other end is one of ``among`` when it is given, and only in ``directions``. ``with_attrs=False``
        leaves the attrs out (None): the least a ranking of a node's neighbours needs (a hub has thousands)."""
        groups = [None] if among is None else list(chunks(list(set(among))))
        out: list[r.EdgeEnd] = []
        for direction, here, there in (d for d in _DIRECTIONS if d[0] in set(directions)):
            cols = (m.Edge.id, m.Edge.type, there, m.Node.kind, m.Node.title)
            q = select(*cols, *((m.Edge.attrs,) if with_attrs else ())).join(m.Node, m.Node.id == there)
            # with ``among``, the lookup is driven by the other ends' index (a seek each); ``here || ''``
            # keeps SQLite from walking a hub's whole range of this end's index instead
            q = q.where((here if among is None else here.concat("")) == node_id)
            for group in groups:
                rows = self._rows(q if group is None else q.where(there.in_(group))).all()
                if with_attrs:
                    out.extend(r.EdgeEnd(i, t, direction, o, k, title, dict(a or {}))
                               for i, t, o, k, title, a in rows)
                else:
                    out.extend(r.EdgeEnd(i, t, direction, o, k, title) for i, t, o, k, title in rows)
        return out

    # ---- a node's groups (edge type, direction), counted and paged -------------------------------------
    def edge_counts(self, node_id: str) -> dict[tuple[str, str], int]:
        """(edge type, direction) -> how many edges touch ``node_id`` so (a self-loop in both directions):
        read from the stored counts (migration 0010), one range of their primary key, whatever the degree."""
        c = m.EdgeCount
        q = select(c.type, c.direction, c.n).where(c.node_id == node_id)
        return {(t, d): n for t, d, n in self._rows(q).all()}

    def edge_count_drift(self) -> list[tuple[str, str, str, int, int]]:
        """(node id, edge type, direction, stored count, counted) of every group whose stored count differs
        from its edges (0 where either side has none): empty while the triggers keep them exact. Compared in
        the database: only the differences come back."""
        c = m.EdgeCount
        out: list[tuple[str, str, str, int, int]] = []
        for direction, here, _ in _DIRECTIONS:
            g = self._counted(here, direction).subquery()
            on = (c.node_id == g.c.node_id) & (c.type == g.c.type) & (c.direction == direction)
            wrong = (select(g.c.node_id, g.c.type, func.coalesce(c.n, 0), g.c.n).outerjoin(c, on)
                     .where((c.n.is_(None)) | (c.n != g.c.n)))
            stale = select(c.node_id, c.type, c.n).where(
                c.direction == direction, ~exists().where(here == c.node_id, m.Edge.type == c.type))
            out += [(x, t, direction, n, k) for x, t, n, k in self._rows(wrong).all()]
            out += [(x, t, direction, n, 0) for x, t, n in self._rows(stale).all()]
        return sorted(out)

    @staticmethod
    def _counted(here, direction: str):
        """(node_id, type, direction, n) of every group of one direction, counted on the edges."""
        return (select(here.label("node_id"), m.Edge.type.label("type"), literal(direction).label("direction"),
                       func.count().label("n")).group_by(here, m.Edge.type))

    def rebuild_edge_counts(self) -> int:
        """Count every node's groups again from the edges and store them (replacing what was stored), one
        INSERT … SELECT … GROUP BY per direction as the migration did; the number of groups stored. For a
        store whose counts drifted (written with the triggers off)."""
        c = m.EdgeCount
        self.s.execute(delete(c))
        for direction, here, _ in _DIRECTIONS:
            self.s.execute(insert(c).from_select(["node_id", "type", "direction", "n"], self._counted(here, direction)))
        return self.s.scalar(select(func.count()).select_from(c))

    def group_members(self, node_id: str, direction: str, edge_types: Iterable[str]) -> list[tuple[str, str]]:
        """(edge type, other end's id) of every ``direction`` edge of ``node_id`` of ``edge_types``: the
        members of groups small enough to load whole."""
        _, here, there = _DIRECTIONS[0] if direction == "out" else _DIRECTIONS[1]
        types = sorted(set(edge_types))
        if not types:
            return []
        return [tuple(x) for x in self._rows(select(m.Edge.type, there).where(here == node_id,
                                                                               m.Edge.type.in_(types))).all()]

    def group_page(self, node_id: str, edge_type: str, direction: str, limit: int, offset: int = 0,
                   exclude: Iterable[str] = ()) -> list[str]:
        """Ids of the nodes at the other end of ``node_id``'s ``edge_type`` edges in ``direction``, in id
        order, leaving out ``exclude``: rows ``offset`` to ``offset + limit`` of that order, read from the
        index in order (a hub's group of a million costs one page, not a sort)."""
        _, here, there = _DIRECTIONS[0] if direction == "out" else _DIRECTIONS[1]
        q = select(there).where(here == node_id, m.Edge.type == edge_type)
        skip = sorted(set(exclude))
        if skip:
            q = q.where(there.not_in(skip))
        return list(self._rows(q.order_by(there).limit(limit).offset(offset)).scalars())

    def group_edges(self, node_id: str, edge_type: str, direction: str, limit: int,
                    offset: int = 0) -> list[r.EdgeEnd]:
        """A page of ``node_id``'s ``edge_type`` edges in ``direction`` (rows ``offset`` to ``offset + limit``
        in the other end's id order), with the other end's kind and title and the edge's attrs."""
        _, here, there = _DIRECTIONS[0] if direction == "out" else _DIRECTIONS[1]
        ids = self.group_page(node_id, edge_type, direction, limit, offset)
        if not ids:
            return []
        q = (select(m.Edge.id, there, m.Node.kind, m.Node.title, m.Edge.attrs).join(m.Node, m.Node.id == there)
             .where(here == node_id, m.Edge.type == edge_type, there.in_(ids)))
        found = {o: r.EdgeEnd(i, edge_type, direction, o, k, t, dict(a or {})) for i, o, k, t, a in self._rows(q)}
        return [found[o] for o in ids if o in found]

    def edge_listing(self, node_id: str) -> list[r.EdgeEnd]:
        """Every edge touching ``node_id`` seen from it, with attrs, in edge order (a self-loop: out, then
        in): what a listing of the node's edges shows, without loading the other nodes whole."""
        return sorted(self.edge_ends(node_id), key=lambda e: (e.id, e.direction != "out"))

    def edges_of(self, node_id: str) -> list[r.EdgeView]:
        """Every edge touching ``node_id`` seen from it (a self-loop twice), in edge order, each with the
        node at its other end."""
        edges = self.edges_touching(node_id)
        others = self.get_nodes(e.target_id if e.source_id == node_id else e.source_id for e in edges)
        out = []
        for e in edges:
            if e.source_id == node_id:
                out.append(r.EdgeView(e, "out", others[e.target_id]))
            if e.target_id == node_id:
                out.append(r.EdgeView(e, "in", others[e.source_id]))
        return out

    def edge_views(self, node_ids: Iterable[str], edge_type: str,
                   direction: str = "out") -> dict[str, list[r.EdgeView]]:
        """For each of ``node_ids``, its ``edge_type`` edges in ``direction`` ("out": the node is their
        source), in edge order, each with the node at the other end."""
        outgoing = direction == "out"
        here = m.Edge.source_id if outgoing else m.Edge.target_id
        edges: list[r.Edge] = []
        for chunk in chunks(list(set(node_ids))):
            # ordered here, not in SQL: "ORDER BY id" tempts SQLite into walking the type index instead
            q = select(*EDGE_COLUMNS).where(m.Edge.type == edge_type, here.in_(chunk))
            edges.extend(edge_record(x) for x in self._rows(q).all())
        edges.sort(key=lambda e: e.id)
        nodes = self.get_nodes(e.target_id if outgoing else e.source_id for e in edges)
        out: dict[str, list[r.EdgeView]] = {}
        for e in edges:
            near, far = (e.source_id, e.target_id) if outgoing else (e.target_id, e.source_id)
            out.setdefault(near, []).append(r.EdgeView(e, direction, nodes[far]))
        return out

    def sources_with_edges(self, node_ids: Iterable[str], edge_type: str) -> set[str]:
        """Those of ``node_ids`` that are the source of at least one ``edge_type`` edge (an index probe each)."""
        out: set[str] = set()
        for chunk in chunks(list(set(node_ids))):
            q = select(m.Edge.source_id).where(m.Edge.source_id.in_(chunk), m.Edge.type == edge_type).distinct()
            out.update(self._rows(q).scalars())
        return out

    # ---- evidence ------------------------------------------------------------------------------
    def evidence_edges(self, subjects: Iterable[str], types: Iterable[str]) -> list[r.EvidenceEdge]:
        """The ``types`` edges pointing at any of ``subjects``, in edge order, each with the kind, title and
        status of its source node (:mod:`graph.evidence` weighs them)."""
        types = sorted(set(types))
        rows = []
        for chunk in chunks(sorted(set(subjects))):
            q = (select(m.Edge.id, m.Edge.target_id, m.Edge.type, m.Edge.attrs, m.Edge.source_id, m.Node.kind,
                        m.Node.title, m.Node.status)
                 .join(m.Node, m.Node.id == m.Edge.source_id)
                 .where(m.Edge.target_id.in_(chunk), m.Edge.type.in_(types)))
            rows.extend(self._rows(q).all())
        rows.sort(key=lambda x: x[0])
        return [r.EvidenceEdge(t, ty, dict(a or {}), s, k, ti, st) for _, t, ty, a, s, k, ti, st in rows]

    def origins(self, node_ids: Iterable[str]) -> dict[str, r.Origin]:
        """For each of ``node_ids``, the runs that produced it and the papers it was extracted from."""
        ids = sorted(set(node_ids))
        out = {i: r.Origin() for i in ids}
        rows = []
        for chunk in chunks(ids):
            q = select(m.Edge.id, m.Edge.source_id, m.Edge.type, m.Edge.target_id).where(
                m.Edge.source_id.in_(chunk), m.Edge.type.in_(("extracted_from", "produced_by")))
            rows.extend(self._rows(q).all())
        for _, src, etype, dst in sorted(rows):
            (out[src].runs if etype == "produced_by" else out[src].papers).append(dst)
        return out

    # ---- walks and counts -----------------------------------------------------------------------
    def next_hop(self, frontier: Iterable[str], seen: Iterable[str], limit: int) -> list[str]:
        """The first ``limit`` ids (sorted) of nodes joined by an edge to some node of ``frontier`` and not
        in ``seen``: one level of a breadth-first walk. Each group (frontier node, edge type, direction) is
        read from its index in order, only its first ``limit + len(seen)`` entries (enough to hold its first
        ``limit`` unseen ones), and the groups merged here: a hub's whole group is never fetched."""
        seen_set = set(seen)
        if limit <= 0:
            return []
        found = set(self.hop_candidates(frontier, limit + len(seen_set)))
        return sorted(found - seen_set)[:limit]

    def hop_candidates(self, frontier: Iterable[str], per_group: int) -> list[str]:
        """The first ``per_group`` other ends (in index order) of every group (edge type, direction) of every
        node of ``frontier``, as fetched (an id once per group it is in). The groups are found by skipping
        along the index (the next type after the last: a seek each), and each page is a range of the index
        ending at its ``per_group``-th entry, so a hub's group costs ``per_group`` rows, not its size."""
        if per_group <= 0:
            return []
        out: list[str] = []
        for here, there in (("source_id", "target_id"), ("target_id", "source_id")):
            sql = text(f"""
                WITH RECURSIVE g(nid, type) AS (
                    SELECT n.id, (SELECT min(e.type) FROM edges e WHERE e.{here} = n.id)
                    FROM nodes n WHERE n.id IN :ids
                    UNION ALL
                    SELECT g.nid, (SELECT min(e.type) FROM edges e WHERE e.{here} = g.nid AND e.type > g.type)
                    FROM g WHERE g.type IS NOT NULL
                )
                SELECT e.{there} FROM g JOIN edges e ON e.{here} = g.nid AND e.type = g.type
                WHERE g.type IS NOT NULL AND e.{there} <= coalesce(
                    (SELECT x.{there} FROM edges x WHERE x.{here} = g.nid AND x.type = g.type
                     ORDER BY x.{there} LIMIT 1 OFFSET :off),
                    (SELECT max(x.{there}) FROM edges x WHERE x.{here} = g.nid AND x.type = g.type))
            """)
            for chunk in chunks(sorted(set(frontier))):
                stmt = sql.bindparams(bindparam("ids", value=chunk, expanding=True), off=per_group - 1)
                out.extend(self._rows(stmt).scalars())
        return out

    def edge_targets(self, edge_type: str, measured_only: bool = False, limit: int = 1000) -> list[r.Node]:
        """Nodes at the target end of some ``edge_type`` edge (papers with findings, runs with results),
        only those whose source is a measured node when ``measured_only``."""
        ids = select(m.Edge.target_id).where(m.Edge.type == edge_type)
        if measured_only:
            ids = ids.where(m.Edge.source_id.in_(select(m.Measurement.node_id)))
        rows = self._rows(select(*NODE_COLUMNS).where(m.Node.id.in_(ids)).order_by(m.Node.title).limit(limit))
        return [node_record(x) for x in rows]

    def busiest_target(self) -> tuple[str, int] | None:
        """The node that the most edges point to, with that count (None when there are no edges); read from
        the stored counts."""
        c = m.EdgeCount
        count = func.sum(c.n).label("c")
        row = self.s.execute(select(c.node_id, count).where(c.direction == "in").group_by(c.node_id)
                             .order_by(count.desc(), c.node_id).limit(1)).first()
        return (row[0], int(row[1])) if row else None

    def busiest_target_of_kind(self, kind: str) -> tuple[str, int] | None:
        """The ``kind`` node that the most edges point to, with that count (each node's in-edges summed from
        the stored counts; None when there is no such node)."""
        c = m.EdgeCount
        count = (select(func.coalesce(func.sum(c.n), 0)).where(c.node_id == m.Node.id, c.direction == "in")
                 .correlate(m.Node).scalar_subquery().label("c"))
        row = self._rows(select(m.Node.id, count).where(m.Node.kind == kind).order_by(count.desc(), m.Node.id)
                         .limit(1)).first()
        return (row[0], row[1]) if row else None

    def count_edges_by_type(self) -> dict[str, int]:
        return dict(self.s.execute(select(m.Edge.type, func.count()).group_by(m.Edge.type)).all())
