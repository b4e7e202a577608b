"""Measurements name their measure: ``measure`` (a registered id), ``measure_params`` and ``floor`` columns.

Why: two numbers called "EMD" measured by different estimators are different quantities; a replication
verdict must join only like with like, and a divergence means little without its estimator's floor. The
measure used to live, where it was stated at all, as ``conditions["measure"]`` under names that did not say
the whole definition.

Existing rows are labelled by the measure they actually used:

- ``conditions.measure`` = ``sinkhorn_divergence`` on a run's finding → ``sinkhorn_converged_<reference>``
  (the run's config says ``matched`` or ``task``); on the curated seed's published findings
  (source document curated.yaml) → ``grant2025_geomloss_sinkhorn``, the paper's estimator that produced
  those numbers (the old label was wrong), with ``conditions.protocol`` = ``grant2025``;
- ``exact_emd`` → ``exact_emd_<reference>``, and the metric ``exact_EMD`` becomes ``EMD`` (the measure says
  which estimator); its floor comes from the run's stored summary (``native_floor_emd``);
- the Boundless ids (``sinkhorn_divergence_zscored_per_sqrt_d``, ``exact_emd_zscored_per_sqrt_d``) keep
  their names;
- IIA of synthetic runs and of the curated published findings → ``iia_argmax``; IIA of Boundless runs →
  ``iia_yes_no_logit``;
- synthetic runs' conditions gain ``protocol`` = ``engine`` (the only protocol there was);
- anything else (numbers parsed from text, user-added) stays unlabelled: a measure nobody stated.

``measure`` and ``measure_params`` leave ``conditions``.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_OLD_SYNTHETIC = {"sinkhorn_divergence": "sinkhorn_converged", "exact_emd": "exact_emd"}
_BOUNDLESS = ("sinkhorn_divergence_zscored_per_sqrt_d", "exact_emd_zscored_per_sqrt_d")


def _label(row, node, run) -> dict:
    """The new column values (and rewritten metric/conditions) for one measurement row."""
    conditions = dict(row.conditions or {})
    old = conditions.pop("measure", None)
    params = conditions.pop("measure_params", None)
    params = dict(params) if isinstance(params, dict) else {}
    metric, measure, floor = row.metric, None, None
    from_run = bool((node.attrs or {}).get("run")) if node is not None else False
    curated = node is not None and (node.source or {}).get("document") == "curated.yaml"
    config = ((run.attrs or {}).get("config") or {}) if run is not None else {}
    reference = config.get("reference") or "matched"
    synthetic = row.dataset == "synthetic10"
    if old in _OLD_SYNTHETIC and curated and not from_run:
        measure = "grant2025_geomloss_sinkhorn"
    elif old in _OLD_SYNTHETIC and from_run:
        measure = f"{_OLD_SYNTHETIC[old]}_{reference}"
    elif old in _BOUNDLESS:
        measure = old
    elif row.metric == "IIA" and synthetic and (from_run or curated):
        measure = "iia_argmax"
    elif row.metric == "IIA" and row.dataset == "price_tagging" and from_run:
        measure = "iia_yes_no_logit"
    if old == "exact_emd" or row.metric == "exact_EMD":
        metric = "EMD"
        summary = ((run.attrs or {}).get("summary") or {}) if run is not None else {}
        stat = (summary.get(row.split or "") or {}).get("native_floor_emd")
        if isinstance(stat, dict) and stat.get("mean") is not None:
            floor = {"mean": stat["mean"], "sem": stat.get("sem"), "n": stat.get("n")}
        if measure is None and from_run:
            measure = f"exact_emd_{reference}"
    if synthetic and curated and not from_run and measure is not None:
        conditions.setdefault("protocol", "grant2025")
    elif synthetic and from_run:
        conditions.setdefault("protocol", "engine")
    return {"metric": metric, "measure": measure, "measure_params": params, "floor": floor,
            "conditions": conditions}


def upgrade() -> None:
    op.add_column("measurements", sa.Column("measure", sa.String(64), nullable=True))
    op.add_column("measurements", sa.Column("measure_params", sa.JSON, nullable=False, server_default="{}"))
    op.add_column("measurements", sa.Column("floor", sa.JSON, nullable=True))
    op.create_index("ix_measurements_measure", "measurements", ["measure"])

    meas = sa.table("measurements", sa.column("id", sa.Integer), sa.column("node_id", sa.String),
                    sa.column("metric", sa.String), sa.column("split", sa.String), sa.column("dataset", sa.String),
                    sa.column("conditions", sa.JSON), sa.column("measure", sa.String),
                    sa.column("measure_params", sa.JSON), sa.column("floor", sa.JSON))
    nodes = sa.table("nodes", sa.column("id", sa.String), sa.column("attrs", sa.JSON), sa.column("source", sa.JSON))
    bind = op.get_bind()
    rows = bind.execute(sa.select(meas.c.id, meas.c.node_id, meas.c.metric, meas.c.split, meas.c.dataset,
                                  meas.c.conditions)).all()
    node_ids = {r.node_id for r in rows}
    by_id = {}
    ids = list(node_ids)
    for i in range(0, len(ids), 500):
        for n in bind.execute(sa.select(nodes.c.id, nodes.c.attrs, nodes.c.source)
                              .where(nodes.c.id.in_(ids[i:i + 500]))).all():
            by_id[n.id] = n
    run_ids = list({(n.attrs or {}).get("run") for n in by_id.values() if (n.attrs or {}).get("run")})
    for i in range(0, len(run_ids), 500):
        for n in bind.execute(sa.select(nodes.c.id, nodes.c.attrs, nodes.c.source)
                              .where(nodes.c.id.in_(run_ids[i:i + 500]))).all():
            by_id[n.id] = n
    for row in rows:
        node = by_id.get(row.node_id)
        run = by_id.get((node.attrs or {}).get("run")) if node is not None else None
        values = _label(row, node, run)
        if values["measure"] is None and values["conditions"] == dict(row.conditions or {}) \
                and values["metric"] == row.metric:
            continue
        bind.execute(meas.update().where(meas.c.id == row.id).values(**values))


def downgrade() -> None:
    op.drop_index("ix_measurements_measure", table_name="measurements")
    with op.batch_alter_table("measurements") as batch:  # SQLite rebuilds the table
        batch.drop_column("floor")
        batch.drop_column("measure_params")
        batch.drop_column("measure")
