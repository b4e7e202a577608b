"""External identifiers (table ``identifiers``): the indexed lookups by which a paper met again (an arXiv
id, a DOI) is recognised, and the title lookups that batch ingest resolves many records with at once."""
from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import select

from db import models as m
from db import records as r
from db.queries.base import NODE_COLUMNS, TxBase, chunks, node_record


class IdentifierQueries(TxBase):
    def nodes_by_identifier(self, scheme: str, values: Iterable[str]) -> dict[str, str]:
        """value -> node id, for those of ``values`` that ``scheme`` holds (indexed reads: see ``_in``)."""
        out: dict[str, str] = {}
        for held in self._in(m.Identifier.value, values):
            q = select(m.Identifier.value, m.Identifier.node_id).where(m.Identifier.scheme == scheme, held)
            out.update(dict(self._rows(q).all()))
        return out

    def identifiers_of(self, node_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """node id -> {scheme: value}, for the given nodes that have identifiers."""
        out: dict[str, dict[str, str]] = {}
        for chunk in chunks(sorted(set(node_ids))):
            q = select(m.Identifier.node_id, m.Identifier.scheme, m.Identifier.value).where(
                m.Identifier.node_id.in_(chunk))
            for node_id, scheme, value in self._rows(q).all():
                out.setdefault(node_id, {})[scheme] = value
        return out

    def add_identifiers(self, rows: Iterable[tuple[str, str, str]],
                        unheld: Collection[tuple[str, str]] = frozenset()) -> int:
        """Insert (scheme, value, node id) rows whose (scheme, value) is not held yet (the first node to
        claim an identifier keeps it); return how many were inserted. Identifiers are derived from a node's
        attrs, which its own write logged, so they get no log entry of their own (like embeddings).
        ``unheld``: (scheme, value) pairs the caller looked up earlier in this transaction and found held by
        no node; they are not looked up again."""
        wanted: dict[tuple[str, str], str] = {}
        for scheme, value, node_id in rows:
            wanted.setdefault((scheme, value), node_id)
        if not wanted:
            return 0
        held: set[tuple[str, str]] = set()
        for scheme in {s for s, _ in wanted}:
            values = [v for s, v in wanted if s == scheme and (s, v) not in unheld]
            held.update((scheme, v) for v in self.nodes_by_identifier(scheme, values))
        new = [{"scheme": s, "value": v, "node_id": n} for (s, v), n in wanted.items() if (s, v) not in held]
        if self.s.new or self.s.dirty or self.s.deleted:
            self.s.flush()  # the nodes they point at
        self._bulk_insert("identifiers", new)  # db.queries.bulk.BulkWrites, a sibling mixin of db.session.Tx
        return len(new)

    def nodes_by_titles(self, kind: str, title_norms: Iterable[str]) -> dict[str, list[r.Node]]:
        """normalised title -> the ``kind`` nodes that have it (oldest first), for many titles at once."""
        out: dict[str, list[r.Node]] = {}
        for named in self._in(m.Node.title_norm, title_norms):
            q = (select(m.Node.title_norm, *NODE_COLUMNS)
                 .where(m.Node.kind == kind, named).order_by(m.Node.created_at, m.Node.id))
            for row in self._rows(q).all():
                out.setdefault(row[0], []).append(node_record(row[1:]))
        return out
