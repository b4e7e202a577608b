"""One AppTest per page of the explorer, each against its own copy of a seeded (and embedded) database."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from graph import curation, similarity
from tests.conftest import ROOT, SEED_FINDING, use_copy
from tests.test_faults import dead_pid
from tests.test_papers import arxiv_server  # noqa: F401 - a fixture: the arXiv API on 127.0.0.1

APP = str(ROOT / "app" / "streamlit_app.py")
CL_IIA = "finding:modified-cl-loss-achieves-iia-of-0-9988-0-0005-on-synthetic-10-class-dataset-training-test-sets"
CLAIM = ("claim:the-cl-auxiliary-loss-can-directly-reduce-representational-divergence-in-practical-"
         "interpretability-settings-without-sacrificing-interpretability-method")


@pytest.fixture
def db(embedded_template, tmp_path, monkeypatch) -> Path:
    return use_copy(embedded_template, tmp_path / "app.db", monkeypatch)


@pytest.fixture
def graph(db):
    from graph.api import Graph

    return Graph(str(db))


def app(**query) -> "AppTest":  # noqa: F821
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def on_page(at, page: str):
    return at.switch_page(f"views/{page}.py").run()


def texts(at) -> str:
    """Everything the page shows as text: markdown, captions, links, alerts."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.proto.label for e in at.get("page_link")]
    for kind in ("success", "error", "warning", "info"):
        parts += [e.value for e in at.get(kind)]
    return "\n".join(parts)


def no_html(at) -> None:
    assert all(not m.allow_html for m in at.markdown)


def links(at) -> dict[str, str]:
    """Node links on the page: label -> node id."""
    from urllib.parse import parse_qs

    return {e.proto.label: parse_qs(e.proto.query_string).get("node", [""])[0] for e in at.get("page_link")}


# ---- search --------------------------------------------------------------------------------------
def test_search_page_keyword_filters_and_counts(db):
    at = app()
    assert not at.exception
    assert "## Search" in texts(at)
    assert {m.label for m in at.metric} >= {"finding", "paper", "claim"}  # counts per kind
    at.text_input(key="search_q").input("CL loss divergence").run()
    assert not at.exception
    found = links(at)
    assert any(q.startswith("claim:") for q in found.values())
    at.selectbox(key="search_kind").select("finding").run()
    assert found != links(at) and all(q.startswith("finding:") for q in links(at).values())
    at.text_input(key="search_q").input("loss")
    at.selectbox(key="search_metric").select("IIA").run()
    assert links(at) and all("iia" in q.lower() for q in links(at).values())
    no_html(at)


def test_search_page_semantic(db, graph):
    query = "representations drift away from the native distribution"
    at = app()
    at.radio(key="search_mode").set_value("Semantic").run()
    at.text_input(key="search_q").input(query).run()
    assert not at.exception
    shown = [q for q in links(at).values() if q]
    assert shown[:5] == [n.id for n, _ in similarity.semantic_search(graph, query, limit=5)]


# ---- node page -------------------------------------------------------------------------------------
def test_node_page_shows_the_seed_finding(db):
    at = app(node=SEED_FINDING)
    assert not at.exception
    shown = texts(at)
    assert "For small CL loss weights epsilon" in shown
    assert "Provenance" in shown and "extracted\\_from \\(2025\\)" in shown  # source paper with year
    assert "Satchel Grant" in links(at)
    assert any(CLAIM in q for q in links(at).values())  # the claim, as a link to its page
    assert "Neighbourhood — ranked by edge count" in shown
    assert "-badge[:material/science: finding]" in shown and "-badge[active]" in shown  # kind and status
    no_html(at)


def test_node_page_measurements_table(db):
    das = "finding:das-behavioral-loss-achieves-iia-of-0-997-0-001-on-synthetic-10-class-dataset-training-test-sets"
    at = app(node=das)
    table = at.dataframe[0].value
    assert table.iloc[0]["metric"] == "IIA" and table.iloc[0]["value"] == "0.997 ± 0.001"
    assert "partition=og_holdouts" in table.iloc[0]["conditions"]
    assert table.iloc[0]["measure"] == "iia_argmax" and table.iloc[0]["floor"] == ""


def test_node_page_names_the_measure_the_floor_and_what_was_not_compared(db, graph):
    from db.records import Measurement
    from engine.record import RunLedger
    from graph import runs

    conditions = {"task": "synthetic10", "partition": "og_holdouts", "loss": "cl", "map": "linear",
                  "protocol": "grant2025"}
    m = Measurement(metric="EMD", value=0.0052, err=0.0004, err_kind="sem", n=10, split="cross", dataset="synthetic10",
                    method="CL", conditions=conditions, higher_is_better=False, measure="sinkhorn_converged_matched",
                    floor={"mean": 0.0012, "sem": 0.0001, "n": 10})
    with RunLedger(graph) as ledger:
        handle = ledger.open(title="a run", config={"page": 1}, site="synthetic10.input", divergence_measure=None)
        report = ledger.finish(handle.run_id, [runs.Result(title="CL result in another measure", description="",
                                                           measurement=m, methods=["CL"], dataset="synthetic10")])
    at = app(node=report["findings"][0])
    assert not at.exception
    row = at.dataframe[0].value.iloc[0]
    assert (row["measure"], row["floor"]) == ("sinkhorn_converged_matched", "0.0012 ± 0.0001")
    shown = texts(at)
    assert "Not compared (not like for like)" in shown
    # user-facing text is escaped Markdown: "_" and ":" come backslashed
    assert ("different measure\\: run sinkhorn\\_converged\\_matched, published grant2025\\_geomloss\\_sinkhorn"
            in shown)
    assert "perfect intervention" in shown  # the floor is explained where it is shown


def test_node_page_similarity_accept_and_dismiss(db, graph):
    at = app(node=SEED_FINDING)
    assert "Related by similarity" in texts(at)
    accept = [b for b in at.button if b.key and b.key.startswith("sim_accept_")]
    assert accept, "the seed finding should have similarity candidates"
    other = accept[0].key.removeprefix("sim_accept_")
    accept[0].click().run()
    assert not at.exception
    assert "Added edge" in texts(at)
    assert other in {n.id for grp in graph.neighbourhood(SEED_FINDING) if grp.edge_type != "listed_similar"
                     for n, _, _ in grp.neighbours}
    assert not [b for b in at.button if b.key == f"sim_accept_{other}"]  # no longer a candidate
    at.slider(key="node_threshold").set_value(0.45).run()
    dismiss = [b for b in at.button if b.key and b.key.startswith("sim_dismiss_")]
    gone = dismiss[0].key.removeprefix("sim_dismiss_")
    dismiss[0].click().run()
    assert "Dismissed" in texts(at)
    assert not [b for b in at.button if b.key == f"sim_dismiss_{gone}"]
    assert [(d["decision"], {d["node_a"], d["node_b"]}) for d in curation.decisions(graph, SEED_FINDING)] == [
        ("accepted", {SEED_FINDING, other}), ("dismissed", {SEED_FINDING, gone})]


def test_node_page_unknown_id_and_user_text_is_text(db, graph):
    at = app(node="finding:nope")
    assert "no node with id" in texts(at)
    evil = "**bold** [x](javascript:alert(1)) <img src=x onerror=alert(1)> $x^2$ :red[red] # h"
    node_id = graph.add_node({"kind": "claim", "title": evil, "description": evil})
    at = app(node=node_id)
    assert not at.exception
    no_html(at)
    rendered = [m.value for m in at.markdown if "bold" in m.value]
    assert rendered and all("\\*\\*bold\\*\\*" in v and "\\[x\\]\\(javascript\\:" in v and "\\<img" in v
                            and "\\$x^2\\$" not in v and "\\:red\\[red\\]" in v for v in rendered)


# ---- graph view ------------------------------------------------------------------------------------
def test_graph_view_draws_the_k_hop_neighbourhood(db):
    import json

    at = on_page(app(node=SEED_FINDING), "graph_view")
    assert not at.exception
    chart = at.get("plotly_chart")
    assert chart
    figure = json.loads(chart[0].proto.spec)
    ids = {d[0] for trace in figure["data"] for d in (trace.get("customdata") or [])}
    assert SEED_FINDING in ids and CLAIM in ids
    assert {"finding", "claim", "paper"} <= {t.get("name") for t in figure["data"]}  # coloured by kind
    at.slider(key="graph_hops").set_value(1).run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    fewer = {d[0] for t in spec["data"] for d in (t.get("customdata") or [])}
    assert SEED_FINDING in fewer and len(fewer) < len(ids)


# ---- findings table ---------------------------------------------------------------------------------
def test_findings_table_filters_export_and_plots(db, graph):
    for eps, iia in ((0, 0.95), (1, 0.96), (10, 0.97)):
        graph.add_node({"kind": "finding", "title": f"sweep IIA at eps {eps}", "measurements": [
            {"metric": "IIA", "value": iia, "err": 0.01, "method": "Boundless DAS", "dataset": "price_tagging",
             "conditions": {"loss": "das+cl", "epsilon": eps}}]})
    at = on_page(app(), "findings_table")
    assert not at.exception
    table = at.dataframe(key="ft_table").value
    assert len(table) >= 7 and {"IIA", "EMD"} <= set(table["metric"])
    assert at.get("download_button")
    charts = {c.proto.id for c in at.get("plotly_chart")}
    assert len(charts) == 2  # IIA against EMD, and IIA against ε
    at.selectbox(key="ft_metric").select("EMD").run()
    assert set(at.dataframe(key="ft_table").value["metric"]) == {"EMD"}
    at.selectbox(key="ft_metric").select("").run()
    at.selectbox(key="ft_method").select("CL").run()
    assert set(at.dataframe(key="ft_table").value["method"]) == {"CL"}


def test_csv_export_cannot_inject_formulas():
    import pandas as pd

    from app.components import csv_safe

    out = csv_safe(pd.DataFrame({"t": ["=HYPERLINK(1)", "ok"], "v": [-1.0, 2.0]}))
    assert list(out["t"]) == ["'=HYPERLINK(1)", "ok"] and list(out["v"]) == [-1.0, 2.0]


# ---- runs ------------------------------------------------------------------------------------------
def test_runs_page(db, graph):
    at = on_page(app(), "runs")
    assert "No runs yet" in texts(at)
    run = graph.add_node({"kind": "run", "title": "synthetic10 CL linear seed 0", "attrs": {
        "status": "finished", "config": {"loss": "cl", "map": "linear"}, "duration_s": 41.5,
        "started_at": "2025-01-01T00:00:00+00:00", "device": "cpu"}})
    finding = graph.add_node({"kind": "finding", "title": "CL cross IIA", "measurements": [
        {"metric": "IIA", "value": 0.99, "err": 0.002, "conditions": {"loss": "cl"}}]})
    graph.link(finding, "produced_by", run)
    at = on_page(app(), "runs")
    assert not at.exception
    table = at.dataframe(key="runs_table").value
    assert list(table["status"]) == ["finished"] and table.iloc[0]["duration_s"] == 41.5
    assert '"loss": "cl"' in table.iloc[0]["config"]
    # a run left running by a process that is gone shows as abandoned, here and on its page
    left = graph.add_node({"kind": "run", "title": "synthetic10 DAS linear seed 1", "attrs": {
        "status": "running", "started_at": "2025-01-02T00:00:00+00:00", "host": socket.gethostname(),
        "pid": dead_pid()}})
    table = on_page(app(), "runs").dataframe(key="runs_table").value
    assert list(table["status"]) == ["abandoned", "finished"]
    shown = texts(app(node=left))
    assert "its owner, pid" in shown and "It has no findings" in shown


def test_run_page_shows_its_record_verdicts_and_curves(db, graph):
    from tests.test_evidence import FLOOR, record

    ids = record(graph, [0, 1, 2, 3, 4], [("IIA", 0.999, 0.0007, "iia_argmax", None),
                                          ("EMD", 0.009, 0.002, "grant2025_geomloss_sinkhorn", FLOOR)])
    run_id = graph.node_page(ids[0]).runs[0].id
    at = app(node=run_id)
    assert not at.exception
    shown = texts(at)
    assert "grant2025" in shown and "\\[0, 1, 2, 3, 4\\]" in shown  # protocol and seeds
    assert "#### Findings (2)" in shown and "Verdicts: this run beside the published numbers" in shown
    findings = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert sorted(findings["verdict"]) == ["replicates", "replicates"]
    assert set(findings["measure"]) == {"iia_argmax", "grant2025_geomloss_sinkhorn"}
    forests = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(forests) == 2 and all({"published", "this run"} <= {t.get("name") for t in f["data"]} for f in forests)
    # the run's result: its verdict, drawn among the published number's group
    at = app(node=ids[1])
    assert "Verdicts (like for like)" in texts(at) and "replicates" in texts(at)
    assert len(at.get("plotly_chart")) == 1
    no_html(at)


def test_claim_page_weighs_its_evidence_with_forest_plots(db, graph):
    from tests.test_evidence import FLOOR, record

    at = app(node=CLAIM)
    assert "evidence\\: untested" in texts(at)  # the badge: only the paper's own findings support it
    record(graph, [0, 1, 2, 3, 4], [("IIA", 0.999, 0.0007, "iia_argmax", None),
                                    ("EMD", 0.009, 0.002, "grant2025_geomloss_sinkhorn", FLOOR)])
    record(graph, [5, 6, 7, 8, 9], [("EMD", 0.0075, 0.002, "grant2025_geomloss_sinkhorn", FLOOR)])
    at = app(node=CLAIM)
    assert not at.exception
    shown = texts(at)
    assert "#### Evidence" in shown and "evidence\\: supported" in shown
    assert "3 supporting · 0 contradicting" in shown
    assert "Pooled over k \\= 3" in shown and "DerSimonian–Laird" in shown
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(specs) == 2  # EMD (3 measurements) and IIA (2); the DAS groups hold one number each
    names = {t.get("name") for s in specs for t in s["data"]}
    assert {"published", "run", "pooled, fixed effect", "pooled, random effects (DL)"} <= names
    no_html(at)


def test_a_heavily_tested_claim_draws_four_groups_and_picks_the_rest(tmp_path, monkeypatch):
    """The scale bench's claim (ten groups of about 100 measurements): the page draws four groups, offers the
    other six one at a time, and each forest plot at most FOREST_ROWS measurements."""
    from app.plots import FOREST_ROWS
    from bench.evidence import CLAIM, claim_with_findings
    from graph.api import Graph

    nodes, edges = [], []
    claim_with_findings(nodes, edges, 300)
    path = tmp_path / "heavy.db"
    Graph(str(path)).bulk_load(nodes, edges)
    monkeypatch.setenv("FINDINGS_DB", str(path))
    at = app(node=CLAIM)
    assert not at.exception
    more = at.selectbox(key="evidence_more")
    assert len(more.options) == 6 and "draws 30 of" in texts(at)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(specs) == 5 and all(len(s["layout"]["yaxis"]["tickvals"]) <= FOREST_ROWS + 2 for s in specs)
    first = texts(at)
    more.select_index(5).run()
    assert at.selectbox(key="evidence_more").value == 9 and not at.exception  # the tenth group
    assert texts(at) != first  # another group drawn in the picked slot


def test_findings_table_and_search_filter_by_evidence(db, graph):
    from tests.test_evidence import record

    record(graph, [0, 1], [("IIA", 0.990, 0.0007, "iia_argmax", None)])  # fails to replicate CL's IIA
    at = on_page(app(), "findings_table")
    table = at.dataframe(key="ft_table").value
    assert "refuted" in set(table["evidence"]) and "fails to replicate" in set(table["evidence"])
    at.multiselect(key="ft_evidence").select("refuted").run()
    table = at.dataframe(key="ft_table").value
    assert len(table) == 1 and table.iloc[0]["value"] == 0.9988
    at = on_page(app(), "search")
    at.selectbox(key="search_evidence").select("refuted").run()
    assert set(links(at).values()) == {CL_IIA, CLAIM}  # the claim: one contradicting test, no supporting one
    at.selectbox(key="search_evidence").select("contested").run()
    assert not links(at)


# ---- add -------------------------------------------------------------------------------------------
def submit(at, label: str):
    [b for b in at.button if b.label == label][0].click().run()
    return at


def test_add_forms_write_or_show_errors(db, graph):
    before = sum(graph.stats()["nodes"].values())
    at = on_page(app(), "add")
    assert not at.exception
    # a finding with a metric but no value: inline error, nothing written
    at.text_input(key="add_finding_title").input("My finding")
    at.text_input(key="add_finding_metric").input("IIA")
    submit(at, "Add finding")
    assert "needs both a metric and a value" in texts(at)
    at.number_input(key="add_finding_value").set_value(0.9)
    at.text_area(key="add_finding_conditions").input("{not json")
    submit(at, "Add finding")
    assert "must be a JSON object" in texts(at)
    assert sum(graph.stats()["nodes"].values()) == before
    at.text_area(key="add_finding_conditions").input('{"loss": "cl", "epsilon": 1}')
    submit(at, "Add finding")
    assert "Added finding:my-finding" in texts(at).replace("\\", "")
    assert graph.show("finding:my-finding")["measurements"][0]["conditions"] == {"loss": "cl", "epsilon": 1}
    # a paper with authors
    at.text_input(key="add_paper_title").input("A new paper")
    at.text_area(key="add_paper_authors").input("Ada Lovelace\nAlan Turing")
    submit(at, "Add paper")
    assert [n.title for grp in graph.neighbourhood("paper:a-new-paper") for n, _, _ in grp.neighbours] == [
        "Ada Lovelace", "Alan Turing"]
    # an edge the vocabulary refuses
    at.text_input(key="add_edge_source").input("paper:a-new-paper")
    at.selectbox(key="add_edge_type").select("supports")
    at.text_input(key="add_edge_target").input(CLAIM)
    submit(at, "Add edge")
    assert "supports goes from finding to claim" in texts(at)
    # ingest a pasted document
    at.text_area(key="add_ingest_text").input((ROOT / "seeds" / "001_30d68d2aaf7f9a0b.txt").read_text())
    submit(at, "Ingest")
    assert not at.exception
    assert "1 document(s)" in texts(at)


def test_add_page_fetches_from_arxiv_and_ingests_bibtex_and_snapshots(db, graph, arxiv_server):  # noqa: F811
    from graph import backup
    from tests.test_papers import SEED_PAPER, ZOTERO, snapshot_obj

    def paper_titles() -> set[str]:
        return {n.title for n in graph.nodes(kind="paper", limit=10_000)}

    papers = paper_titles()
    at = on_page(app(), "add")
    # arXiv: the seed paper is filled in, never duplicated; asked again, nothing to add
    at.text_input(key="add_arxiv_id").input("arXiv:2511.04638v1")
    submit(at, "Fetch from arXiv")
    assert not at.exception and arxiv_server == ["2511.04638"]
    assert "Already held; filled in what it lacked:" in texts(at) and SEED_PAPER in texts(at).replace("\\", "")
    assert graph.get(SEED_PAPER).attrs["doi"] == "10.48550/arxiv.2511.04638"
    submit(at, "Fetch from arXiv")
    assert "Already held; nothing to add:" in texts(at)
    before = backup.fingerprint(graph)
    at.text_input(key="add_arxiv_id").input("2401.99999")
    submit(at, "Fetch from arXiv")
    assert "arXiv has no paper with the id '2401.99999'" in [e.value for e in at.error][0].replace("\\", "")
    assert backup.fingerprint(graph) == before
    # BibTeX pasted under auto: read as BibTeX, its papers listed
    nodes_before = sum(graph.stats()["nodes"].values())
    at.text_area(key="add_ingest_text").input(ZOTERO.read_text(encoding="utf-8"))
    submit(at, "Ingest")
    assert not at.exception and not at.error
    added = paper_titles() - papers
    nodes_added = sum(graph.stats()["nodes"].values()) - nodes_before
    assert len(added) >= 30 and f"1 document(s): {nodes_added} nodes added" in texts(at)
    shown = {label.replace("\\", "") for label in links(at)}
    assert len(added & shown) >= 25  # the file's papers (added or already held), the first 30 with links
    # a snapshot uploaded as .jsonl (and nothing pasted): two papers, a bad line a warning; again, nothing
    at.text_area(key="add_ingest_text").input("")
    lines = [snapshot_obj("2401.00001", "A snapshot paper"), "{not json", snapshot_obj("2401.00002", "Another one")]
    data = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode()
    at.file_uploader(key="add_ingest_file").set_value(("snap.jsonl", data, "application/jsonl"))
    nodes_before = sum(graph.stats()["nodes"].values())
    submit(at, "Ingest")
    assert not at.exception and not at.error
    nodes_added = sum(graph.stats()["nodes"].values()) - nodes_before
    assert paper_titles() - papers - added == {"A snapshot paper", "Another one"}
    assert f"1 document(s): {nodes_added} nodes added" in texts(at)
    assert "snap.jsonl line 2: not valid JSON" in texts(at).replace("\\", "")
    assert {"A snapshot paper", "Another one"} <= {label.replace("\\", "") for label in links(at)}
    before = backup.fingerprint(graph)
    submit(at, "Ingest")
    assert "1 document(s): 0 nodes added, 0 updated, 0 edges added" in texts(at)
    assert backup.fingerprint(graph) == before


def test_node_page_pages_through_a_group_bigger_than_a_page(db, graph):
    from app.views.node import MAX_PER_GROUP

    hub = "claim:a-claim-many-findings-support"
    n = MAX_PER_GROUP + 12
    graph.bulk_load([{"id": hub, "kind": "claim", "title": "A claim many findings support"}]
                    + [{"id": f"finding:pager-{i:02d}", "kind": "finding", "title": f"Pager finding {i:02d}"}
                       for i in range(n)],
                    [(f"finding:pager-{i:02d}", "supports", hub, {}) for i in range(n)])
    at = app(node=hub)
    assert not at.exception
    assert f"1–{MAX_PER_GROUP} of {n} · 12 more" in texts(at)
    assert "Pager finding 00" in links(at) and f"Pager finding {MAX_PER_GROUP:02d}" not in links(at)
    at.button(key=f"grp_{hub}_supports_in_next").click().run()
    assert f"{MAX_PER_GROUP + 1}–{n} of {n}" in texts(at)
    shown = [label for label in links(at) if label.startswith("Pager finding")]
    assert shown == [f"Pager finding {i:02d}" for i in range(MAX_PER_GROUP, n)]
    at.button(key=f"grp_{hub}_supports_in_prev").click().run()
    assert f"1–{MAX_PER_GROUP} of {n}" in texts(at)
