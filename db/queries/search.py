"""Keyword search on either store, ranked by the rule in :mod:`db.keyword_rank` (shared with the CLI's
quick path, :mod:`db.sqlite_read`): SQLite FTS5 or PostgreSQL full text."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text

from db import records as r
from db.keyword_rank import fulltext_sql, node_filter, ranked, search_words, title_sql
from db.queries.nodes import NodeQueries

# the expressions migrations 0002 and 0011 index on PostgreSQL
_PG_DOCUMENT = ("setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
                "setweight(to_tsvector('english', coalesce(description, '')), 'B')")
_PG_TITLE = "to_tsvector('english', title)"


def pg_title_sql(groups: list[tuple[str, ...]], kind: str | None, status: str | None,
                 n: int) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: the title tier (:func:`db.keyword_rank.title_sql`); ids compared bytewise, as SQLite does."""
    where, params = node_filter(kind, status)
    q = " | ".join("(" + " & ".join(g) + ")" for g in groups)
    return (f"SELECT id, length(title) FROM nodes WHERE {_PG_TITLE} @@ to_tsquery('english', :q){where} "
            'ORDER BY length(title), id COLLATE "C" LIMIT :n', {"q": q, "n": n, **params})


def pg_fulltext_sql(words: list[str], joiner: str, kind: str | None, status: str | None,
                    n: int) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: the full-text tier (:func:`db.keyword_rank.fulltext_sql`), ranked by ts_rank."""
    where, params = node_filter(kind, status)
    q = (" & " if joiner == "AND" else " | ").join(words)
    return (f"SELECT id, ts_rank({_PG_DOCUMENT}, to_tsquery('english', :q)) AS score FROM nodes "
            f"WHERE ({_PG_DOCUMENT}) @@ to_tsquery('english', :q){where} "
            'ORDER BY score DESC, id COLLATE "C" LIMIT :n', {"q": q, "n": n, **params})


class SearchQueries(NodeQueries):
    def keyword_search(self, query: str, kind: str | None = None, limit: int = 20,
                       status: str | None = None) -> list[tuple[r.Node, float]]:
        sqlite = self.dialect == "sqlite"
        titles, full_text = (title_sql, fulltext_sql) if sqlite else (pg_title_sql, pg_fulltext_sql)
        hits = ranked(search_words(query), limit,
                      lambda groups, n: self._search_rows(*titles(groups, kind, status, n)),
                      lambda words, joiner, n: self._search_rows(*full_text(words, joiner, kind, status, n)))
        nodes = self.get_nodes([i for i, _ in hits])
        return [(nodes[i], s) for i, s in hits]

    def _search_rows(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        return [tuple(x) for x in self.s.execute(text(sql), params).all()]
