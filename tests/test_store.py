"""The store and the graph core: schema, vocabulary, ids, transactions, export/import."""
import json

import pytest
from sqlalchemy import inspect

from db.engine import HEAD_REVISION, MIGRATIONS_DIR, current_revision, get_engine, migrate, resolve_url
from graph import core, exchange
from graph.api import Graph


def test_head_revision_constant_matches_alembic():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def schema_diff(engine) -> list:
    """What Alembic finds different between the database's schema and the models (``[]``: none)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from db.models import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            # the FTS5 shadow tables belong to the search migrations, not to the ORM models
            "include_name": lambda name, type_, _parent: not (
                type_ == "table" and name.startswith(("nodes_fts", "nodes_title")))})
        return compare_metadata(ctx, Base.metadata)


def test_blank_database_migrates_to_exactly_the_models(tmp_path):
    engine = get_engine(resolve_url(str(tmp_path / "blank.db")))
    migrate(engine)
    assert current_revision(engine) == HEAD_REVISION
    diff = schema_diff(engine)
    assert diff == []


def test_sqlite_runs_with_foreign_keys_and_wal(tmp_path):
    g = Graph(str(tmp_path / "x.db"))
    with g.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_first_revision_upgrades_to_head_with_data(tmp_path):
    engine = get_engine(resolve_url(str(tmp_path / "old.db")))
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, created_at, "
            "updated_at) VALUES ('claim:x', 'claim', 'Sparse probes mislead', 'sparse probes mislead', '', "
            "'active', '{}', '{}', '2025-01-01', '2025-01-01')")
    g = Graph(str(tmp_path / "old.db"))  # opening upgrades to head
    assert current_revision(engine) == HEAD_REVISION
    assert g.get("claim:x").title == "Sparse probes mislead"
    assert [n.id for n, _ in g.search("probes")] == ["claim:x"]  # the search index was built from old rows
    assert {"embeddings", "curation_decisions"} <= set(inspect(engine).get_table_names())


def test_ids_are_kind_prefixed_slugs_made_unique_on_collision():
    g = Graph()
    a = g.add_node({"kind": "claim", "title": "DAS finds the variable"})
    b = g.add_node({"kind": "claim", "title": "DAS finds the variable!"})
    assert a == "claim:das-finds-the-variable"
    assert b.startswith(a + "-") and len(b) == len(a) + 7


@pytest.mark.parametrize("edge, message", [
    (("claim:c", "supports", "finding:f"), "supports goes from finding to claim"),
    (("finding:f", "no_such_type", "claim:c"), "unknown edge type"),
    (("finding:f", "supports", "claim:missing"), "no node with id 'claim:missing'"),
    (("finding:f", "duplicate_of", "claim:c"), "same kind"),
])
def test_edges_that_break_the_vocabulary_are_refused(edge, message):
    g = Graph()
    with g.store.transaction() as tx:
        core.create_node(tx, {"kind": "claim", "title": "c"}, node_id="claim:c")
        core.create_node(tx, {"kind": "finding", "title": "f"}, node_id="finding:f")
    before = g.export_json()
    with pytest.raises(ValueError, match=message):
        g.link(*edge)
    assert g.export_json() == before


def test_a_failed_write_leaves_nothing_behind():
    g = Graph()
    with pytest.raises(ValueError, match="no node with id 'author:nobody'"):  # refused after the node was written
        with g.store.transaction() as tx:
            core.create_node(tx, {"kind": "paper", "title": "Half written"})
            core.add_edge(tx, "paper:half-written", "authored_by", "author:nobody")
    assert g.stats() == {"nodes": {}, "edges": {}}


def test_bad_node_input_is_one_clear_error():
    g = Graph()
    with pytest.raises(ValueError, match="invalid kind"):
        g.add_node({"kind": "theorem", "title": "x"})
    with pytest.raises(ValueError, match="invalid title"):
        g.add_node({"kind": "claim", "title": ""})
    with pytest.raises(ValueError, match="Extra inputs"):
        g.add_node({"kind": "claim", "title": "x", "colour": "red"})
    with pytest.raises(ValueError, match="finite"):
        g.add_node({"kind": "finding", "title": "x", "measurements": [{"metric": "IIA", "value": float("nan")}]})


def test_finding_measurements_are_parsed_from_text_unless_given():
    g = Graph()
    fid = g.add_node({"kind": "finding", "title": "DAS achieves IIA of 0.91±0.02 on a toy task"})
    (m,) = g.show(fid)["measurements"]
    assert (m["metric"], m["value"], m["err"]) == ("IIA", 0.91, 0.02)
    fid2 = g.add_node({"kind": "finding", "title": "IIA of 0.5±0.1",
                       "measurements": [{"metric": "accuracy", "value": 0.7}]})
    assert [m["metric"] for m in g.show(fid2)["measurements"]] == ["accuracy"]


def test_neighbourhood_ranks_groups_and_members_by_edge_count():
    g = Graph()
    with g.store.transaction() as tx:
        for nid, kind in [("finding:f", "finding"), ("claim:a", "claim"), ("claim:b", "claim"),
                          ("paper:p", "paper")]:
            core.create_node(tx, {"kind": kind, "title": nid}, node_id=nid)
        core.add_edge(tx, "finding:f", "supports", "claim:a")
        core.add_edge(tx, "finding:f", "supports", "claim:b")
        core.add_edge(tx, "finding:f", "associated_with", "claim:b")
        core.add_edge(tx, "finding:f", "extracted_from", "paper:p")
    groups = g.neighbourhood("finding:f")
    assert [(x.edge_type, x.count) for x in groups] == [("supports", 2), ("associated_with", 1),
                                                        ("extracted_from", 1)]
    assert [(n.id, c) for n, c, _ in groups[0].neighbours] == [("claim:b", 2), ("claim:a", 1)]


def test_keyword_search_ranks_title_matches_and_filters_by_kind(seeded_graph):
    hits = seeded_graph.search("CL loss EMD")
    assert hits and all(score > 0 for _, score in hits)
    assert "EMD" in hits[0][0].title
    kinds = {n.kind for n, _ in seeded_graph.search("interpretability")}
    paper_kinds = {n.kind for n, _ in seeded_graph.search("interpretability", kind="paper")}
    assert kinds > {"paper"} and paper_kinds == {"paper"}
    assert seeded_graph.search("") == []
    # FTS syntax in the text is neither an error nor an operator: it is searched as the words it holds
    noisy = seeded_graph.search('"quotes" AND OR NOT (*)')
    assert noisy and noisy == seeded_graph.search("quotes and or not")


def test_export_import_round_trip(seeded_graph, tmp_path):
    data = seeded_graph.export_json()
    fresh = Graph(str(tmp_path / "fresh.db"))
    fresh.import_json(json.loads(json.dumps(data)))
    assert fresh.export_json() == data
    with pytest.raises(ValueError, match="already exists"):
        fresh.import_json(data)
    assert fresh.export_json() == data


def test_graphml_and_csv_exports(seeded_graph):
    import io
    import zipfile

    import networkx as nx

    with seeded_graph.store.read() as tx:
        xml = exchange.export_graphml(tx)
        z = zipfile.ZipFile(io.BytesIO(exchange.export_csv_zip(tx)))
    g = nx.read_graphml(io.StringIO(xml))
    assert g.number_of_nodes() == sum(seeded_graph.stats()["nodes"].values())
    assert set(z.namelist()) == {"nodes.csv", "edges.csv", "measurements.csv"}
