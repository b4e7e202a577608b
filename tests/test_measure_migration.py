"""An old database upgrades (Alembic 0007) with its existing measurements labelled by the measure they used."""
import json

from db.engine import HEAD_REVISION, current_revision, get_engine, migrate, resolve_url
from graph.api import Graph

NODE = ("INSERT INTO nodes (id, kind, title, title_norm, description, status, attrs, source, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, '', 'active', ?, ?, '2025-01-01', '2025-01-01')")
MEAS = ("INSERT INTO measurements (node_id, metric, value, err, err_kind, n, split, dataset, method, conditions, "
        "higher_is_better) VALUES (?, ?, 0.01, 0.001, 'sem', 10, ?, ?, ?, ?, 0)")


def _old_database(path):
    """A database at revision 0006 as the previous version wrote it: a curated published EMD, an engine run
    with its Sinkhorn and exact-EMD findings, a Boundless run, and a number parsed from text."""
    engine = get_engine(resolve_url(str(path)))
    migrate(engine, "0006")
    syn = {"task": "synthetic10", "partition": "og_holdouts", "loss": "cl", "map": "linear"}
    summary = {"cross": {"native_floor_emd": {"mean": 0.0015, "sem": 0.0001, "n": 10}}}
    nodes = [
        ("finding:pub", "finding", "published", {}, {"document": "curated.yaml", "format": "curated"}),
        ("run:r", "run", "run r", {"config": {"reference": "matched"}, "summary": summary}, {"run": "engine"}),
        ("finding:sink", "finding", "sink", {"run": "run:r"}, {"run": "run:r"}),
        ("finding:exact", "finding", "exact", {"run": "run:r"}, {"run": "run:r"}),
        ("finding:iia", "finding", "iia", {"run": "run:r"}, {"run": "run:r"}),
        ("run:b", "run", "run b", {"config": {}}, {"run": "engine"}),
        ("finding:bdiv", "finding", "bdiv", {"run": "run:b"}, {"run": "run:b"}),
        ("finding:biia", "finding", "biia", {"run": "run:b"}, {"run": "run:b"}),
        ("finding:text", "finding", "IIA of 0.9±0.1", {}, {"user": "someone"}),
    ]
    rows = [
        ("finding:pub", "EMD", "cross", "synthetic10", "CL", {**syn, "measure": "sinkhorn_divergence"}),
        ("finding:sink", "EMD", "cross", "synthetic10", "CL",
         {**syn, "measure": "sinkhorn_divergence", "measure_params": {"eps": 0.0025}}),
        ("finding:exact", "exact_EMD", "cross", "synthetic10", "CL", {**syn, "measure": "exact_emd"}),
        ("finding:iia", "IIA", "cross", "synthetic10", "CL", dict(syn)),
        ("finding:bdiv", "EMD", "test", "price_tagging", "Boundless DAS",
         {"task": "price_tagging", "measure": "exact_emd_zscored_per_sqrt_d"}),
        ("finding:biia", "IIA", "test", "price_tagging", "Boundless DAS",
         {"task": "price_tagging", "measure": "iia_yes_vs_no_logit"}),
        ("finding:text", "IIA", None, None, None, {}),
    ]
    with engine.begin() as conn:
        for nid, kind, title, attrs, source in nodes:
            conn.exec_driver_sql(NODE, (nid, kind, title, title, json.dumps(attrs), json.dumps(source)))
        for node, metric, split, dataset, method, cond in rows:
            conn.exec_driver_sql(MEAS, (node, metric, split, dataset, method, json.dumps(cond)))
    return engine


def test_an_old_database_upgrades_with_each_measurement_labelled(tmp_path):
    engine = _old_database(tmp_path / "old.db")
    g = Graph(str(tmp_path / "old.db"))  # opening upgrades to head
    assert current_revision(engine) == HEAD_REVISION  # 0007 and everything after it

    def meas(node_id):
        (m,) = g.show(node_id)["measurements"]
        return m

    pub = meas("finding:pub")
    assert pub["measure"] == "grant2025_geomloss_sinkhorn" and pub["conditions"]["protocol"] == "grant2025"
    assert "measure" not in pub["conditions"]
    sink = meas("finding:sink")
    assert (sink["measure"], sink["measure_params"]) == ("sinkhorn_converged_matched", {"eps": 0.0025})
    assert sink["conditions"]["protocol"] == "engine" and "measure_params" not in sink["conditions"]
    exact = meas("finding:exact")
    assert (exact["metric"], exact["measure"]) == ("EMD", "exact_emd_matched")
    assert exact["floor"] == {"mean": 0.0015, "sem": 0.0001, "n": 10}  # from the run's stored summary
    assert meas("finding:iia")["measure"] == "iia_argmax"
    assert meas("finding:bdiv")["measure"] == "exact_emd_zscored_per_sqrt_d"
    assert meas("finding:biia")["measure"] == "iia_yes_no_logit"
    text = meas("finding:text")
    assert text["measure"] is None and text["floor"] is None and text["conditions"] == {}
