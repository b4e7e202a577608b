"""Stored edge counts (migration 0010): after every kind of write, on both stores, ``edge_counts`` holds exactly
what a fresh GROUP BY over ``edges`` counts; ``findings check`` notices when they differ and rebuilds them."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from db.engine import HEAD_REVISION, current_revision, get_engine, migrate, resolve_url
from graph import curation, integrity
from graph.api import Graph
from graph.backup import backup, restore
from tests.test_reliability import raw_sql


# characters that COPY's text format escapes, and a JSON null
TRICKY = {"note": "tab\there, newline\nthere, back\\slash, \"quoted\", ü, \\N", "score": 0.5, "tags": [1, None]}


def stored(url: str) -> dict[tuple[str, str, str], int]:
    with get_engine(resolve_url(url)).connect() as conn:
        rows = conn.execute(text("SELECT node_id, type, direction, n FROM edge_counts"))
        return {(x, t, d): n for x, t, d, n in rows}


def counted(url: str) -> dict[tuple[str, str, str], int]:
    """The groups as a GROUP BY over the edges counts them: what the stored counts must equal."""
    with get_engine(resolve_url(url)).connect() as conn:
        out = {(x, t, "out"): n for x, t, n in conn.execute(
            text("SELECT source_id, type, count(*) FROM edges GROUP BY source_id, type"))}
        out.update(((x, t, "in"), n) for x, t, n in conn.execute(
            text("SELECT target_id, type, count(*) FROM edges GROUP BY target_id, type")))
    return out


def execute(url: str, *statements: str) -> None:
    """Plain SQL in one transaction, triggers on (unlike ``raw_sql``, which on PostgreSQL switches them off)."""
    with get_engine(resolve_url(url)).begin() as conn:
        for sql in statements:
            conn.exec_driver_sql(sql)


def assert_exact(url: str) -> dict[tuple[str, str, str], int]:
    now = counted(url)
    assert now, "the test should have edges to count"
    assert stored(url) == now
    return now


def papers(g: Graph, n: int = 6) -> tuple[list[str], str, str]:
    """``n`` papers in category cs.LG, half of them also in cs.CL, by one author; (paper ids, cs.LG, author)."""
    report = g.bulk_load(nodes=[{"id": "category:cs-lg", "kind": "category", "title": "cs.LG"},
                                {"id": "category:cs-cl", "kind": "category", "title": "cs.CL"},
                                {"id": "author:ada", "kind": "author", "title": "Ada"}]
                         + [{"id": f"paper:p{i}", "kind": "paper", "title": f"Paper {i}"} for i in range(n)])
    ids = [i for i in report.node_ids if i.startswith("paper:")]
    return ids, "category:cs-lg", "author:ada"


def test_one_at_a_time_writes_merge_and_unmerge_keep_counts_exact(store_url):
    g = Graph(store_url)
    ids, lg, ada = papers(g)
    for p in ids:
        g.link(p, "in_category", lg)
    g.link(ids[0], "authored_by", ada)
    g.link(ids[0], "listed_similar", ids[1])
    g.link(ids[2], "listed_similar", ids[0])
    assert assert_exact(store_url)[(lg, "in_category", "in")] == 6
    with g.store.read() as tx:
        assert tx.edge_counts(ids[0]) == {("in_category", "out"): 1, ("authored_by", "out"): 1,
                                          ("listed_similar", "out"): 1, ("listed_similar", "in"): 1}
    # merge: paper 1 into paper 0 moves its edges (one becomes a duplicate and is deleted), adds duplicate_of
    curation.merge(g, ids[0], ids[1], score=0.9)
    after = assert_exact(store_url)
    assert after[(lg, "in_category", "in")] == 5 and (ids[1], "in_category", "out") not in after
    curation.unmerge(g, ids[1])
    assert assert_exact(store_url)[(lg, "in_category", "in")] == 6


def test_deletes_and_updates_in_sql_keep_counts_exact_and_drop_empty_groups(store_url):
    g = Graph(store_url)
    ids, lg, ada = papers(g)
    g.bulk_load(edges=[(p, "in_category", lg) for p in ids] + [(ids[0], "authored_by", ada)])
    execute(store_url, f"UPDATE edges SET type = 'listed_similar', target_id = '{ids[1]}' "
                       f"WHERE source_id = '{ids[0]}' AND type = 'authored_by'",  # type and an end
                f"UPDATE edges SET target_id = 'category:cs-cl' WHERE source_id = '{ids[3]}'",
                f"DELETE FROM edges WHERE source_id = '{ids[4]}'")
    now = assert_exact(store_url)
    assert (ada, "authored_by", "in") not in stored(store_url)  # a count that reaches 0 is no row
    assert now[("category:cs-cl", "in_category", "in")] == 1 and now[(lg, "in_category", "in")] == 4
    execute(store_url, "DELETE FROM edges")
    assert stored(store_url) == {}


def test_bulk_load_counts_its_edges_and_adds_to_stored_counts(store_url):
    g = Graph(store_url)
    ids, lg, ada = papers(g, 40)
    g.link(ids[0], "in_category", lg)  # counted by the trigger, then added to by the bulk load
    g.bulk_load(edges=[(p, "in_category", lg) for p in ids[1:]] + [(p, "authored_by", ada) for p in ids[::2]])
    g.bulk_load(edges=[(p, "in_category", "category:cs-cl") for p in ids[::3]] + [(ids[1], "authored_by", ada)])
    now = assert_exact(store_url)
    assert now[(lg, "in_category", "in")] == 40 and now[(ada, "authored_by", "in")] == 21
    g.link(ids[1], "listed_similar", ids[2])  # the insert trigger is back after a bulk load
    assert_exact(store_url)
    if g.store.dialect == "sqlite":
        with get_engine(store_url).connect() as conn:
            triggers = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                             "AND name LIKE 'edge_counts%'")).scalars())
        assert triggers == {"edge_counts_ai", "edge_counts_ad", "edge_counts_au"}


def test_bulk_loaded_edges_read_back_as_written(store_url):
    """The bulk path writes edges its own way on each store (executemany on SQLite, COPY on PostgreSQL):
    attrs with characters COPY escapes, provenance and time come back as given."""
    g = Graph(store_url)
    ids, lg, _ = papers(g, 2)
    attrs = TRICKY
    g.bulk_load(edges=[(ids[0], "in_category", lg, attrs), (ids[1], "in_category", lg)],
                provenance={"document": "d\t1"})
    with g.store.read() as tx:
        edges = {e.source_id: e for e in tx.list_edges()}
        made = {n["id"]: n["created_at"] for n in tx.table_rows("nodes")}
        stamps = [(e["created_at"], made[e["source_id"]]) for e in tx.table_rows("edges")]

    def utc(d: datetime) -> datetime:
        return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d.astimezone(timezone.utc)

    assert edges[ids[0]].attrs == attrs and edges[ids[1]].attrs == {}
    assert edges[ids[0]].source == {"document": "d\t1"}
    assert all(abs((utc(e) - utc(n)).total_seconds()) < 60 for e, n in stamps)  # UTC, as the nodes' stamps


def test_bulk_load_refused_midway_leaves_counts_and_trigger_as_they_were(tmp_path):
    url = str(tmp_path / "r.db")
    g = Graph(url)
    ids, lg, _ = papers(g)
    g.bulk_load(edges=[(ids[0], "in_category", lg)])
    before = assert_exact(url)
    with pytest.raises(ValueError):
        g.bulk_load(edges=[(ids[1], "in_category", lg), (ids[2], "in_category", "category:missing")])
    assert stored(url) == before
    g.link(ids[3], "in_category", lg)
    assert assert_exact(url)[(lg, "in_category", "in")] == 2


def test_import_and_restore_keep_counts_exact(store_url, tmp_path):
    src = Graph(str(tmp_path / "src.db"))
    ids, lg, ada = papers(src)
    src.bulk_load(edges=[(p, "in_category", lg) for p in ids] + [(p, "authored_by", ada) for p in ids[:2]])
    src.link(ids[0], "listed_similar", ids[1], TRICKY)  # restore on PostgreSQL COPYs edges: escapes matter
    doc = src.export_json()
    backup(src, tmp_path / "b.json")
    expected = counted(str(tmp_path / "src.db"))

    g = Graph(store_url)
    restore(g, tmp_path / "b.json")
    assert assert_exact(store_url) == expected
    assert integrity.check(g) == []

    other = str(tmp_path / "imported.db")
    Graph(other).import_json(doc)
    assert assert_exact(other) == expected


def test_check_reports_drifted_counts_and_rebuild_makes_them_exact(store_url):
    g = Graph(store_url)
    ids, lg, ada = papers(g)
    g.bulk_load(edges=[(p, "in_category", lg) for p in ids] + [(ids[0], "authored_by", ada)])
    raw_sql(store_url, f"UPDATE edge_counts SET n = n + 1 WHERE node_id = '{lg}'",
            f"DELETE FROM edge_counts WHERE node_id = '{ada}'",
            "INSERT INTO edge_counts (node_id, type, direction, n) VALUES ('paper:gone', 'cites', 'out', 3)")
    problems = [p for p in integrity.check(g) if p.kind == "edge_count"]
    assert [p.subject for p in problems] == [f"node {ada}", f"node {lg}", "node paper:gone"]
    assert "stores 7 in in_category edge(s), and has 6" in problems[1].message
    assert integrity.rebuild_edge_counts(g) == len(counted(store_url))
    assert_exact(store_url)
    assert integrity.check(g) == []


def test_findings_check_rebuild_counts(store_url):
    from typer.testing import CliRunner

    from app.cli import app
    from app.commands.reliability import register

    register(app)

    def cli(*args: str):
        return CliRunner().invoke(app, ["--db", store_url, *args])

    g = Graph(store_url)
    ids, lg, _ = papers(g)
    g.bulk_load(edges=[(p, "in_category", lg) for p in ids])
    raw_sql(store_url, "DELETE FROM edge_counts")
    assert cli("check").exit_code == 1
    result = cli("check", "--rebuild-counts")
    assert result.exit_code == 0, result.output
    assert "rebuilt the stored edge counts: 7 groups" in result.output
    assert_exact(store_url)


def test_migration_counts_existing_edges_and_downgrades_and_upgrades_again(store_url):
    engine = get_engine(store_url)
    migrate(engine, "0009")
    nodes = [("category:cs-lg", "category"), ("author:ada", "author")] + [(f"paper:p{i}", "paper") for i in range(5)]
    node_sql = ("INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, created_at, "
                "updated_at) VALUES ('{0}', '{1}', '{0}', '{0}', '', 'active', '{{}}', '{{}}', '2025-01-01 00:00:00', "
                "'2025-01-01 00:00:00')")
    edge_sql = ("INSERT INTO edges (source_id, target_id, type, attrs, source, created_at) "
                "VALUES ('{0}', '{2}', '{1}', '{{}}', '{{}}', '2025-01-01 00:00:00')")
    edges = [(f"paper:p{i}", "in_category", "category:cs-lg") for i in range(5)] + [("paper:p0", "authored_by",
                                                                                     "author:ada")]
    raw_sql(store_url, *[node_sql.format(*n) for n in nodes], *[edge_sql.format(*e) for e in edges])
    migrate(engine)
    assert current_revision(engine) == HEAD_REVISION
    assert assert_exact(store_url)[("category:cs-lg", "in_category", "in")] == 5

    from alembic import command
    from alembic.config import Config

    from db.engine import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    with engine.connect() as conn:
        assert "edge_counts" not in set(conn.dialect.get_table_names(conn))
    # with the table gone, nothing is left to fire: an edge goes in as before 0010
    raw_sql(store_url, edge_sql.format("paper:p1", "authored_by", "author:ada"))
    migrate(engine)
    assert assert_exact(store_url)[("author:ada", "authored_by", "in")] == 2
    g = Graph(store_url)
    g.link("paper:p2", "authored_by", "author:ada")
    execute(store_url, "DELETE FROM edges WHERE type = 'authored_by' AND source_id = 'paper:p0'")
    assert assert_exact(store_url)[("author:ada", "authored_by", "in")] == 2
