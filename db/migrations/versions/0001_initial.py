"""Initial graph store: nodes, typed edges, measurements.

Why: the foundation every other table hangs off.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("title_norm", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attrs", sa.JSON, nullable=False),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_nodes_kind_title_norm", "nodes", ["kind", "title_norm"])
    op.create_index("ix_nodes_status", "nodes", ["status"])
    op.create_table(
        "edges",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.String(255), sa.ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("target_id", sa.String(255), sa.ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("attrs", sa.JSON, nullable=False),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("source_id", "type", "target_id", name="uq_edges_source_type_target"),
    )
    op.create_index("ix_edges_target", "edges", ["target_id", "type"])
    op.create_index("ix_edges_type", "edges", ["type"])
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("node_id", sa.String(255), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("err", sa.Float, nullable=True),
        sa.Column("err_kind", sa.String(8), nullable=True),
        sa.Column("n", sa.Integer, nullable=True),
        sa.Column("split", sa.String(64), nullable=True),
        sa.Column("dataset", sa.String(128), nullable=True),
        sa.Column("method", sa.String(128), nullable=True),
        sa.Column("conditions", sa.JSON, nullable=False),
        sa.Column("higher_is_better", sa.Boolean, nullable=True),
    )
    op.create_index("ix_measurements_node_id", "measurements", ["node_id"])
    op.create_index("ix_measurements_metric", "measurements", ["metric"])


def downgrade() -> None:
    op.drop_table("measurements")
    op.drop_table("edges")
    op.drop_table("nodes")
