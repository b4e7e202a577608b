"""Stored sentence embeddings and curation decisions.

Why: similarity candidates need vectors that are never recomputed for unchanged text (model + text
hash per vector), and a curator's accept/merge/dismiss must be remembered so a pair does not return.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "embeddings",
        sa.Column("node_id", sa.String(255), sa.ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("model", sa.String(128), primary_key=True),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "curation_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("node_a", sa.String(255), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("node_b", sa.String(255), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("edge_type", sa.String(32), nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_curation_pair", "curation_decisions", ["node_a", "node_b"])


def downgrade() -> None:
    op.drop_table("curation_decisions")
    op.drop_table("embeddings")
