"""Faults on the distributed path, the pieces that take seconds (``make faults`` runs the whole scenarios).

- lost connections: which errors are retried, the commit whose outcome is unknown (re-run only when the
  transaction is idempotent), and a real ``pg_ctl restart -m fast`` while runs are recorded;
- abandoned runs: the owner/heartbeat rule, ``findings runs`` showing them, and a sweep taking over a run
  whose driver was SIGKILLed;
- cells lost with their worker or node: resubmitted without using up the cell's retries;
- Ray Client: a sweep with ``--address ray://127.0.0.1:PORT`` against a head started here with its client
  server (:mod:`tests.ray_cluster`).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from db.retry import (COMMIT_UNKNOWN, CONNECTION_LOST, CommitUnknown, RetryPolicy, RetryStats, retry_reason,
                      run_with_retry)
from graph import integrity, run_owner, runs
from tests.conftest import ROOT
from tests.test_sweep import MINIMAL, needs_ray

MINIMAL_SPEC = {"grid": {"loss": ["das"], "seeds": [0, 1]}, "settings": MINIMAL, "retries": 0}


def _lost(message: str = "server closed the connection unexpectedly") -> sa_exc.OperationalError:
    return sa_exc.OperationalError("COMMIT", {}, Exception(message), connection_invalidated=True)


# ---- which failures are retried ----------------------------------------------------------------------------
def test_lost_connections_are_retried_and_an_unknown_commit_only_when_idempotent():
    import psycopg
    from psycopg import errors

    assert retry_reason(_lost()) == CONNECTION_LOST
    assert retry_reason(psycopg.OperationalError("connection failed: Connection refused")) == CONNECTION_LOST
    assert retry_reason(errors.AdminShutdown("terminating connection due to administrator command")) == CONNECTION_LOST
    assert retry_reason(errors.UniqueViolation("duplicate key")) is None
    assert retry_reason(ValueError("connection lost")) is None
    assert retry_reason(CommitUnknown("lost at commit")) is None
    assert retry_reason(CommitUnknown("lost at commit"), idempotent=True) == COMMIT_UNKNOWN

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _lost()
        return "written"

    assert run_with_retry(flaky, RetryPolicy(base_delay=0.001)) == "written" and len(calls) == 3
    calls.clear()
    with pytest.raises(sa_exc.OperationalError):  # a store that never reached its server fails at once
        run_with_retry(flaky, reconnect=False)
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(sa_exc.OperationalError):  # lost connections are retried for reconnect_s, then raised
        run_with_retry(lambda: calls.append(1) or (_ for _ in ()).throw(_lost()),
                       RetryPolicy(base_delay=0.01, reconnect_s=0.2, reconnect_max_delay=0.02))
    assert 2 < len(calls) < 100


@pytest.fixture
def commit_then_lose(monkeypatch):
    """The next ``n`` commits go through, then the connection 'dies' before the client hears so."""
    real = Session.commit
    state = {"left": 0}

    def commit(self):
        real(self)
        if state["left"] > 0:
            state["left"] -= 1
            raise _lost()

    monkeypatch.setattr(Session, "commit", commit)
    return lambda n=1: state.update(left=n)


def _result(value: float) -> runs.Result:
    from db.records import Measurement

    m = Measurement(metric="IIA", value=value, err=0.001, err_kind="sem", n=2, split="cross", dataset="synthetic10",
                    method="DAS", conditions={"task": "synthetic10"}, measure="iia_argmax")
    return runs.Result(title=f"a test run measures IIA of {value}", description="test", measurement=m,
                       methods=["DAS"], dataset="synthetic10")


def test_a_commit_lost_in_flight_writes_the_ledger_once_and_refuses_other_writes(store_url, commit_then_lose):
    from graph.api import Graph

    g = Graph(store_url)
    commit_then_lose()
    run_id = runs.start_run(g, "a test run", {"config_hash": "h1"})  # committed, then re-run: finds its token
    assert [r.id for r in g.nodes(kind="run")] == [run_id]
    commit_then_lose()
    report = runs.finish_run(g, run_id, [_result(0.9)])  # committed, then re-run: returns what it holds
    assert report["already_finished"] and len(report["findings"]) == 1
    assert len(g.nodes(kind="finding")) == 1 and g.get(run_id).attrs["status"] == "finished"
    assert integrity.check(g) == []
    commit_then_lose()
    with pytest.raises(CommitUnknown):  # an ordinary write is not re-run: it might be written twice
        g.store.run_in_transaction(lambda tx: None)


def test_postgres_restart_while_runs_are_recorded_loses_and_duplicates_nothing(pg_server, pg_db_url):
    from engine.record import RunLedger
    from graph.api import Graph

    g = Graph(pg_db_url)
    restarts = threading.Thread(target=lambda: [pg_server.restart() for _ in range(2)])
    before = RetryStats.by_reason.get(CONNECTION_LOST, 0)
    recorded = []
    with RunLedger(g) as ledger:
        restarts.start()
        while restarts.is_alive() or len(recorded) < 3:  # write for as long as the server goes down and up
            i = len(recorded)
            h = ledger.open(title=f"restart test {i}", config={"i": i}, site=None, divergence_measure=None)
            ledger.finish(h.run_id, [_result(0.5 + i / 1000)])
            recorded.append(h.run_id)
    restarts.join()
    assert RetryStats.by_reason.get(CONNECTION_LOST, 0) > before  # some writes met the server down
    stored = g.nodes(kind="run")
    assert sorted(r.id for r in stored) == sorted(recorded)
    assert {r.attrs["status"] for r in stored} == {"finished"}
    assert len(g.nodes(kind="finding")) == len(recorded)
    assert integrity.check(g) == []


# ---- abandoned runs ---------------------------------------------------------------------------------------------
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def test_the_abandoned_rule(monkeypatch):
    me = run_owner.this_process()
    fresh = {"status": "running", "heartbeat_at": _ago(1), "started_at": _ago(2)}
    assert run_owner.abandoned_reason({**fresh, "owner": me}) is None
    assert run_owner.abandoned_reason({**fresh, "heartbeat_at": _ago(3600), "owner": me}) is None  # alive here
    dead = {**me, "pid": dead_pid()}
    assert "is gone" in run_owner.abandoned_reason({**fresh, "owner": dead})
    reused = {**me, "process_start": me["process_start"] - 1}  # this pid, but another process's start
    assert "is gone" in run_owner.abandoned_reason({**fresh, "owner": reused})
    elsewhere = {**me, "host": "another-host"}
    assert run_owner.abandoned_reason({**fresh, "owner": elsewhere}) is None
    assert "no heartbeat for" in run_owner.abandoned_reason({**fresh, "heartbeat_at": _ago(301), "owner": elsewhere})
    monkeypatch.setenv(run_owner.STALE_ENV, "5")
    assert "limit 5 s" in run_owner.abandoned_reason({**fresh, "heartbeat_at": _ago(6), "owner": elsewhere})
    assert run_owner.run_status({**fresh, "heartbeat_at": _ago(6), "owner": elsewhere}) == "abandoned"
    old = {"status": "running", "host": socket.gethostname(), "pid": dead["pid"], "started_at": _ago(10)}
    assert run_owner.run_status(old) == "abandoned"  # a record from before owners: host and pid
    assert run_owner.run_status({**old, "status": "finished"}) == "finished"
    monkeypatch.setenv(run_owner.STALE_ENV, "soon")
    with pytest.raises(ValueError, match="FINDINGS_RUN_STALE_S must be a number"):
        run_owner.abandoned_reason({**fresh, "owner": elsewhere})


OPEN_AND_DIE = """
import os, signal, sys
from engine.record import RunLedger
from engine.record_synthetic import open_synthetic_run
from engine.sweep import expand, parse_spec
from graph.api import Graph

cells, _ = expand(parse_spec(%(spec)r))
with RunLedger(Graph(sys.argv[1])) as ledger:
    handle = open_synthetic_run(ledger, cells[0].config.to_json())
    print(handle.run_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_run_left_by_a_killed_driver_is_shown_abandoned_and_run_again(tmp_path):
    from app.cli import app
    from engine.sweep import parse_spec, run_sweep
    from graph.api import Graph

    db = str(tmp_path / "sweep.db")
    script = tmp_path / "driver.py"
    script.write_text(OPEN_AND_DIE % {"spec": MINIMAL_SPEC}, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script), db], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == -9, proc.stderr[-2000:]
    dead_run = proc.stdout.strip()
    assert Graph(db).get(dead_run).attrs["status"] == "running"  # what the store holds: nobody closed it

    runner = CliRunner()
    shown = json.loads(runner.invoke(app, ["--db", db, "runs", "--json"]).stdout)
    assert [(r["id"], r["status"]) for r in shown] == [(dead_run, "abandoned")]
    assert "is gone" in shown[0]["abandoned"]
    assert json.loads(runner.invoke(app, ["--db", db, "runs", "--status", "running", "--json"]).stdout) == []
    assert "abandoned" in runner.invoke(app, ["--db", db, "runs"]).stdout

    report = run_sweep(parse_spec(MINIMAL_SPEC), "local", graph=Graph(db), workers=1, progress=False)
    assert report.counts()["finished"] == 2 and [rid for rid, _ in report.abandoned] == [dead_run]
    stored = {r.id: r.attrs for r in Graph(db).nodes(kind="run")}
    assert stored[dead_run]["status"] == "abandoned" and "is gone" in stored[dead_run]["abandoned"]
    assert sorted(a["status"] for a in stored.values()) == ["abandoned", "finished", "finished"]
    assert stored[dead_run]["config_hash"] in {a["config_hash"] for a in stored.values() if a["status"] == "finished"}
    assert not Graph(db).finding_rows(run=dead_run)  # never counted as finished, no findings
    shown = json.loads(runner.invoke(app, ["--db", db, "runs", "--status", "abandoned", "--json"]).stdout)
    assert [r["id"] for r in shown] == [dead_run]


# ---- cells lost with their worker or node ---------------------------------------------------------------------
class LosesTheFirstAttempt:
    """A backend whose first attempt of cell 0 is lost with its 'node'; everything else runs here."""

    slots = 2

    def __init__(self):
        self.pending, self.lost = [], False

    def describe(self):
        return {"backend": "loses-one"}

    def submit(self, cell):
        self.pending.append(cell)
        return (cell.index, cell.attempts)

    def wait(self, handles, timeout):
        from engine.sweep import run_cell

        cell = self.pending.pop(0)
        if cell.index == 0 and not self.lost:
            self.lost = True
            return [((cell.index, cell.attempts), SimpleNamespace(
                ok=False, lost=True, payload={"error": "NodeDiedError: the node running it died"}))]
        result = run_cell(cell.config)
        return [((cell.index, cell.attempts), SimpleNamespace(ok=result["ok"], lost=False, payload=result))]

    def cancel(self, handles):
        pass

    def close(self, abort=False):
        pass


def test_a_cell_lost_with_its_node_is_resubmitted_without_using_its_retries(tmp_path, monkeypatch):
    from engine.sweep import driver, parse_spec, run_sweep
    from graph.api import Graph

    monkeypatch.setattr(driver, "make_backend", lambda *a, **k: LosesTheFirstAttempt())
    events = []
    g = Graph(str(tmp_path / "sweep.db"))
    report = run_sweep(parse_spec(MINIMAL_SPEC), graph=g, progress=False, retries=0,
                       on_event=lambda kind, cell: events.append((kind, cell.index)))
    assert ("resubmitted", 0) in events and not report.failed
    counts = report.counts()
    assert (counts["finished"], counts["resubmitted"], counts["retried"]) == (2, 1, 0)
    assert report.cells[0].to_json()["resubmits"] == 1 and report.cells[0].attempts == 2
    assert sorted(r.attrs["status"] for r in g.nodes(kind="run")) == ["finished", "finished"]  # one run per cell


# ---- Ray Client ---------------------------------------------------------------------------------------------------
@needs_ray
def test_a_sweep_through_ray_client_records_every_cell_with_the_local_numbers(tmp_path):
    from engine.sweep import expand, parse_spec, run_cell
    from graph.api import Graph
    from tests.ray_cluster import LocalRayCluster

    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(MINIMAL_SPEC), encoding="utf-8")
    db = str(tmp_path / "client.db")
    with LocalRayCluster(head_cpus=2, client_server=True) as cluster:
        proc = subprocess.run([sys.executable, "-m", "app", "--db", db, "sweep", str(spec_path), "--backend", "ray",
                               "--address", cluster.client_address, "--json", "--quiet"], cwd=ROOT, env=cluster.env,
                              capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["backend"] == "ray" and report["address"] == cluster.client_address
    assert report["counts"]["finished"] == 2
    stored = {r.attrs["config_hash"]: r.attrs for r in Graph(db).nodes(kind="run")}
    assert {a["status"] for a in stored.values()} == {"finished"} and len(stored) == 2
    for cell in expand(parse_spec(MINIMAL_SPEC))[0]:  # the same numbers as this process computes
        here = run_cell(cell.config)["data"]
        there = stored[cell.key]["summary"]
        for split in ("train", "cross"):
            assert there[split] == here[split]


class _FlakyClientRay:
    """``ray.init`` as a Ray Client whose head fails to start the session's server ``fails`` times."""

    def __init__(self, fails: int, error: type[Exception] = ConnectionAbortedError):
        self.fails, self.error, self.inits, self.shutdowns = fails, error, 0, 0

    def init(self, address, **options):
        self.inits += 1
        if self.inits <= self.fails:
            raise self.error("Initialization failure from server:\nTraceback (most recent call last):\n"
                             "  File \"proxier.py\", line 770, in Datapath\nRuntimeError: Starting Ray client "
                             "server failed. See ray_client_server_23000.err for detailed logs.\n")

    def shutdown(self):
        self.shutdowns += 1


def test_a_ray_client_session_whose_server_failed_to_start_is_asked_for_again(monkeypatch):
    from engine.sweep import backends

    monkeypatch.setattr(backends.time, "sleep", lambda s: None)
    ray = _FlakyClientRay(fails=2)
    backends._connect(ray, "ray://127.0.0.1:10001", {})
    assert (ray.inits, ray.shutdowns) == (3, 2)

    ray = _FlakyClientRay(fails=99)
    with pytest.raises(ValueError) as err:
        backends._connect(ray, "ray://127.0.0.1:10001", {})
    assert ray.inits == backends.CLIENT_INIT_ATTEMPTS
    message = str(err.value)
    assert "\n" not in message and "(after 3 sessions)" in message
    assert "Starting Ray client server failed" in message  # the server's reason, not only "Initialization failure"

    # only that failure, and only through Ray Client: anything else is reported at once
    for address, error in (("127.0.0.1:6379", ConnectionAbortedError), ("ray://127.0.0.1:10001", ConnectionError)):
        ray = _FlakyClientRay(fails=1, error=error)
        with pytest.raises(ValueError, match="could not connect"):
            backends._connect(ray, address, {})
        assert ray.inits == 1
