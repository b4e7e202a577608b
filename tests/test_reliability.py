"""Reliability of the shared store, on SQLite and on a real PostgreSQL server.

- the store's behaviour on both backends: CRUD, vocabulary refusals that change nothing, keyword search
  ranking, export/import, migrations from the first revision with data intact;
- concurrent writers (4 processes × 250 findings), slug collisions between processes;
- a writer SIGKILLed in the middle of a transaction: nothing committed is lost, nothing partial is left;
- fuzzing of every document parser and of the JSON import: only ValueError escapes, and a rejected input
  leaves the store byte-for-byte as it was;
- backup/restore reproduces the store exactly; ``findings check`` finds each kind of problem.

Sizes: ``FINDINGS_TEST_WRITERS`` × ``FINDINGS_TEST_PER_WRITER`` (default 4 × 250), ``FINDINGS_TEST_KILLS``
(kill rounds per backend, default 3), ``HYPOTHESIS_PROFILE=bench`` (2,000 fuzz cases per test; default a
few dozen). With ``FINDINGS_RELIABILITY_STATS=FILE`` each test appends its figures to FILE (JSON lines);
``bench/fuzz.py`` uses that.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sa_text

from db.engine import HEAD_REVISION, current_revision, get_engine, migrate
from db.retry import RetryStats, retry_reason, run_with_retry
from graph import backup, core, integrity
from graph.api import Graph
from graph.parsers import FORMATS
from tests.pg import is_postgres, wait_for

ROOT = Path(__file__).resolve().parent.parent
WRITERS = int(os.environ.get("FINDINGS_TEST_WRITERS", "4"))
PER_WRITER = int(os.environ.get("FINDINGS_TEST_PER_WRITER", "250"))
KILL_ROUNDS = int(os.environ.get("FINDINGS_TEST_KILLS", "3"))
BENCH = os.environ.get("HYPOTHESIS_PROFILE") == "bench"

_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
          HealthCheck.filter_too_much]
settings.register_profile("reliability-ci", max_examples=int(os.environ.get("FINDINGS_FUZZ_EXAMPLES", "25")),
                          deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET)
settings.register_profile("reliability-bench", max_examples=2000, deadline=None, database=None,
                          suppress_health_check=_QUIET)
FUZZ = settings(settings.get_profile("reliability-bench" if BENCH else "reliability-ci"))


def record(test: str, **figures) -> None:
    path = os.environ.get("FINDINGS_RELIABILITY_STATS")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"test": test, **figures}) + "\n")


def raw_sql(url: str, *statements: str) -> None:
    """Test-only: write SQL straight into the store, foreign keys off, to make integrity problems."""
    engine = get_engine(url)
    if engine.dialect.name == "sqlite":
        conn = engine.raw_connection()
        try:
            db = conn.driver_connection
            db.execute("PRAGMA foreign_keys=OFF")
            db.execute("BEGIN IMMEDIATE")
            for s in statements:
                db.execute(s)
            db.execute("COMMIT")
            db.execute("PRAGMA foreign_keys=ON")
        finally:
            conn.close()
    else:
        with engine.begin() as c:
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")  # skips FK triggers
            for s in statements:
                c.exec_driver_sql(s)


@pytest.fixture
def other_url(store_url, request, tmp_path):
    """A second empty store on the same backend as ``store_url``."""
    if is_postgres(store_url):
        return request.getfixturevalue("pg_db_url_2")
    return f"sqlite:///{tmp_path / 'other.db'}"


@pytest.fixture
def pg_db_url_2(pg_server):
    name = pg_server.create_database()
    url = pg_server.url(name)
    yield url
    get_engine(url).dispose()
    pg_server.drop_database(name)


@pytest.fixture
def cli(store_url):
    """Invoke ``findings`` (with the reliability commands registered) against ``store_url``."""
    from typer.testing import CliRunner

    from app.cli import app
    from app.commands.reliability import register

    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--db", store_url, *args])


def small_graph(url: str) -> Graph:
    g = Graph(url)
    with g.store.transaction() as tx:
        core.create_node(tx, {"kind": "paper", "title": "Divergent representations"}, node_id="paper:p")
        core.create_node(tx, {"kind": "claim", "title": "Interventions diverge"}, node_id="claim:c")
        core.create_node(tx, {"kind": "finding", "title": "IIA of 0.997±0.001"}, node_id="finding:f")
        core.add_edge(tx, "finding:f", "supports", "claim:c")
        core.add_edge(tx, "finding:f", "extracted_from", "paper:p")
    return g


# ---- the store on both backends ------------------------------------------------------------------
def test_node_and_edge_crud(store_url):
    g = Graph(store_url)
    a = g.add_node({"kind": "claim", "title": "DAS finds the variable"})
    b = g.add_node({"kind": "claim", "title": "DAS finds the variable!"})
    f = g.add_node({"kind": "finding", "title": "CL keeps IIA at 0.9988±0.0005", "description": "og_holdouts"})
    assert a == "claim:das-finds-the-variable" and b.startswith(a + "-") and a != b
    assert g.link(f, "supports", a) is True
    assert g.link(f, "supports", a) is False  # an existing edge is kept, not doubled
    shown = g.show(f)
    assert shown["measurements"][0]["value"] == pytest.approx(0.9988)
    assert [(e["type"], e["direction"], e["node"]["id"]) for e in shown["edges"]] == [("supports", "out", a)]
    assert g.stats() == {"nodes": {"claim": 2, "finding": 1}, "edges": {"supports": 1}}
    with g.store.transaction() as tx:
        tx.update_node(a, description="updated")
    assert g.get(a).description == "updated"
    assert integrity.check(g) == []


def test_embeddings_upsert_in_one_statement_replaces_and_keeps(store_url):
    """``findings embed`` stores a chunk with one INSERT ... ON CONFLICT: a new row is added, a node's earlier
    vector of the same model is replaced (hash, vector, dim, time), another model's and other nodes' are kept."""
    g = small_graph(store_url)
    with g.store.transaction() as tx:
        assert tx.upsert_embeddings("m", [("paper:p", b"\x00" * 8, "h1"), ("claim:c", b"\x01" * 8, "h2")]) == 2
        tx.upsert_embedding("paper:p", "other", "h9", b"\x09" * 4, 1)
        assert tx.upsert_embeddings("m", []) == 0
    with g.store.read() as tx:
        first = {i: (v, h) for i, v, h in tx.embeddings("m")}
        stamp = tx.embedding_stamp("m")
    time.sleep(0.01)
    with g.store.transaction() as tx:
        tx.upsert_embeddings("m", [("paper:p", b"\x02" * 12, "h3"), ("finding:f", b"\x03" * 4, "h4")])
    with g.store.read() as tx:
        rows = {i: (v, h) for i, v, h in tx.embeddings("m")}
        assert [r[0] for r in tx.embeddings_since("m", stamp[1])] and tx.embedding_stamp("m")[0] == 3
        changed = {r[0] for r in tx.embeddings_since("m", tx.embedding_stamp("m")[1])}
        assert tx.embeddings("other") == [("paper:p", b"\x09" * 4, "h9")]
    assert rows == {"paper:p": (b"\x02" * 12, "h3"), "claim:c": first["claim:c"], "finding:f": (b"\x03" * 4, "h4")}
    assert changed == {"paper:p", "finding:f"}
    with g.store.read() as tx:
        dims = dict(tx.s.execute(sa_text("SELECT node_id, dim FROM embeddings WHERE model = 'm'")).all())
    assert dims == {"paper:p": 3, "claim:c": 2, "finding:f": 1}
    with pytest.raises(ValueError, match="dim 5 takes 20 bytes, not 8"):
        with g.store.transaction() as tx:
            tx.upsert_embedding("claim:c", "m", "h5", b"\x00" * 8, 5)


@pytest.mark.parametrize("edge, message", [
    (("claim:c", "supports", "finding:f"), "supports goes from finding to claim"),
    (("finding:f", "no_such_type", "claim:c"), "unknown edge type"),
    (("finding:f", "supports", "claim:missing"), "no node with id 'claim:missing'"),
    (("finding:f", "duplicate_of", "claim:c"), "same kind"),
    (("finding:f", "replicates", "finding:f"), "itself"),
])
def test_vocabulary_refusal_leaves_the_store_unchanged(store_url, edge, message):
    g = small_graph(store_url)
    before = backup.fingerprint(g)
    with pytest.raises(ValueError, match=message):
        g.link(*edge)
    with pytest.raises(ValueError):  # a bad node in the middle of a multi-node write: nothing of it stays
        g.import_json({"nodes": [{"id": "claim:ok", "kind": "claim", "title": "fine"},
                                 {"id": "claim:bad", "kind": "claim", "title": ""}], "edges": []})
    assert backup.fingerprint(g) == before


def test_keyword_search_ranks_title_above_description(store_url):
    g = Graph(store_url)
    title = g.add_node({"kind": "claim", "title": "Sparse probes mislead"})
    desc = g.add_node({"kind": "finding", "title": "Another result",
                       "description": "We trained sparse probes on the residual stream."})
    g.add_node({"kind": "claim", "title": "Unrelated words entirely"})
    hits = g.search("sparse probes")
    assert [n.id for n, _ in hits] == [title, desc]
    assert hits[0][1] > hits[1][1] > 0
    assert [n.id for n, _ in g.search("probe")] == [title, desc]  # stemmed
    assert [n.id for n, _ in g.search("probes", kind="finding")] == [desc]
    assert [n.id for n, _ in g.search("probes unicorn")] == [title, desc]  # no node has both: any word
    assert g.search("zebra") == [] and g.search("!!!") == []


def test_fuzz_keyword_search(store_url):
    g = small_graph(store_url)
    g.add_node({"kind": "finding", "title": "The naïve og_holdouts probe: IIA 0.997", "description": "don't stop"})

    @FUZZ
    @given(query=st.one_of(st.text(max_size=40), st.sampled_from(["the", "og_holdouts", "a|b & !c", "probe*",
                                                                  "'x'", "\\", "naïve", "(", "-x"])))
    def run(query):
        hits = g.search(query, limit=5)
        assert all(score == score for _, score in hits) and len(hits) <= 5

    run()


def test_export_import_round_trip(store_url, other_url):
    from seeds import load_seeds

    g = Graph(store_url)
    load_seeds(g)
    data = g.export_json()
    h = Graph(other_url)
    assert h.import_json(json.loads(json.dumps(data))) == (len(data["nodes"]), len(data["edges"]))
    assert h.export_json() == data
    assert integrity.check(h) == []


def test_first_revision_upgrades_to_head_with_data_intact(store_url):
    engine = get_engine(store_url)
    migrate(engine, "0001")
    assert current_revision(engine) == "0001"
    raw_sql(store_url,
            "INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, created_at, "
            "updated_at) VALUES ('claim:x', 'claim', 'Sparse probes mislead', 'sparse probes mislead', '', "
            "'active', '{\"k\": 1}', '{}', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            "INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, created_at, "
            "updated_at) VALUES ('finding:y', 'finding', 'IIA holds', 'iia holds', 'probes again', "
            "'active', '{}', '{}', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            "INSERT INTO edges (source_id, target_id, type, attrs, source, created_at) VALUES "
            "('finding:y', 'claim:x', 'supports', '{}', '{}', '2025-01-01 00:00:00')",
            "INSERT INTO measurements (node_id, metric, value, err, conditions) VALUES "
            "('finding:y', 'iia', 0.997, 0.001, '{}')")
    g = Graph(store_url)  # opening upgrades to head
    assert current_revision(engine) == HEAD_REVISION
    assert g.get("claim:x").attrs == {"k": 1}
    assert [(m["metric"], m["value"], m["err"]) for m in g.show("finding:y")["measurements"]] == [("iia", 0.997, 0.001)]
    assert g.show("finding:y")["edges"][0]["node"]["id"] == "claim:x"
    assert [n.id for n, _ in g.search("probes")] == ["claim:x", "finding:y"]  # index built from old rows
    assert integrity.check(g) == []
    assert g.add_node({"kind": "claim", "title": "new after upgrade"}) == "claim:new-after-upgrade"


# ---- retries ---------------------------------------------------------------------------------------
def test_a_locked_sqlite_database_is_retried_until_free(tmp_path):
    path = tmp_path / "locked.db"
    Graph(str(path))
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    calls = []

    def attempt():  # a writer without a busy timeout: fails at once while the lock is held
        calls.append(1)
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("COMMIT")
        finally:
            conn.close()
        return len(calls)

    assert run_with_retry(attempt) > 1
    holder.close()
    with pytest.raises(ValueError):  # anything else is not retried
        run_with_retry(lambda: calls.append(1) or int("x"))
    assert retry_reason(ValueError("database is locked")) is None


def test_postgres_serialization_failure_is_retried(pg_db_url):
    """Two writers update one row: B waits for A, then fails to serialize, and its retry applies on top."""
    g = small_graph(pg_db_url)
    before = RetryStats.retries
    with g.store.engine.connect() as conn:  # transaction A holds an update of the row
        conn.exec_driver_sql("UPDATE nodes SET title = 'changed by A' WHERE id = 'claim:c'")
        result = {}
        t = threading.Thread(target=lambda: result.setdefault(
            "b", g.store.run_in_transaction(lambda tx: tx.update_node("claim:c", description="changed by B"))))
        t.start()
        time.sleep(0.4)  # B now waits on A's row lock
        conn.commit()
    t.join(30)
    assert "b" in result
    node = g.get("claim:c")
    assert (node.title, node.description) == ("changed by A", "changed by B")  # neither update lost
    assert RetryStats.retries > before


def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path):
    g = small_graph(str(tmp_path / "busy.db"))
    holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is in the middle of a write
    holder.execute("UPDATE nodes SET title = 'uncommitted' WHERE id = 'claim:c'")
    t0 = time.monotonic()
    assert g.get("claim:c").title == "Interventions diverge"  # the last committed state, at once
    assert g.stats()["nodes"] == {"claim": 1, "finding": 1, "paper": 1}
    assert time.monotonic() - t0 < 5
    holder.execute("ROLLBACK")
    holder.close()


def test_postgres_isolation_levels(pg_db_url):
    from sqlalchemy import text

    g = Graph(pg_db_url)
    level = "SELECT current_setting('transaction_isolation')"
    assert g.store.run_in_transaction(lambda tx: tx.s.execute(text(level)).scalar()) == "serializable"
    with g.store.transaction() as tx:
        assert tx.s.execute(text(level)).scalar() == "serializable"
    with g.store.read() as tx:
        assert tx.s.execute(text(level)).scalar() == "repeatable read"


# ---- concurrent writers ------------------------------------------------------------------------------
def _writer(url: str, writer: int, count: int, title: str, start, out) -> None:
    try:
        from db.retry import RetryStats
        from graph.api import Graph

        g = Graph(url)
        start.wait(60)
        ids = [g.add_node({"kind": "finding", "title": title.format(w=writer, i=i),
                           "measurements": [{"metric": "iia", "value": i / 1000, "n": writer + 1}]})
               for i in range(count)]
        out.put((writer, ids, RetryStats.retries, dict(RetryStats.by_reason), None))
    except BaseException as exc:  # report, never hang the parent
        out.put((writer, [], 0, {}, f"{type(exc).__name__}: {exc}"))


def _run_writers(url: str, writers: int, count: int, title: str) -> tuple[list, float]:
    Graph(url)  # schema first
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, w, count, title, start, out)) for w in range(writers)]
    for p in procs:
        p.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    start.set()
    results = [out.get(timeout=300) for _ in procs]
    elapsed = time.monotonic() - t0
    for p in procs:
        p.join(60)
    errors = [r[4] for r in results if r[4]]
    assert errors == [], errors
    assert all(p.exitcode == 0 for p in procs)
    return results, elapsed


def test_concurrent_writers_lose_nothing(store_url):
    results, elapsed = _run_writers(store_url, WRITERS, PER_WRITER, "writer {w} finding {i}")
    g = Graph(store_url)
    ids = [i for r in results for i in r[1]]
    findings = g.nodes(kind="finding")
    assert len(ids) == len(set(ids)) == WRITERS * PER_WRITER
    assert len(findings) == WRITERS * PER_WRITER
    assert {n.id for n in findings} == set(ids)
    with g.store.read() as tx:
        assert sum(len(v) for v in tx.measurements_for().values()) == WRITERS * PER_WRITER
    assert integrity.check(g) == []
    retries = sum(r[2] for r in results)
    record("concurrent_writers", backend=g.store.dialect, writers=WRITERS, per_writer=PER_WRITER,
           written=len(findings), lost=WRITERS * PER_WRITER - len(findings), seconds=round(elapsed, 2),
           retries=retries, reasons=dict(sum((Counter(r[3]) for r in results), Counter())))


def test_concurrent_slug_collisions_keep_every_node(store_url):
    per = 15
    results, _ = _run_writers(store_url, WRITERS, per, "shared finding {i}")
    g = Graph(store_url)
    findings = g.nodes(kind="finding")
    assert len(findings) == WRITERS * per  # the same title from every writer: one node each
    by_title = Counter(n.title for n in findings)
    assert by_title == {f"shared finding {i}": WRITERS for i in range(per)}
    assert len({n.id for n in findings}) == WRITERS * per
    assert all(n.id.startswith(f"finding:shared-finding-{n.title.split()[-1]}") for n in findings)
    record("slug_collisions", backend=g.store.dialect, writers=WRITERS, titles=per, written=len(findings),
           lost=WRITERS * per - len(findings), retries=sum(r[2] for r in results))


# ---- a writer killed mid-transaction ---------------------------------------------------------------
BATCH = 8


def _killable_writer(url: str, log_path: str, first_batch: int) -> None:
    from graph import core
    from graph.api import Graph

    g = Graph(url)
    log = open(log_path, "a", buffering=1, encoding="utf-8")

    def note(line: str) -> None:
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())

    batch = first_batch
    while True:
        def body(tx, b=batch):
            for k in range(BATCH):
                core.create_node(tx, {"kind": "finding", "title": f"batch {b} row {k}", "attrs": {"batch": b},
                                      "measurements": [{"metric": "iia", "value": k / BATCH}]})
                if k == BATCH // 2:
                    note(f"inside {b}")
                    time.sleep(0.3)  # a long transaction: the parent kills us here

        g.store.run_in_transaction(body)
        note(f"committed {batch}")
        batch += 1


def _log(path: Path) -> tuple[set[int], list[int]]:
    committed, inside = set(), []
    for line in path.read_text(encoding="utf-8").splitlines():
        word, _, num = line.partition(" ")
        if num.isdigit():
            (committed.add(int(num)) if word == "committed" else inside.append(int(num)))
    return committed, inside


def test_sigkill_mid_transaction_loses_nothing_committed(store_url, tmp_path, cli):
    g = Graph(store_url)
    ctx = mp.get_context("spawn")
    log_path = tmp_path / "writer.log"
    log_path.touch()
    kills, mid = 0, 0
    rng = random.Random(7)
    for round_ in range(KILL_ROUNDS):
        first = 1000 * (round_ + 1)
        proc = ctx.Process(target=_killable_writer, args=(store_url, str(log_path), first))
        proc.start()
        targeted = round_ % 3 != 2  # two of three kills land inside a transaction for certain
        if targeted:
            def in_flight():
                committed, inside = _log(log_path)
                return len([b for b in committed if b >= first]) >= 2 and inside and inside[-1] not in committed
            assert wait_for(in_flight, timeout=120, interval=0.005), "the writer made no progress"
        else:
            assert wait_for(lambda: len([b for b in _log(log_path)[0] if b >= first]) >= 1, timeout=120)
            time.sleep(rng.uniform(0, 0.3))  # anywhere: inside, between, or while committing
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL
        kills += 1
        committed, inside = _log(log_path)
        rows: dict[int, int] = Counter(n.attrs["batch"] for n in Graph(store_url).nodes(kind="finding"))
        in_flight_batch = max(inside) if inside else None
        if targeted and in_flight_batch not in committed:  # (else the kill came late, after the commit)
            mid += 1
            assert in_flight_batch not in rows  # the interrupted transaction left nothing
            assert set(rows) == committed
        else:  # a kill during COMMIT may land either side of it, but never half-way
            assert committed <= set(rows) <= committed | {in_flight_batch}
        assert all(c == BATCH for c in rows.values()), rows  # no partial batch anywhere
    g = Graph(store_url)
    assert integrity.check(g) == []
    result = cli("check")
    assert result.exit_code == 0, result.output
    new = g.add_node({"kind": "claim", "title": "the store still takes writes"})
    assert new == "claim:the-store-still-takes-writes"
    lost = len(_log(log_path)[0] - set(Counter(n.attrs.get("batch") for n in g.nodes(kind="finding"))))
    assert lost == 0
    record("sigkill", backend=g.store.dialect, kills=kills, mid_transaction=mid,
           committed_batches=len(_log(log_path)[0]), rows=len(g.nodes(kind="finding")), lost=lost)


# ---- fuzzing: only ValueError escapes, and a rejected input changes nothing --------------------------
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("0*.txt"))]
SEED_LINES = sorted({line for t in SEED_TEXTS for line in t.splitlines()})


SEED_OF_FORMAT = dict(zip(FORMATS, SEED_TEXTS))  # seeds 000..003 are one document of each format, in order


def mutate_lines(draw, lines: list[str], pool: list[str]) -> list[str]:
    """Up to four line faults of real files (drops, repeats, cuts, swaps, splices, junk), with lines drawn
    from ``pool`` or random text inserted."""
    for _ in range(draw(st.integers(0, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "drop_run", "dup", "insert", "cut", "swap", "splice", "junk"]))
        if op == "drop":
            del lines[i]
        elif op == "drop_run":
            del lines[i:i + draw(st.integers(1, 12))]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, draw(st.one_of(st.sampled_from(pool), st.text(max_size=60))))
        elif op == "cut":
            lines[i] = lines[i][:draw(st.integers(0, max(0, len(lines[i]))))]
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "splice":
            lines[i] = lines[i] + draw(st.sampled_from(pool))
        else:
            pos = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + draw(st.text(min_size=1, max_size=8)) + lines[i][pos:]
    return lines


@st.composite
def documents(draw, fmt: str = "auto") -> str:
    """Text near the real formats: a seed document (mostly one of ``fmt``) mutated line by line, seed lines
    shuffled among random ones, or plain random text."""
    shape = draw(st.integers(0, 7))
    if shape == 0:
        return draw(st.text(max_size=300))
    if shape == 1:
        parts = st.one_of(st.sampled_from(SEED_LINES), st.text(max_size=80))
        return "\n".join(draw(st.lists(parts, max_size=40)))
    own = SEED_OF_FORMAT.get(fmt)
    base = own if own is not None and shape > 2 else draw(st.sampled_from(SEED_TEXTS))
    lines = mutate_lines(draw, base.splitlines(), SEED_LINES)
    text = "\n".join(lines)
    if draw(st.integers(0, 3)) == 0:
        text = text[:draw(st.integers(0, len(text)))]
    return text


class Outcomes:
    """Per-test tallies; the store's fingerprint after the last accepted input."""

    def __init__(self, g: Graph):
        self.g = g
        self.counts = Counter()
        self.current = backup.fingerprint(g)

    def attempt(self, write) -> None:
        self.counts["tried"] += 1
        try:
            write()
        except ValueError as exc:
            assert str(exc).strip(), "a rejection must say why"
            self.counts["rejected"] += 1
            assert backup.fingerprint(self.g) == self.current, "a rejected input changed the store"
        else:
            self.counts["accepted"] += 1
            self.current = backup.fingerprint(self.g)

    def structural_problems(self) -> list:
        return [p for p in integrity.check(self.g)
                if p.kind in ("dangling_edge", "vocabulary", "orphan_measurement")]


@pytest.mark.parametrize("fmt", ["auto", *FORMATS])
def test_fuzz_parsers_and_ingest(store_url, fmt):
    out = Outcomes(Graph(store_url))

    @FUZZ
    @given(text=documents(fmt))
    def run(text):
        out.attempt(lambda: out.g.ingest_texts([(text, "fuzz.txt")], fmt))

    run()
    assert out.structural_problems() == []
    record("fuzz_ingest", backend=out.g.store.dialect, fmt=fmt, **out.counts)


_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                          st.floats(), st.text(max_size=12))


def _containers(children):
    return st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3))


_json = st.recursive(_json_scalars, _containers, max_leaves=8)
_clean_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6),
              st.floats(allow_nan=False, allow_infinity=False),
              st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)),
    _containers, max_leaves=6)
_title = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)

# One fault at a time, each a way real files go wrong; the rest of the document is valid.
_NODE_FAULTS = {
    "kind": st.text(max_size=6), "title": st.sampled_from(["", " ", "x" * 5000, "a\x00b"]),
    "status": st.text(max_size=5), "description": st.one_of(st.integers(), st.just("d" * 100_001)),
    "attrs": _json, "source": _json, "measurements": st.lists(st.fixed_dictionaries({}, optional={
        "metric": st.one_of(st.just("iia"), st.text(max_size=70)), "value": st.one_of(st.floats(), st.text(max_size=3)),
        "err": st.floats(), "err_kind": st.sampled_from(["std", "sem", "ci95", "var"]),
        "n": st.integers(min_value=-5, max_value=2 ** 65), "split": st.text(max_size=70), "conditions": _json,
        "higher_is_better": st.booleans(), "bogus": _json}), min_size=1, max_size=2),
    "id": st.one_of(st.text(max_size=10), st.just("claim:c"), st.just("x" * 300)), "extra": _json,
}
_EDGE_FAULTS = {"type": st.text(max_size=8), "source": st.sampled_from(["finding:missing", "", "claim:c"]),
                "target": st.sampled_from(["finding:missing", "paper:p", "claim:c"]), "attrs": _json, "extra": _json}


@st.composite
def graph_exports(draw) -> dict:
    """A valid export (new nodes, edges among them and to the stored ones), or that with one fault."""
    token = draw(st.integers(0, 10 ** 9))
    nodes = []
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["finding", "claim", "paper"]))
        node = {"id": f"{kind}:fz-{token}-{i}", "kind": kind, "title": draw(_title)}
        if draw(st.booleans()):
            node["attrs"] = draw(st.dictionaries(st.text(max_size=6), _clean_json, max_size=3))
        if kind == "finding" and draw(st.booleans()):
            node["measurements"] = [{"metric": "iia", "value": draw(st.floats(-1e6, 1e6)),
                                     "err": draw(st.floats(0, 1)), "err_kind": "sem", "n": draw(st.integers(1, 100))}]
        nodes.append(node)
    candidates = [("finding:f", "supports", "claim:c")]
    ids = {n["id"]: n["kind"] for n in nodes}
    for a, ka in ids.items():
        if ka == "finding":
            candidates += [(a, "supports", "claim:c"), (a, "extracted_from", "paper:p"), (a, "replicates", "finding:f")]
            candidates += [(a, "supports", b) for b, kb in ids.items() if kb == "claim"]
    picked = draw(st.lists(st.sampled_from(candidates), max_size=4, unique=True)) if len(candidates) > 1 else []
    edges = [{"source": a, "type": t, "target": b} for a, t, b in picked if (a, t, b) != candidates[0]]
    doc: dict = {"nodes": nodes, "edges": edges}
    fault = draw(st.integers(0, 9))
    if fault < 4 and nodes:
        key = draw(st.sampled_from(sorted(_NODE_FAULTS)))
        draw(st.sampled_from(nodes))[key] = draw(_NODE_FAULTS[key])
    elif fault < 6 and edges:
        key = draw(st.sampled_from(sorted(_EDGE_FAULTS)))
        draw(st.sampled_from(edges))[key] = draw(_EDGE_FAULTS[key])
    elif fault == 6:
        doc["edges"].append(draw(st.sampled_from(edges)) if edges else {"source": "finding:f", "type": "supports",
                                                                         "target": "claim:c"})  # a duplicate
    elif fault == 7:
        doc[draw(st.sampled_from(["decisions", "extra", "nodes", "edges"]))] = draw(_json)
    elif fault == 8 and nodes:
        doc["nodes"].append(dict(draw(st.sampled_from(nodes))))  # the same id twice
    return doc


def test_fuzz_json_import(store_url):
    out = Outcomes(small_graph(store_url))

    @FUZZ
    @given(data=st.one_of(graph_exports(), graph_exports(), graph_exports(), _json))
    def run(data):
        out.attempt(lambda: out.g.import_json(data))

    run()
    assert out.structural_problems() == []
    record("fuzz_import", backend=out.g.store.dialect, **out.counts)


# ---- backup and restore ------------------------------------------------------------------------------
def rich_graph(url: str) -> Graph:
    """The seed graph plus embeddings, curation decisions and a merge: every table has rows."""
    from graph import curation
    from seeds import load_seeds

    g = Graph(url)
    load_seeds(g)
    findings = [n.id for n in g.nodes(kind="finding")]
    with g.store.transaction() as tx:
        for i, node_id in enumerate(findings):
            vec = random.Random(i).randbytes(16)
            tx.upsert_embedding(node_id, "all-MiniLM-L6-v2", f"hash{i}", vec, 4)
    curation.dismiss(g, findings[0], findings[1], actor="tester", score=0.71)
    curation.merge(g, findings[2], findings[3], actor="tester", score=0.93)
    return g


def test_backup_restore_is_exact(store_url, other_url, tmp_path, cli):
    g = rich_graph(store_url)
    assert integrity.check(g) == []
    path = tmp_path / "graph.backup.json.gz"
    result = cli("backup", str(path))
    assert result.exit_code == 0, result.output
    h = Graph(other_url)
    counts = backup.restore(h, path)
    assert min(counts.values()) > 0  # every table took part
    assert backup.fingerprint(h) == backup.fingerprint(g)
    assert h.export_json() == g.export_json()
    # ids continue after the restored ones (PostgreSQL sequences moved past them)
    new = h.add_node({"kind": "claim", "title": "written after restore"})
    assert h.link(h.nodes(kind="finding")[0].id, "supports", new) is True
    # a second restore into the now non-empty store is refused and changes nothing
    before = backup.fingerprint(h)
    with pytest.raises(ValueError, match="empty database"):
        backup.restore(h, path)
    assert backup.fingerprint(h) == before
    before = backup.fingerprint(g)
    for args, message in ((("restore", str(path)), "restore needs an empty database"),
                          (("restore", str(tmp_path / "missing.json")), "no such file"),
                          (("backup", str(tmp_path / "no" / "dir.json")), "no such directory")):
        result = cli(*args)
        assert result.exit_code == 1
        assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1, result.stderr
    assert backup.fingerprint(g) == before


def test_backup_restores_across_backends(store_url, tmp_path, request):
    """SQLite -> PostgreSQL and PostgreSQL -> SQLite give the identical store."""
    g = rich_graph(store_url)
    path = tmp_path / "cross.json"
    backup.backup(g, path)
    if is_postgres(store_url):
        target = f"sqlite:///{tmp_path / 'target.db'}"
    else:
        target = request.getfixturevalue("pg_db_url_2")
    h = Graph(target)
    backup.restore(h, path)
    assert backup.fingerprint(h) == backup.fingerprint(g)


def test_damaged_backups_are_refused(tmp_path, store_url):
    g = small_graph(store_url)
    path = tmp_path / "b.json"
    backup.backup(g, path)
    target = Graph(f"sqlite:///{tmp_path / 'empty.db'}")
    doc = json.loads(path.read_text())
    doc["tables"]["nodes"][0]["title"] = "tampered"
    cases = {
        "checksum": json.dumps(doc),
        "not JSON": path.read_text()[:-20],
        "not a findings backup": json.dumps({"nodes": []}),
    }
    for message, text in cases.items():
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            backup.restore(target, bad)
    gz = tmp_path / "bad.json.gz"
    gz.write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(ValueError, match="gzip"):
        backup.restore(target, gz)
    assert backup.fingerprint(target) == backup.fingerprint(Graph(f"sqlite:///{tmp_path / 'empty2.db'}"))


# ---- findings check ---------------------------------------------------------------------------------
def test_check_finds_each_kind_of_problem(store_url, cli):
    g = small_graph(store_url)
    assert cli("check").exit_code == 0
    ts = "'2025-01-01 00:00:00'"
    steps = [  # edge_count first: on PostgreSQL raw_sql writes with triggers off, so the counts drift after
        ("edge_count", "UPDATE edge_counts SET n = n + 1"),
        ("dangling_edge", f"INSERT INTO edges (source_id, target_id, type, attrs, source, created_at) VALUES "
                          f"('finding:f', 'finding:ghost', 'replicates', '{{}}', '{{}}', {ts})"),
        ("vocabulary", f"INSERT INTO edges (source_id, target_id, type, attrs, source, created_at) VALUES "
                       f"('claim:c', 'finding:f', 'supports', '{{}}', '{{}}', {ts})"),
        ("merged_with_live_edges", "UPDATE nodes SET status = 'merged' WHERE id = 'finding:f'"),
        ("orphan_measurement", "INSERT INTO measurements (node_id, metric, value, conditions) VALUES "
                               "('finding:gone', 'iia', 0.5, '{}')"),
    ]
    seen: set[str] = set()
    for kind, sql in steps:
        raw_sql(store_url, sql)
        kinds = {p.kind for p in integrity.check(g)}
        assert kind in kinds and kinds - seen == {kind}, (kind, kinds)
        seen |= kinds
        result = cli("check", "--json")
        assert result.exit_code == 1
        assert kind in {p["kind"] for p in json.loads(result.stdout)["problems"]}
    raw_sql(store_url, f"INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, "
                       f"created_at, updated_at) VALUES ('gizmo:x', 'gizmo', 'x', 'x', '', 'active', '{{}}', "
                       f"'{{}}', {ts}, {ts})")
    assert any(p.kind == "vocabulary" and "gizmo" in p.message for p in integrity.check(g))
    text = cli("check")
    assert text.exit_code == 1 and "dangling_edge: edge" in text.stdout
