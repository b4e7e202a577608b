"""Keyword search's ranking rule, one for both stores, and the SQLite statements that apply it.

The rule, for the distinct words of a query (``\\w+`` runs, lower-cased; each store stems them):

1. nodes whose **title holds every word**, shortest title first (in characters), then by id;
2. only when (1) gives fewer than ``limit``: the other nodes whose title and description together hold
   every word, by full-text relevance as before (SQLite: bm25 with the title weighted 5 to the
   description's 1; PostgreSQL: ts_rank over the title as weight A and the description as B);
3. only when (1) and (2) find nothing and the query has several words: titles holding **most of the
   words** (all but one, then all but two, … then one), more words first, then shortest, then by id; a
   level with more than :data:`MAX_GROUPS` word combinations (only queries of seven words or more have
   one) is skipped; then, when these are fewer than ``limit``, any word in title or description by
   full-text relevance.

A hit's score says which tier it came from: a title hit scores its number of words held plus
``1 / (1 + title length)``, so at least 1; a full-text hit scores ``r / (1 + r)`` for its relevance
``r``, so below 1. Scores fall down the list.

Why titles first, and by length: among titles that hold every word once, bm25 on the title alone orders
them by length, so the title tier is bm25's order on the column weighted most, without its cost. Each
store keeps an index that hands title matches out shortest first (migration 0011), so the
title tiers read about ``limit`` entries whatever the number of matches; bm25 or ts_rank, which scores
every match, runs only when the titles are short of ``limit``.

This module imports no SQLAlchemy: the CLI's quick read path (:mod:`db.sqlite_read`) uses it too.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from itertools import combinations
from typing import Any

WORD = re.compile(r"\w+", re.UNICODE)
MAX_GROUPS = 20
# nodes_title's rowid: the title's length in characters (capped) above the node's rowid
KEY_SHIFT = 40
ROWID_MASK = (1 << KEY_SHIFT) - 1
MAX_KEY_LENGTH = (1 << 22) - 1

# (groups of words, n) -> up to n (node id, title length), shortest title first then id: the nodes whose
# title holds every word of at least one group
TitleTier = Callable[[list[tuple[str, ...]], int], list[tuple[str, int]]]
# (words, "AND" | "OR", n) -> up to n (node id, relevance >= 0), most relevant first
FullTier = Callable[[list[str], str, int], list[tuple[str, float]]]


def search_words(query: str) -> list[str]:
    """The words a keyword search matches (lower-cased ``\\w+`` runs), each once, in query order."""
    return list(dict.fromkeys(WORD.findall(query.lower())))


def ranked(words: list[str], limit: int, title_tier: TitleTier, full_tier: FullTier) -> list[tuple[str, float]]:
    """The rule above → up to ``limit`` (node id, score), best first; the tiers are the store's queries."""
    if not words or limit <= 0:
        return []
    hits: dict[str, float] = {}  # in rank order

    def from_titles(groups: list[tuple[str, ...]], held: int) -> None:
        for node_id, length in title_tier(groups, limit + len(hits)):
            hits.setdefault(node_id, held + 1.0 / (1 + length))

    def from_full_text(joiner: str) -> None:
        for node_id, relevance in full_tier(words, joiner, limit + len(hits)):
            hits.setdefault(node_id, relevance / (1.0 + relevance))

    from_titles([tuple(words)], len(words))
    if len(hits) < limit:
        from_full_text("AND")
    if not hits and len(words) > 1:
        for held in range(len(words) - 1, 0, -1):
            groups = list(combinations(words, held))
            if len(groups) <= MAX_GROUPS:
                from_titles(groups, held)
                if len(hits) >= limit:
                    break
        if len(hits) < limit:
            from_full_text("OR")
    return list(hits.items())[:limit]


def node_filter(kind: str | None, status: str | None, prefix: str = "") -> tuple[str, dict[str, Any]]:
    """The " AND …" conditions on a node's kind and status (bound parameters), for both dialects' searches."""
    sql, params = "", {}
    if kind:
        sql += f" AND {prefix}kind = :kind"
        params["kind"] = kind
    if status:
        sql += f" AND {prefix}status = :status"
        params["status"] = status
    return sql, params


def _fts_string(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def title_sql(groups: list[tuple[str, ...]], kind: str | None, status: str | None,
              n: int) -> tuple[str, dict[str, Any]]:
    """SQLite: the title tier's query → (SQL, parameters); rows are (node id, title length).

    ``nodes_title`` hands matches out in key order (length, then rowid), stopping after ``n``; the ties
    at the n-th match's length are then all read, so that they come out by id as on PostgreSQL."""
    match = " OR ".join("(" + " AND ".join(map(_fts_string, g)) + ")" for g in groups)
    where, params = node_filter(kind, status, "n.")
    # CROSS JOIN keeps the index the outer loop, read in its own order
    base = (f"FROM nodes_title t CROSS JOIN nodes n ON n.rowid = (t.rowid & {ROWID_MASK}) "
            f"WHERE nodes_title MATCH :match{where}")
    sql = (f"WITH cut AS (SELECT t.rowid >> {KEY_SHIFT} AS len {base} ORDER BY t.rowid LIMIT 1 OFFSET :last) "
           f"SELECT n.id, t.rowid >> {KEY_SHIFT} AS len {base} "
           f"AND t.rowid < ((coalesce((SELECT len FROM cut), {MAX_KEY_LENGTH}) + 1) << {KEY_SHIFT}) "
           "ORDER BY len, n.id LIMIT :n")
    return sql, {"match": match, "last": n - 1, "n": n, **params}


def fulltext_sql(words: list[str], joiner: str, kind: str | None, status: str | None,
                 n: int) -> tuple[str, dict[str, Any]]:
    """SQLite: the full-text tier's query → (SQL, parameters); rows are (node id, relevance), best first.
    ``joiner`` is "AND" (every word) or "OR" (any word)."""
    match = f" {joiner} ".join(map(_fts_string, words))
    sql = ("SELECT n.id, -bm25(nodes_fts, 5.0, 1.0) AS score FROM nodes_fts "
           "JOIN nodes n ON n.rowid = nodes_fts.rowid WHERE nodes_fts MATCH :match")
    where, params = node_filter(kind, status, "n.")
    return sql + where + " ORDER BY score DESC, n.id LIMIT :n", {"match": match, "n": n, **params}
