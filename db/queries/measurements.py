"""Measurements: writing them, reading a node's, and the findings table's filtered reads."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from db import models as m
from db import records as r
from db.queries.base import MEASUREMENT_COLUMNS, NODE_COLUMNS, chunks, measurement_record, node_record
from db.queries.writes import WriteLog

# a measured node: its node's columns, then its measurement's
_NODE_AND_MEASUREMENT = select(*NODE_COLUMNS, *MEASUREMENT_COLUMNS).join(
    m.Measurement, m.Measurement.node_id == m.Node.id)


class MeasurementQueries(WriteLog):
    def add_measurement(self, node_id: str, meas: r.Measurement) -> None:
        row = m.Measurement(node_id=node_id, **meas.to_dict())
        self.s.add(row)
        self.s.flush()
        self.log_write("measurement.add", f"measurement:{row.id}", node_id,
                       {"metric": meas.metric, "value": meas.value, "measure": meas.measure})

    def measurements_of(self, node_id: str) -> list[r.Measurement]:
        rows = self._rows(select(*MEASUREMENT_COLUMNS).where(m.Measurement.node_id == node_id)).all()
        return [measurement_record(x) for x in sorted(rows, key=lambda x: x.id)]

    def measurements_for(self, node_ids: Iterable[str] | None = None) -> dict[str, list[r.Measurement]]:
        """node id -> its measurements in the order they were added; every node's when ``node_ids`` is None."""
        q = select(*MEASUREMENT_COLUMNS)
        if node_ids is None:
            rows = list(self._rows(q.order_by(m.Measurement.id)))
        else:  # looked up by the node_id index, chunk by chunk (ordering in SQL would scan the table by id)
            rows = []
            for chunk in chunks(sorted(set(node_ids))):
                rows.extend(self._rows(q.where(m.Measurement.node_id.in_(chunk))))
            rows.sort(key=lambda x: x.id)
        out: dict[str, list[r.Measurement]] = {}
        for x in rows:
            out.setdefault(x.node_id, []).append(measurement_record(x))
        return out

    def _with_nodes(self, q) -> list[tuple[r.Node, r.Measurement]]:
        """Rows of :data:`_NODE_AND_MEASUREMENT` as (node, measurement)."""
        cut = len(NODE_COLUMNS)
        return [(node_record(x[:cut]), measurement_record(x[cut:])) for x in self._rows(q).all()]

    def find_measured_nodes(self, metric: str, kind: str | None = None) -> list[tuple[r.Node, r.Measurement]]:
        q = _NODE_AND_MEASUREMENT.where(m.Measurement.metric == metric, m.Node.status == "active")
        if kind:
            q = q.where(m.Node.kind == kind)
        return self._with_nodes(q.order_by(m.Node.id))

    # ---- the findings table (the Streamlit explorer; each read bounded by a limit) -------------------
    def _measured_node_filter(self, q, metric=None, method=None, dataset=None, paper_id=None, run_id=None):
        if metric:
            q = q.where(m.Measurement.metric == metric)
        if method:
            q = q.where(m.Measurement.method == method)
        if dataset:
            q = q.where(m.Measurement.dataset == dataset)
        for etype, target in (("extracted_from", paper_id), ("produced_by", run_id)):
            if target:
                q = q.where(m.Measurement.node_id.in_(
                    select(m.Edge.source_id).where(m.Edge.type == etype, m.Edge.target_id == target)))
        return q

    def measurement_rows(self, metric: str | None = None, method: str | None = None, dataset: str | None = None,
                         paper_id: str | None = None, run_id: str | None = None,
                         limit: int = 5000) -> list[tuple[r.Node, r.Measurement]]:
        """Measurements with their nodes, filtered by metric/method/dataset and by paper or run edges."""
        q = self._measured_node_filter(_NODE_AND_MEASUREMENT, metric, method, dataset, paper_id, run_id)
        return self._with_nodes(q.order_by(m.Node.id, m.Measurement.id).limit(limit))

    def measurement_values(self) -> dict[str, list[str]]:
        """Distinct metric, method and dataset names among measurements."""
        out = {}
        for name, col in (("metric", m.Measurement.metric), ("method", m.Measurement.method),
                          ("dataset", m.Measurement.dataset)):
            out[name] = [v for v in self.s.scalars(select(col).distinct().order_by(col)) if v]
        return out
