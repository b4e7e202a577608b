"""A read-only store: its connection itself cannot write (SQLite ``mode=ro``, PostgreSQL
``default_transaction_read_only``), writes through the graph are refused with one sentence, reads work."""
from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import app
from db.engine import migrate
from db.records import Node
from db.sqlite_read import open_reader
from graph import curation
from graph.api import Graph
from tests.conftest import SEED_FINDING

INSERT = text("INSERT INTO writes (at, author, action, subject, details) "
              "VALUES (CURRENT_TIMESTAMP, 'mallory', 'node.add', 'claim:sneaky', '{}')")


def _refused(exc: BaseException) -> bool:
    message = str(getattr(exc, "orig", exc)).lower()
    return "readonly database" in message or "read-only transaction" in message


def test_the_read_only_connection_itself_refuses_writes(store_url):
    writer = Graph(store_url)
    claim = writer.add_node({"kind": "claim", "title": "Interventions diverge"})
    ro = Graph(store_url, read_only=True)
    assert ro.store.read_only and ro.get(claim).title == "Interventions diverge"  # reads work
    # past the store's own refusal, straight on its connections: the database says no
    with ro.store.engine.connect() as conn:
        with pytest.raises(sa_exc.DBAPIError) as raised:
            conn.execute(INSERT)
        assert _refused(raised.value), raised.value
    with pytest.raises(sa_exc.DBAPIError) as raised:
        with ro.store.read() as tx:  # a write attempted inside a read snapshot
            tx.insert_node(Node(id="claim:sneaky", kind="claim", title="sneaky"), "sneaky")
    assert _refused(raised.value), raised.value
    if writer.store.dialect == "postgresql":  # nor can a session start a read-write transaction by default
        with ro.store.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW default_transaction_read_only").scalar() == "on"
    assert writer.log()[0].id == claim and len(writer.log()) == 1  # nothing was written
    assert writer.show(claim)["edges"] == []


def test_graph_writes_on_a_read_only_store_are_refused_in_one_sentence(store_url):
    writer = Graph(store_url)
    a = writer.add_node({"kind": "claim", "title": "first"})
    b = writer.add_node({"kind": "claim", "title": "second"})
    ro = Graph(store_url, read_only=True)
    for attempt in (lambda: ro.add_node({"kind": "claim", "title": "third"}),
                    lambda: ro.link(a, "associated_with", b),
                    lambda: curation.dismiss(ro, a, b, score=0.7)):
        with pytest.raises(ValueError, match="open read-only"):
            attempt()
    assert [n.id for n in writer.nodes()] == sorted([a, b]) and curation.decisions(writer) == []


def test_a_read_only_store_never_creates_or_migrates(tmp_path):
    with pytest.raises(ValueError, match="no database at"):
        Graph(str(tmp_path / "missing.db"), read_only=True)
    assert not (tmp_path / "missing.db").exists()
    from db.engine import get_engine, resolve_url

    old = tmp_path / "old.db"
    migrate(get_engine(resolve_url(str(old))), "0007")
    with pytest.raises(ValueError, match="revision 0007.*findings init"):
        Graph(str(old), read_only=True)


def test_cli_read_only_reads_and_refuses_writes(seeded_db, monkeypatch):
    runner = CliRunner()
    before = json.loads(runner.invoke(app, ["stats", "--json"]).stdout)
    shown = runner.invoke(app, ["--read-only", "show", SEED_FINDING, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == SEED_FINDING
    assert runner.invoke(app, ["--read-only", "search", "CL loss"]).exit_code == 0
    assert runner.invoke(app, ["--read-only", "log", "--limit", "1"]).exit_code == 0
    for args, env in ((["--read-only", "add", "claim", "--title", "x"], {}),
                      (["link", SEED_FINDING, "associated_with", SEED_FINDING], {"FINDINGS_READ_ONLY": "1"})):
        result = runner.invoke(app, args, env=env)
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.startswith("error: the database is open read-only"), result.stderr
    monkeypatch.setenv("FINDINGS_READ_ONLY", "1")
    ok = runner.invoke(app, ["--read-write", "add", "claim", "--title", "allowed"])  # the flag beats the env
    assert ok.exit_code == 0, ok.output
    monkeypatch.setenv("FINDINGS_READ_ONLY", "maybe")
    bad = runner.invoke(app, ["stats"])
    assert bad.exit_code == 1 and "FINDINGS_READ_ONLY must be" in bad.stderr
    monkeypatch.delenv("FINDINGS_READ_ONLY")
    after = json.loads(runner.invoke(app, ["stats", "--json"]).stdout)
    assert after["nodes"]["claim"] == before["nodes"]["claim"] + 1


def test_the_quick_read_path_opens_read_only_too(seeded_db):
    with open_reader(str(seeded_db), read_only=True) as reader:
        assert reader.show(SEED_FINDING)["id"] == SEED_FINDING
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
            reader.conn.execute("DELETE FROM writes")


def test_app_read_only_refuses_a_missing_database_in_one_line(tmp_path):
    missing = tmp_path / "none.db"
    result = CliRunner().invoke(app, ["--db", str(missing), "app", "--read-only", "--port", "8599"])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("error: no database at") and result.stderr.count("\n") == 1
    assert not missing.exists()  # neither created nor seeded


def test_read_only_similarity_uses_stored_vectors_and_embeds_nothing(seeded_db):
    from graph import similarity
    from graph.embeddings import resolve_model

    ro = Graph(str(seeded_db), read_only=True)  # the seeded template has no vectors
    with pytest.raises(ValueError, match="no stored embedding yet, and the database is open read-only"):
        similarity.similar(ro, SEED_FINDING)
    with ro.store.read() as tx:
        assert tx.embedding_stamp(resolve_model(None)[0])[0] == 0
