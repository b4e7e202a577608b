"""Runs as nodes, results as findings, and the replication rule: only like for like, floors respected."""
from types import SimpleNamespace

import pytest

from db.records import Measurement
from engine.record import RunLedger
from graph import replication, runs

CL_IIA = dict(metric="IIA", split="cross", dataset="synthetic10", method="CL", err_kind="sem", n=10,
              conditions={"task": "synthetic10", "partition": "og_holdouts", "loss": "cl", "map": "linear",
                          "protocol": "grant2025"},
              higher_is_better=True, measure="iia_argmax")
PAPER = "grant2025_geomloss_sinkhorn"
CL_EMD_PUBLISHED = "finding:modified-cl-loss-produces-emd-along-feature-dimensions-of-0-007-0-001-on-synthetic-10-class-dataset"


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


def _cl_emd(value, err, measure=PAPER, floor=None, **conditions):
    return _result(value, err, metric="EMD", higher_is_better=False, measure=measure, floor=floor,
                   conditions={**CL_IIA["conditions"], **conditions})


def _edges(graph, finding_id):
    return {(e["type"], e["node"]["id"]) for e in graph.show(finding_id)["edges"]}


def test_verdict_rule():
    assert replication.verdict(0.9985, 0.0004, 0.9988, 0.0005)["agrees"]
    v = replication.verdict(0.990, 0.001, 0.9988, 0.0005)
    assert not v["agrees"] and v["z"] == pytest.approx(7.871, abs=0.001) and v["rule"] == replication.RULE
    assert replication.verdict(0.5, None, 0.5, None)["agrees"]


def test_values_within_the_floor_band_replicate_whatever_their_z():
    floor = {"mean": 0.0050, "sem": 0.0003, "n": 10}
    v = replication.verdict(0.0049, 0.0001, 0.0061, 0.0005, floor)  # z = 2.35, both at the floor
    assert v["agrees"] and v["floor_band"] and v["run_at_floor"] and v["published_at_floor"]
    assert "indistinguishable from a perfect map" in v["note"]
    assert v["z"] == pytest.approx(2.353, abs=0.001)
    above = replication.verdict(0.0052, 0.0001, 0.0317, 0.0031, floor)
    assert not above["agrees"] and above["run_at_floor"] and not above["published_at_floor"]
    assert "floor_band" not in above
    assert replication.at_floor(0.0040, 0.0002, floor) is True  # below the floor's mean
    assert replication.at_floor(0.0070, 0.0002, floor) is False  # 0.002 > 2·√(0.0002² + 0.0003²)
    assert replication.at_floor(0.0070, 0.0002, None) is None


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
    h = _record(seeded_graph, [_cl_emd(0.002, 0.0001)])
    types = {e["type"] for e in seeded_graph.show(h.report["findings"][0])["edges"]}
    assert "fails_to_replicate" in types and "supports" in types and "contradicts" not in types


def test_a_verdict_is_refused_across_measures_and_says_why(seeded_graph):
    h = _record(seeded_graph, [_cl_emd(0.0070, 0.0010, measure="sinkhorn_converged_matched")])
    (fid,) = h.report["findings"]
    assert not {t for t, _ in _edges(seeded_graph, fid)} & {"replicates", "fails_to_replicate", "supports",
                                                              "contradicts"}
    (nc,) = h.report["not_compared"]
    assert nc["finding"] == fid and nc["published"] == CL_EMD_PUBLISHED
    assert nc["reason"] == "different measure: run sinkhorn_converged_matched, published " + PAPER
    shown = seeded_graph.show(fid)
    assert shown["attrs"]["not_compared"][0]["published"] == CL_EMD_PUBLISHED
    assert shown["measurements"][0]["measure"] == "sinkhorn_converged_matched"


def test_a_verdict_is_refused_across_protocols(seeded_graph):
    h = _record(seeded_graph, [_result(0.9988, 0.0005, conditions={**CL_IIA["conditions"], "protocol": "engine"})])
    (nc,) = h.report["not_compared"]
    assert nc["reason"] == "different protocol: run engine, published grant2025"
    assert h.report["replications"] == []


def test_an_unnamed_measure_is_compared_with_nothing(seeded_graph):
    h = _record(seeded_graph, [_result(0.9988, 0.0005, measure=None)])
    assert h.report["replications"] == []
    assert h.report["not_compared"][0]["reason"] == "different measure: run unnamed, published iia_argmax"


def test_the_floor_is_stored_and_a_floor_band_verdict_replicates(seeded_graph):
    floor = {"mean": 0.0060, "sem": 0.0004, "n": 10}
    h = _record(seeded_graph, [_cl_emd(0.0052, 0.0001, floor=floor)])  # 0.0052 vs published 0.007±0.001
    (fid,) = h.report["findings"]
    assert seeded_graph.show(fid)["measurements"][0]["floor"] == floor
    (v,) = h.report["replications"]
    assert v["edge"] == "replicates" and v["floor_band"] is True and v["measure"] == PAPER
    assert ("replicates", CL_EMD_PUBLISHED) in _edges(seeded_graph, fid)


def test_the_curated_published_numbers_name_the_papers_measure_and_protocol(seeded_graph):
    published = [(n, m) for n in seeded_graph.nodes(kind="finding") for m in seeded_graph.show(n.id)["measurements"]]
    assert len(published) == 4
    for node, m in published:
        assert m["measure"] == (PAPER if m["metric"] == "EMD" else "iia_argmax"), node.id
        assert m["conditions"]["protocol"] == "grant2025"
