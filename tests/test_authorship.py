"""Who did what: every write appends a write-log entry (its user and time) in its own transaction;
``findings log`` lists them; ``show`` names who added a node; migration 0008 keeps old rows, author unknown."""
from __future__ import annotations

import getpass
import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.commands.history import parse_since
from db.engine import HEAD_REVISION, current_revision, get_engine, migrate
from graph import curation, runs
from graph.api import Graph
from tests.test_reliability import raw_sql

runner = CliRunner()


def cli(*args: str, env: dict | None = None, ok: bool = True):
    result = runner.invoke(app, list(args), env=env)
    if ok:
        assert result.exit_code == 0, result.output + (result.stderr or "")
    return result


def log(*args: str, env: dict | None = None) -> list[dict]:
    return json.loads(cli("log", "--json", *args, env=env).stdout)


def test_cli_writes_name_their_author_and_log_lists_them():
    claim = cli("--user", "alice", "add", "claim", "--title", "Sparse probes mislead").stdout.strip()
    finding = cli("add", "finding", "--title", "A probe result", "--metric", "IIA", "--value", "0.9",
                  env={"FINDINGS_USER": "bob"}).stdout.strip()
    cli("link", finding, "supports", claim, env={"FINDINGS_USER": None})  # the OS user
    entries = log()
    assert [(e["user"], e["action"], e["id"]) for e in entries] == [
        (getpass.getuser(), "edge.add", "edge:1"),
        ("bob", "measurement.add", "measurement:1"),
        ("bob", "node.add", finding),
        ("alice", "node.add", claim),
    ]
    assert all(set(e) == {"at", "user", "action", "id", "node", "details", "seq"} for e in entries)
    assert entries[0]["details"] == {"source": finding, "type": "supports", "target": claim}
    assert entries[0]["node"] == finding and entries[1]["details"]["metric"] == "IIA"
    assert [e["seq"] for e in entries] == [4, 3, 2, 1]  # newest first
    at = datetime.fromisoformat(entries[0]["at"])
    assert at.tzinfo is not None and abs(datetime.now(timezone.utc) - at) < timedelta(minutes=5)
    # filters
    assert [e["id"] for e in log("--user", "alice")] == [claim]
    assert [e["action"] for e in log("--node", finding)] == ["edge.add", "measurement.add", "node.add"]
    assert len(log("--limit", "2")) == 2
    assert log("--since", (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()) == []
    assert len(log("--since", "1h")) == 4
    # show (both read paths) names who added the node and when
    shown = json.loads(cli("show", claim, "--json").stdout)
    assert shown["added"]["user"] == "alice" and shown["added"]["at"] == entries[-1]["at"]
    assert Graph().show(claim)["added"] == shown["added"]  # the full path gives the same
    assert "added: " in cli("show", claim).stdout and "by alice" in cli("show", claim).stdout
    text = cli("log", "--user", "bob").stdout.splitlines()
    assert len(text) == 2 and "bob  node.add  " + finding in text[1]


def test_a_refused_write_leaves_no_entry_and_bad_options_are_one_line():
    cli("--user", "alice", "add", "claim", "--title", "kept")
    before = log()
    bad = cli("--user", "alice", "add", "claim", "--title", "not kept", "--paper", "paper:missing", ok=False)
    assert bad.exit_code == 1
    assert log() == before  # the node was rolled back, and its entry with it
    for args in (["log", "--since", "soon"], ["--user", "  ", "add", "claim", "--title", "x"]):
        result = cli(*args, ok=False)
        assert result.exit_code == 1 and result.stderr.startswith("error: ") and result.stdout == ""
    assert log() == before


def test_parse_since_reads_dates_times_and_ages():
    now = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
    assert parse_since("2h", now) == datetime(2026, 1, 10, 10, 0, tzinfo=timezone.utc)
    assert parse_since("7d", now) == datetime(2026, 1, 3, 12, 0, tzinfo=timezone.utc)
    assert parse_since("2026-01-09") == datetime(2026, 1, 9, tzinfo=timezone.utc)
    assert parse_since("2026-01-09T08:00+02:00") == datetime(2026, 1, 9, 6, 0, tzinfo=timezone.utc)
    assert parse_since("2026-01-09T08:00:00Z") == datetime(2026, 1, 9, 8, 0, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="--since"):
        parse_since("tuesday")


def test_curation_and_runs_are_logged_with_their_user(store_url):
    from db.records import Measurement

    g = Graph(store_url, user="carol")
    keep = g.add_node({"kind": "claim", "title": "Interventions diverge"})
    dup = g.add_node({"kind": "claim", "title": "Interventions diverge from natives"})
    paper = g.add_node({"kind": "paper", "title": "A paper"})
    g.link(dup, "extracted_from", paper)
    seq = max(e.seq for e in g.log())
    curation.merge(g, keep, dup, score=0.95)
    merged = [e for e in g.log() if e.seq > seq]
    assert {e.user for e in merged} == {"carol"}
    assert {e.action for e in merged} == {"edge.move", "edge.add", "node.update", "curation.merged"}
    (decision,) = curation.decisions(g, keep)
    assert decision["actor"] == "carol"
    assert next(e for e in merged if e.action == "node.update").details == {"fields": ["status"], "status": "merged"}
    seq = max(e.seq for e in g.log())
    curation.unmerge(Graph(store_url, user="dan"), dup)
    assert {(e.user, e.action) for e in g.log() if e.seq > seq} == {
        ("dan", "edge.delete"), ("dan", "edge.move"), ("dan", "node.update"), ("dan", "curation.unmerged")}

    h = Graph(store_url, user="erin")
    run_id = runs.start_run(h, "a run", {"config": {"x": 1}})
    seq = max(e.seq for e in g.log())
    assert runs.heartbeat(h, [run_id]) == [run_id] and h.get(run_id).attrs["heartbeat_at"]
    assert [e for e in g.log() if e.seq > seq] == []  # a heartbeat is liveness, not a write in the log
    m = Measurement(metric="IIA", value=0.9, err=0.01, err_kind="sem", n=3, measure="iia_argmax")
    report = runs.finish_run(h, run_id, [runs.Result(title="IIA of the run", description="", measurement=m)])
    entries = g.log(user="erin", limit=100)
    assert {e.user for e in entries} == {"erin"}
    assert [e.details.get("run_status") for e in entries if e.id == run_id and e.action == "node.update"] == [
        "finished"]
    assert (report["findings"][0], "node.add") in {(e.id, e.action) for e in entries}
    assert g.show(run_id)["added"]["user"] == "erin"


def test_bulk_load_logs_each_node_and_one_entry_for_the_load():
    g = Graph(user="frank")
    report = g.bulk_load([{"kind": "claim", "title": f"claim {i}"} for i in range(3)],
                         [("claim:claim-0", "associated_with", "claim:claim-1")])
    entries = g.log()
    assert entries[0].action == "bulk.load" and entries[0].details["nodes"] == 3 and entries[0].details["edges"] == 1
    assert sorted(e.id for e in entries if e.action == "node.add") == sorted(report.node_ids)
    assert {e.user for e in entries} == {"frank"}
    assert g.show("claim:claim-2")["added"]["user"] == "frank"


def test_migration_0008_keeps_old_rows_with_author_unknown(store_url):
    engine = get_engine(store_url)
    migrate(engine, "0001")
    ts = "'2025-01-01 00:00:00'"
    raw_sql(store_url,
            "INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, created_at, "
            f"updated_at) VALUES ('claim:x', 'claim', 'Old claim', 'old claim', '', 'active', '{{}}', '{{}}', {ts}, "
            f"{ts})",
            "INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, created_at, "
            f"updated_at) VALUES ('finding:y', 'finding', 'Old finding', 'old finding', '', 'active', '{{}}', "
            f"'{{\"user\": \"someone\"}}', {ts}, {ts})",
            f"INSERT INTO edges (source_id, target_id, type, attrs, source, created_at) VALUES "
            f"('finding:y', 'claim:x', 'supports', '{{}}', '{{}}', {ts})",
            "INSERT INTO measurements (node_id, metric, value, err, conditions) VALUES "
            "('finding:y', 'IIA', 0.5, 0.1, '{}')")
    g = Graph(store_url, user="grace")  # opening upgrades to head
    assert current_revision(engine) == HEAD_REVISION
    old = g.show("finding:y")
    assert old["added"] == {"user": None, "at": "2025-01-01T00:00:00+00:00"}  # unknown author, its own time
    assert old["source"] == {"user": "someone"} and old["measurements"][0]["value"] == 0.5
    assert [e["node"]["id"] for e in old["edges"]] == ["claim:x"]
    assert g.log() == []  # nothing invented for old rows
    g.link("finding:y", "associated_with", "claim:x")
    assert [(e.user, e.action) for e in g.log()] == [("grace", "edge.add")]
