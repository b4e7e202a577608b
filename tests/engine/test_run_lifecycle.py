"""The run lifecycle: open → finish | fail, through one ledger whose SIGTERM handler fails every open run.

Signals are sent to this test process with ``os.kill`` only while a ledger's handler is installed.
"""
from __future__ import annotations

import os
import signal
import time

import pytest

from engine.record import RunInterrupted, RunLedger
from graph import runs
from graph.api import Graph


def _open(ledger: RunLedger, name: str):
    return ledger.open(title=f"run {name}", config={"cell": name}, site="s", divergence_measure=None)


def _status(graph: Graph, run_id: str) -> str:
    return graph.get(run_id).attrs["status"]


def test_sigterm_after_runs_closed_out_of_order_fails_every_open_run(tmp_path):
    graph = Graph(str(tmp_path / "runs.db"))
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunInterrupted) as stopped:
        with RunLedger(graph) as ledger:
            a, b, c = (_open(ledger, name) for name in "abc")
            ledger.finish(a.run_id, [])  # the first opened closes first
            ledger.fail(c.run_id, "RuntimeError: cell c diverged")
            assert ledger.open_runs == [b.run_id]
            d = _open(ledger, "d")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)  # the handler raises in this thread long before
            pytest.fail("SIGTERM did not stop the block")
    assert stopped.value.code == 1 and str(stopped.value) == "stopped by signal SIGTERM"
    assert [_status(graph, h.run_id) for h in (a, b, c, d)] == ["finished", "failed", "failed", "failed"]
    assert "SIGTERM" in graph.get(b.run_id).attrs["error"] and "SIGTERM" in graph.get(d.run_id).attrs["error"]
    assert "diverged" in graph.get(c.run_id).attrs["error"]
    assert signal.getsignal(signal.SIGTERM) is before  # the previous handler is back


def test_the_ledger_keeps_one_handler_while_runs_open_and_close(tmp_path):
    graph = Graph(str(tmp_path / "runs.db"))
    with RunLedger(graph) as ledger:
        handler = signal.getsignal(signal.SIGTERM)
        a, b = _open(ledger, "a"), _open(ledger, "b")
        ledger.finish(a.run_id, [])
        assert signal.getsignal(signal.SIGTERM) == handler
        ledger.finish(b.run_id, [])
        assert signal.getsignal(signal.SIGTERM) == handler and ledger.open_runs == []


def test_a_sigterm_during_a_store_write_stops_right_after_it(tmp_path, monkeypatch):
    """A run whose findings are being written is finished, not failed, and the stop still comes."""
    graph = Graph(str(tmp_path / "runs.db"))
    real_finish = runs.finish_run

    def finish_while_signalled(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the signal arrives in the middle of the write
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(runs, "finish_run", finish_while_signalled)
    with pytest.raises(RunInterrupted):
        with RunLedger(graph) as ledger:
            a, b = _open(ledger, "a"), _open(ledger, "b")
            ledger.finish(a.run_id, [])
            pytest.fail("the deferred SIGTERM was lost")
    assert (_status(graph, a.run_id), _status(graph, b.run_id)) == ("finished", "failed")


def test_leaving_the_ledger_fails_the_runs_still_open(tmp_path):
    graph = Graph(str(tmp_path / "runs.db"))
    with pytest.raises(KeyboardInterrupt):
        with RunLedger(graph) as ledger:
            a = _open(ledger, "a")
            raise KeyboardInterrupt
    assert _status(graph, a.run_id) == "failed" and graph.get(a.run_id).attrs["error"].startswith("KeyboardInterrupt")
    with RunLedger(graph) as ledger:
        b = _open(ledger, "b")
    assert _status(graph, b.run_id) == "failed" and graph.get(b.run_id).attrs["error"] == "closed without a result"


def test_a_closed_run_cannot_be_failed_or_finished_again(tmp_path):
    graph = Graph(str(tmp_path / "runs.db"))
    with RunLedger(graph) as ledger:
        a = _open(ledger, "a")
        ledger.finish(a.run_id, [])
        with pytest.raises(ValueError, match="not open"):
            ledger.fail(a.run_id, "late")
    assert runs.fail_run(graph, a.run_id, "late") is False  # the store refuses too: finished stays finished
    assert _status(graph, a.run_id) == "finished"
