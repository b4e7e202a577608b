"""Export and import: the whole graph as JSON (round-trips exactly), GraphML, or CSV tables."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import fields
from typing import Any

from db.records import Measurement
from db.session import Tx
from graph.core import add_edge, create_node
from graph.schemas import GraphExport, NodeIn, validate

MEAS_KEYS = tuple(f.name for f in fields(Measurement))  # every field: the measure, its params and floor too
_JSON_MEAS_KEYS = ("conditions", "measure_params", "floor")


def export_json(tx: Tx) -> dict[str, Any]:
    nodes = tx.list_nodes()
    meas = tx.measurements_for()
    return {
        "nodes": [
            {"id": n.id, "kind": n.kind, "title": n.title, "description": n.description, "status": n.status,
             "attrs": n.attrs, "source": n.source,
             "measurements": [{k: getattr(x, k) for k in MEAS_KEYS} for x in meas.get(n.id, [])]}
            for n in nodes
        ],
        "edges": [
            {"source": e.source_id, "target": e.target_id, "type": e.type, "attrs": e.attrs}
            for e in sorted(tx.list_edges(), key=lambda e: (e.source_id, e.type, e.target_id))
        ],
    }


def import_json(tx: Tx, data: Any) -> tuple[int, int]:
    """Load an export into the store (ids kept); refuses ids that already exist. Returns (nodes, edges)."""
    doc = validate(GraphExport, data)
    seen: set[str] = set()
    for n in doc.nodes:
        if n.id in seen:
            raise ValueError(f"node id {n.id!r} appears twice in the file")
        seen.add(n.id)
        if not n.id.startswith(f"{n.kind}:"):
            raise ValueError(f"node id {n.id!r} does not start with its kind {n.kind!r}")
        create_node(tx, NodeIn(**n.model_dump(exclude={"id"})), node_id=n.id, parse_text=False)
    added = 0
    for e in doc.edges:
        _, new = add_edge(tx, e.source, e.type, e.target, e.attrs)
        if not new:
            raise ValueError(f"edge {e.source} {e.type} {e.target} appears twice in the file")
        added += 1
    return len(doc.nodes), added


def export_graphml(tx: Tx) -> str:
    import networkx as nx

    g = nx.MultiDiGraph()
    for n in tx.list_nodes():
        g.add_node(n.id, kind=n.kind, title=n.title, description=n.description, status=n.status,
                   attrs=json.dumps(n.attrs, sort_keys=True))
    for e in tx.list_edges():
        g.add_edge(e.source_id, e.target_id, key=e.type, type=e.type, attrs=json.dumps(e.attrs, sort_keys=True))
    buf = io.BytesIO()
    nx.write_graphml(g, buf)
    return buf.getvalue().decode("utf-8")


def export_csv_zip(tx: Tx) -> bytes:
    """nodes.csv, edges.csv and measurements.csv in one zip archive."""
    data = export_json(tx)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, header, rows in (
            ("nodes.csv", ["id", "kind", "title", "description", "status", "attrs"],
             ([n["id"], n["kind"], n["title"], n["description"], n["status"], json.dumps(n["attrs"], sort_keys=True)]
              for n in data["nodes"])),
            ("edges.csv", ["source", "type", "target", "attrs"],
             ([e["source"], e["type"], e["target"], json.dumps(e["attrs"], sort_keys=True)] for e in data["edges"])),
            ("measurements.csv", ["node_id", *MEAS_KEYS],
             ([n["id"], *[json.dumps(m[k]) if k in _JSON_MEAS_KEYS else m[k] for k in MEAS_KEYS]]
              for n in data["nodes"] for m in n["measurements"])),
        ):
            s = io.StringIO()
            w = csv.writer(s)
            w.writerow(header)
            w.writerows(rows)
            z.writestr(name, s.getvalue())
    return out.getvalue()
