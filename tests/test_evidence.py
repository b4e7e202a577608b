"""Evidence, weighed (graph.evidence): pooling against a worked example, the status rule, groups by quantity,
and ``findings evidence``."""
from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from db.records import EvidenceEdge, Measurement, Origin
from graph import runs
from graph.evidence import decide, tally
from graph.stats import pool, standard_error

CLAIM = ("claim:the-cl-auxiliary-loss-can-directly-reduce-representational-divergence-in-practical-"
         "interpretability-settings-without-sacrificing-interpretability-method")
CL_EMD = "finding:modified-cl-loss-produces-emd-along-feature-dimensions-of-0-007-0-001-on-synthetic-10-class-dataset"
CL_IIA = ("finding:modified-cl-loss-achieves-iia-of-0-9988-0-0005-on-synthetic-10-class-dataset-training-test-sets")
GRANT = {"task": "synthetic10", "partition": "og_holdouts", "loss": "cl", "map": "linear", "protocol": "grant2025"}

# The BCG vaccine trials (Colditz et al. 1994; metafor's dat.bcg): TB cases / non-cases, vaccinated and not.
BCG = [(4, 119, 11, 128), (6, 300, 29, 274), (3, 228, 11, 209), (62, 13536, 248, 12619), (33, 5036, 47, 5761),
       (180, 1361, 372, 1079), (8, 2537, 10, 619), (505, 87886, 499, 87892), (29, 7470, 45, 7232),
       (17, 1699, 65, 1600), (186, 50448, 141, 27197), (5, 2493, 3, 2338), (27, 16886, 29, 17825)]
# Their published pooled log relative risks (Viechtbauer 2010, J. Stat. Softw. 36(3), metafor's rma(method="FE")
# and rma(method="DL")), printed to 4 decimals: so a tolerance of half the last digit.
BCG_FE = (-0.4303, 0.0405)
BCG_DL = {"estimate": -0.7141, "se": 0.1787, "tau2": 0.3088, "i2": 0.9212, "q": 152.2330}
TOL = 0.5e-4


def log_rr(tpos: int, tneg: int, cpos: int, cneg: int) -> tuple[float, float]:
    """The log relative risk and its standard error (metafor's escalc(measure="RR"))."""
    y = math.log((tpos / (tpos + tneg)) / (cpos / (cpos + cneg)))
    return y, math.sqrt(1 / tpos - 1 / (tpos + tneg) + 1 / cpos - 1 / (cpos + cneg))


def test_pooling_reproduces_the_bcg_worked_example():
    ys, ses = zip(*(log_rr(*trial) for trial in BCG))
    p = pool(list(ys), list(ses)).to_json()
    assert p["k"] == 13
    assert abs(p["fixed"]["estimate"] - BCG_FE[0]) <= TOL and abs(p["fixed"]["se"] - BCG_FE[1]) <= TOL
    r = p["random"]
    for key in ("estimate", "se", "tau2", "i2"):
        assert abs(r[key] - BCG_DL[key]) <= TOL, key
    assert abs(r["q"] - BCG_DL["q"]) <= TOL and r["p"] < 1e-4
    assert r["ci95"][0] == pytest.approx(-1.0644, abs=TOL) and r["ci95"][1] == pytest.approx(-0.3638, abs=TOL)


def test_pooling_truncates_tau2_at_zero_where_q_is_below_its_degrees_of_freedom():
    # 1.0 and 1.1 with SE 0.1: Q = 0.5 < k − 1 = 1, so τ² = 0 and the random-effects pool is the fixed one
    p = pool([1.0, 1.1], [0.1, 0.1]).to_json()
    assert p["fixed"]["estimate"] == pytest.approx(1.05) and p["fixed"]["se"] == pytest.approx(0.1 / math.sqrt(2))
    assert p["random"]["tau2"] == 0 and p["random"]["i2"] == 0 and p["random"]["q"] == pytest.approx(0.5)
    assert p["random"]["estimate"] == p["fixed"]["estimate"] and p["random"]["se"] == p["fixed"]["se"]
    assert p["random"]["p"] == pytest.approx(math.erfc(math.sqrt(0.25)), rel=1e-9)  # χ²(1) tail of 0.5
    with pytest.raises(ValueError, match="at least two"):
        pool([1.0], [0.1])
    with pytest.raises(ValueError, match="positive standard errors"):
        pool([1.0, 2.0], [0.1, 0.0])


@pytest.mark.parametrize("err, kind, n, se", [(0.02, "sem", None, 0.02), (0.1, "std", 25, 0.02),
                                              (0.0392, "ci95", None, 0.0392 / 1.959963984540054)])
def test_standard_errors_from_each_error_kind(err, kind, n, se):
    assert standard_error(err, kind, n) == (pytest.approx(se), None)


@pytest.mark.parametrize("err, kind, n, why", [(None, "sem", 5, "no error"), (0.0, "sem", 5, "zero error"),
                                               (0.1, "std", None, "without n"), (0.1, None, 5, "not stated")])
def test_no_standard_error_says_why(err, kind, n, why):
    se, reason = standard_error(err, kind, n)
    assert se is None and why in reason


# ---- the status rule ----------------------------------------------------------------------------------
def edge(etype: str, source: str, status: str = "active", **attrs) -> EvidenceEdge:
    return EvidenceEdge("claim:c", etype, attrs, source, "finding", source, status)


ORIGINS = {"run-f": Origin(runs=["run:r"]), "own": Origin(papers=["paper:p"]), "other": Origin(papers=["paper:q"]),
           "user": Origin(), "run-g": Origin(runs=["run:s"])}


@pytest.mark.parametrize("edges, status, counts", [
    ([], "untested", {}),
    ([edge("supports", "own")], "untested", {"own_paper": 1}),  # the claim's own paper: its basis, not a test
    ([edge("supports", "own"), edge("associated_with", "other")], "untested", {"own_paper": 1, "associated": 1}),
    ([edge("supports", "run-f", replication="replicates", floor_band=True)], "supported",
     {"supporting": 1, "replicates": 1, "floor_band": 1}),
    ([edge("supports", "other")], "supported", {"supporting": 1}),  # another paper's result is a test
    ([edge("supports", "user")], "supported", {"supporting": 1}),  # so is someone's own result
    ([edge("contradicts", "run-f", replication="fails_to_replicate")], "refuted",
     {"contradicting": 1, "fails_to_replicate": 1}),
    ([edge("supports", "run-f", replication="replicates"),
      edge("contradicts", "run-g", replication="fails_to_replicate")],
     "contested", {"supporting": 1, "contradicting": 1, "replicates": 1, "fails_to_replicate": 1}),
    # a failure on the claim's own side (lower divergence than published) still supports the claim
    ([edge("supports", "run-f", replication="fails_to_replicate")], "supported",
     {"supporting": 1, "fails_to_replicate": 1}),
    ([edge("contradicts", "run-f", status="retracted")], "untested", {"not_counted": 1}),
])
def test_claim_status_rule(edges, status, counts):
    s = tally("claim", {"paper:p"}, edges, ORIGINS)
    assert s.status == status
    assert {k: v for k, v in s.counts.items() if v} == counts


def test_published_finding_status_is_its_replications():
    def verdict(etype, source, **attrs):
        return EvidenceEdge("finding:f", etype, attrs, source, "finding", source, "active")

    assert tally("finding", set(), [], ORIGINS).status == "untested"
    assert tally("finding", set(), [verdict("replicates", "run-f", floor_band=True)], ORIGINS).counts["floor_band"] == 1
    assert tally("finding", set(), [verdict("fails_to_replicate", "run-f")], ORIGINS).status == "refuted"
    both = [verdict("replicates", "run-f"), verdict("fails_to_replicate", "run-g")]
    assert tally("finding", set(), both, ORIGINS).status == "contested"
    assert [decide(s, c) for s, c in ((0, 0), (2, 0), (0, 1), (3, 1))] == ["untested", "supported", "refuted",
                                                                           "contested"]


# ---- evidence of the seed claim after runs ------------------------------------------------------------
def record(graph, seeds: list[int], results: list[tuple[str, float, float, str | None, dict | None]],
           conditions: dict | None = None) -> list[str]:
    """A finished run with one finding per (metric, value, err, measure, floor)."""
    run_id = runs.start_run(graph, f"run on seeds {seeds}", {"seeds": seeds, "config": {"protocol": "grant2025"}})
    out = []
    for metric, value, err, measure, floor in results:
        m = Measurement(metric=metric, value=value, err=err, err_kind="sem", n=2 * len(seeds), split="cross",
                        dataset="synthetic10", method="CL", conditions=conditions or GRANT,
                        higher_is_better=metric == "IIA", measure=measure, floor=floor)
        out.append(runs.Result(title=f"{metric} {value} on seeds {seeds}", description="", measurement=m,
                               methods=["CL"], dataset="synthetic10"))
    return runs.finish_run(graph, run_id, out)["findings"]


FLOOR = {"mean": 0.0047, "sem": 0.0014, "n": 10}


def test_evidence_of_the_seed_claim_groups_pools_and_decides(seeded_graph):
    g = seeded_graph
    assert g.evidence(CLAIM)["status"] == "untested"  # the paper's own findings support it; nothing tested it
    a = record(g, [0, 1, 2, 3, 4], [("IIA", 0.999, 0.0007, "iia_argmax", None),
                                    ("EMD", 0.009, 0.002, "grant2025_geomloss_sinkhorn", FLOOR)])
    b = record(g, [5, 6, 7, 8, 9], [("IIA", 0.9985, 0.0007, "iia_argmax", None),
                                    ("EMD", 0.0075, 0.002, "grant2025_geomloss_sinkhorn", FLOOR)])
    # another measure: the same experiment, not like for like — in no group and counted nowhere
    other = record(g, [0, 1], [("EMD", 0.0019, 0.0001, "sinkhorn_converged_matched", None)])
    ev = g.evidence(CLAIM)
    assert ev["status"] == "supported"
    assert ev["counts"]["supporting"] == 4 and ev["counts"]["contradicting"] == 0
    assert ev["counts"]["replicates"] == 4 and ev["counts"]["floor_band"] == 2 and ev["counts"]["own_paper"] == 4
    groups = {(grp["quantity"]["metric"], grp["quantity"]["method"]): grp for grp in ev["groups"]}
    assert set(groups) == {("IIA", "CL"), ("EMD", "CL"), ("IIA", "DAS"), ("EMD", "DAS")}
    emd = groups[("EMD", "CL")]
    assert emd["quantity"]["measure"] == "grant2025_geomloss_sinkhorn" and emd["quantity"]["conditions"] == GRANT
    assert [(m["finding"], m["origin"]) for m in emd["measurements"]] == [
        (CL_EMD, "published"), *sorted(((a[1], "run"), (b[1], "run")))]
    assert other[0] not in {m["finding"] for grp in ev["groups"] for m in grp["measurements"]}
    run_m = next(m for m in emd["measurements"] if m["finding"] == a[1])
    assert run_m["source"]["kind"] == "run" and run_m["source"]["seeds"] == [0, 1, 2, 3, 4]
    assert run_m["verdicts"][0]["edge"] == "replicates" and run_m["verdicts"][0]["floor_band"]
    assert run_m["stance"] == "supports" and run_m["via"] == CL_EMD and run_m["at_floor"] is True
    # the pool of 0.007 ± 0.001, 0.009 ± 0.002 and 0.0075 ± 0.002 (SEMs): inverse-variance weights 4 : 1 : 1
    fixed = emd["pooled"]["fixed"]
    assert fixed["estimate"] == pytest.approx((4 * 0.007 + 0.009 + 0.0075) / 6)
    assert fixed["se"] == pytest.approx(1 / math.sqrt(1 / 0.001**2 + 2 / 0.002**2))
    assert emd["pooled"]["k"] == 3 and emd["warnings"] == []
    assert groups[("IIA", "DAS")]["pooled"] is None and "pooling needs 2" in groups[("IIA", "DAS")]["not_pooled"]
    assert {u["stance"] for u in ev["unmeasured"]} == {"supports"}  # the paper's findings without a number


def test_a_failed_replication_contests_the_claim_and_shared_seeds_are_flagged(seeded_graph):
    g = seeded_graph
    record(g, [0, 1, 2, 3, 4], [("IIA", 0.999, 0.0007, "iia_argmax", None)])
    bad = record(g, [0, 1], [("IIA", 0.990, 0.0007, "iia_argmax", None)])
    ev = g.evidence(CLAIM)
    assert ev["status"] == "contested" and ev["counts"]["contradicting"] == 1
    iia = next(grp for grp in ev["groups"] if (grp["quantity"]["metric"], grp["quantity"]["method"]) == ("IIA", "CL"))
    assert any("share seeds [0, 1]" in w for w in iia["warnings"])
    assert next(m for m in iia["measurements"] if m["finding"] == bad[0])["stance"] == "contradicts"
    pub = g.evidence(CL_IIA)  # the published finding's own evidence: its replications
    assert pub["status"] == "contested" and pub["counts"]["replicates"] == 1
    assert pub["counts"]["fails_to_replicate"] == 1 and len(pub["groups"]) == 1


def test_evidence_refuses_what_it_does_not_weigh(seeded_graph):
    g = seeded_graph
    ids = record(g, [0], [("IIA", 0.999, None, "iia_argmax", None)])
    with pytest.raises(ValueError, match="is a run's result"):
        g.evidence(ids[0])
    paper = g.nodes(kind="paper")[0].id
    with pytest.raises(ValueError, match="is a paper"):
        g.evidence(paper)
    with pytest.raises(ValueError, match="no node with id"):
        g.evidence("claim:nope")


def test_unnamed_measures_are_listed_but_never_pooled(seeded_graph):
    g = seeded_graph
    claim = g.add_node({"kind": "claim", "title": "A user's claim"})
    for value in (0.5, 0.6):
        f = g.add_node({"kind": "finding", "title": f"a result of {value}", "measurements": [
            {"metric": "IIA", "value": value, "err": 0.05, "err_kind": "sem", "split": "test"}]})
        g.link(f, "supports", claim)
    ev = g.evidence(claim)
    assert ev["status"] == "supported" and ev["counts"]["supporting"] == 2  # no paper of its own: both are tests
    (grp,) = ev["groups"]
    assert len(grp["measurements"]) == 2 and grp["pooled"] is None and "name no measure" in grp["not_pooled"]


def test_cli_evidence_show_and_search_carry_the_status(seeded_db, seeded_graph):
    from app.cli import app

    record(seeded_graph, [0, 1, 2, 3, 4], [("IIA", 0.999, 0.0007, "iia_argmax", None)])
    runner = CliRunner()
    out = runner.invoke(app, ["--db", str(seeded_db), "evidence", CLAIM, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert set(data) >= {"id", "status", "counts", "groups"} and data["status"] == "supported"
    grp = next(x for x in data["groups"] if x["pooled"])
    assert set(grp) >= {"quantity", "measurements", "pooled"}
    assert set(grp["pooled"]["random"]) >= {"estimate", "se", "tau2", "i2", "q", "p"}
    assert set(grp["measurements"][0]) >= {"finding", "value", "err", "source"}
    text = runner.invoke(app, ["--db", str(seeded_db), "evidence", CLAIM]).stdout
    assert "status: supported (1 supporting, 0 contradicting" in text and "pooled (k=2): fixed" in text
    shown = json.loads(runner.invoke(app, ["--db", str(seeded_db), "show", CLAIM, "--json"]).stdout)
    assert shown["evidence"]["status"] == "supported" and shown["evidence"]["counts"]["replicates"] == 1
    found = json.loads(runner.invoke(app, ["--db", str(seeded_db), "search", "CL loss", "--json"]).stdout)
    by_id = {d["id"]: d["evidence"] for d in found}
    assert by_id[CLAIM] == "supported" and by_id[CL_IIA] == "supported"
    assert all(v is None for k, v in by_id.items() if not k.startswith(("claim:", "finding:")))


def test_a_large_group_draws_the_published_highlighted_and_most_precise_rows():
    from app.plots import forest, forest_rows

    ms = [{"finding": f"f{i}", "origin": "published" if i == 7 else "run", "se": None if i == 3 else 0.01 * (50 - i),
           "value": 0.5, "err": 0.01, "err_kind": "sem", "title": f"f{i}", "floor": None,
           "source": {"kind": "run", "id": f"run:r{i}", "protocol": "grant2025", "seeds": [0]}}
          for i in range(50)]
    group = {"measurements": ms, "pooled": None, "quantity": {"metric": "IIA", "measure": "iia_argmax"}}
    rows = forest_rows(group, frozenset({"f0"}), limit=10)
    ids = [m["finding"] for m in rows]
    assert len(rows) == 10 and ids == sorted(ids, key=lambda f: int(f[1:]))  # the group's order is kept
    assert {"f7", "f0"} <= set(ids)  # the published one and the highlighted one, whatever their SE
    assert set(ids) - {"f7", "f0"} == {f"f{i}" for i in range(42, 50)}  # then the smallest SEs
    assert forest_rows(group, limit=60) == ms
    assert len(forest(group, limit=10).layout.yaxis.tickvals) == 10
