"""Keyword search: SQLite FTS5 (the query shared with the CLI's quick path, :mod:`db.sqlite_read`) or
PostgreSQL full text, ranked best first."""
from __future__ import annotations

from sqlalchemy import text

from db import records as r
from db.queries.nodes import NodeQueries
from db.sqlite_read import keyword_sql, node_filter, search_words


class SearchQueries(NodeQueries):
    def keyword_search(self, query: str, kind: str | None = None, limit: int = 20,
                       status: str | None = None) -> list[tuple[r.Node, float]]:
        words = search_words(query)
        if not words:
            return []
        for joiner in (" AND ", " OR "):  # all words first; any word if that finds nothing
            hits = (self._search_sqlite if self.dialect == "sqlite" else self._search_pg)(
                words, joiner, kind, limit, status)
            if hits:
                return hits
        return []

    def _search_sqlite(self, words, joiner, kind, limit, status):
        sql, params = keyword_sql(words, joiner, kind, status, limit)  # shared with the CLI's quick path
        return self._ranked(self.s.execute(text(sql), params).all())

    def _search_pg(self, words, joiner, kind, limit, status):
        op = " & " if joiner.strip() == "AND" else " | "
        tsq = op.join(words)
        vec = ("setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
               "setweight(to_tsvector('english', coalesce(description, '')), 'B')")
        sql = (f"SELECT id, ts_rank({vec}, to_tsquery('english', :q)) AS score FROM nodes "
               f"WHERE ({vec}) @@ to_tsquery('english', :q)")
        where, params = node_filter(kind, status)
        sql += where + " ORDER BY score DESC, id LIMIT :limit"
        return self._ranked(self.s.execute(text(sql), {"q": tsq, "limit": limit, **params}).all())

    def _ranked(self, rows) -> list[tuple[r.Node, float]]:
        """(node id, score) rows, best first, as (node, score)."""
        nodes = self.get_nodes([x[0] for x in rows])
        return [(nodes[i], float(s)) for i, s in rows]
