"""Runs as nodes, results as findings, and the replication rule."""
from types import SimpleNamespace

import pytest

from db.records import Measurement
from engine.record import RunLedger
from graph import runs

CL_IIA = dict(metric="IIA", split="cross", dataset="synthetic10", method="CL", err_kind="sem", n=10,
              conditions={"task": "synthetic10", "partition": "og_holdouts", "loss": "cl", "map": "linear"},
              higher_is_better=True)


def _result(value, err, **over):
    fields = {**CL_IIA, **over}
    m = Measurement(value=value, err=err, **fields)
    return runs.Result(title=f"CL loss achieves cross IIA of {value}±{err} (test)", description="test",
                       measurement=m, methods=["CL"], dataset="synthetic10")


def _record(graph, results, config=None):
    config = config or {"task": "synthetic10", "value": [r.measurement.value for r in results]}
    with RunLedger(graph) as ledger:
        h = ledger.open(title="test run", config=config, site="synthetic10.input", divergence_measure="sinkhorn")
        report = ledger.finish(h.run_id, results) if h.run_id is not None else None
    return SimpleNamespace(run_id=h.run_id, existing=h.existing, report=report)


def test_verdict_rule():
    assert runs.verdict(0.9985, 0.0004, 0.9988, 0.0005)["agrees"]
    v = runs.verdict(0.990, 0.001, 0.9988, 0.0005)
    assert not v["agrees"] and v["z"] > 2 and v["rule"] == runs.RULE
    assert runs.verdict(0.5, None, 0.5, None)["agrees"]


def test_agreeing_result_replicates_and_supports_the_claim(seeded_graph):
    h = _record(seeded_graph, [_result(0.9986, 0.0004)])
    (fid,) = h.report["findings"]
    data = seeded_graph.show(fid)
    edges = {(e["type"], e["node"]["kind"]) for e in data["edges"]}
    assert ("replicates", "finding") in edges and ("supports", "claim") in edges and ("produced_by", "run") in edges
    rep = next(e for e in data["edges"] if e["type"] == "replicates")
    assert rep["node"]["title"].startswith("Modified CL loss achieves IIA of 0.9988")
    assert rep["attrs"]["published_value"] == 0.9988 and rep["attrs"]["run_value"] == 0.9986
    run = seeded_graph.get(h.run_id)
    assert run.attrs["status"] == "finished" and run.attrs["findings"] == 1


def test_disagreeing_result_fails_to_replicate_and_contradicts(seeded_graph):
    h = _record(seeded_graph, [_result(0.95, 0.01)])
    data = seeded_graph.show(h.report["findings"][0])
    types = {e["type"] for e in data["edges"]}
    assert "fails_to_replicate" in types and "contradicts" in types and "replicates" not in types


def test_no_published_counterpart_means_no_replication_edge(seeded_graph):
    h = _record(seeded_graph, [_result(0.99, 0.001, conditions={**CL_IIA["conditions"], "partition": "inner_square"})])
    types = {e["type"] for e in seeded_graph.show(h.report["findings"][0])["edges"]}
    assert not types & {"replicates", "fails_to_replicate", "supports", "contradicts"}


def test_recording_the_same_run_twice_adds_nothing(seeded_graph):
    first = _record(seeded_graph, [_result(0.9986, 0.0004)])
    before = seeded_graph.stats()
    h = _record(seeded_graph, [_result(0.9986, 0.0004)])
    assert first.run_id.startswith("run:") and h.run_id is None and h.existing.id == first.run_id
    assert seeded_graph.stats() == before


def test_a_failing_run_is_marked_failed_with_no_findings(seeded_graph):
    before = seeded_graph.stats()["nodes"].get("finding", 0)
    with pytest.raises(RuntimeError):
        with RunLedger(seeded_graph) as ledger:
            ledger.open(title="doomed", config={"x": 1}, site="s", divergence_measure=None)
            raise RuntimeError("diverged")
    (run,) = seeded_graph.nodes(kind="run")
    assert run.attrs["status"] == "failed" and "diverged" in run.attrs["error"]
    assert seeded_graph.stats()["nodes"].get("finding", 0) == before


def test_differing_on_the_claims_side_fails_to_replicate_but_supports(seeded_graph):
    h = _record(seeded_graph, [_result(0.002, 0.0001, metric="EMD", higher_is_better=False,
                                       conditions={**CL_IIA["conditions"], "measure": "sinkhorn_divergence"})])
    types = {e["type"] for e in seeded_graph.show(h.report["findings"][0])["edges"]}
    assert "fails_to_replicate" in types and "supports" in types and "contradicts" not in types
